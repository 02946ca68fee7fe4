// Pieces both views show: a study with its versions, a message line, an appointment line, the CPAP section.
import { fill, formatDate, formatDateTime, h, showError } from './dom.js';
import { usageChart } from './chart.js';
import { Parse, call } from './session.js';

export function studyItem(study, extraActions = []) {
  const versions = h('div', { class: 'versions' });
  const toggle = h('button', { type: 'button', class: 'link', 'aria-expanded': 'false',
    text: `Versions (${study.get('version') || 1})` });
  toggle.addEventListener('click', async () => {
    if (toggle.getAttribute('aria-expanded') === 'true') {
      toggle.setAttribute('aria-expanded', 'false');
      fill(versions);
      return;
    }
    toggle.setAttribute('aria-expanded', 'true');
    try {
      const history = await call(Parse.Cloud.run('studyHistory', { studyId: study.id }));
      fill(versions, h('ol', {}, history.map((v) => h('li', {},
        `v${v.version} · ${v.status}${v.current ? ' (current)' : ''} · ${v.results || ''}`))));
    } catch (error) {
      showError(versions, error);
    }
  });
  return h('li', { class: 'card', 'data-study': study.id, 'data-status': study.get('status') },
    h('h4', {}, `${formatDate(study.get('studyDate'))} · ${study.get('reportType') || 'Sleep study'}`),
    h('p', {}, h('span', { class: `status ${study.get('status')}`, text: study.get('status') }),
      ` version ${study.get('version') || 1}`),
    h('p', { class: 'results', text: study.get('results') || '' }),
    h('div', { class: 'actions' }, toggle, ...extraActions),
    versions);
}

export function messageItem(message, me, onRead) {
  const toMe = message.get('to') && message.get('to').id === me.id;
  const unread = toMe && !message.get('isRead');
  const actions = [];
  if (unread) {
    actions.push(h('button', { type: 'button', text: 'Mark as read', onclick: () => onRead(message) }));
  }
  return h('li', { class: unread ? 'card unread' : 'card', 'data-message': message.id },
    h('p', { class: 'meta' }, `${toMe ? 'Received' : 'Sent'} ${formatDateTime(message.get('sentAt') || message.createdAt)}`,
      unread ? h('span', { class: 'tag', text: 'new' }) : null),
    h('p', { class: 'body', text: message.get('body') }),
    ...actions);
}

export function appointmentItem(appt) {
  return h('li', { class: 'card', 'data-appointment': appt.id },
    h('p', {}, h('strong', { text: formatDateTime(appt.get('startAt')) }), ` – ${formatDateTime(appt.get('endAt'))}`),
    h('p', { text: [appt.get('status'), appt.get('location'), appt.get('reason')].filter(Boolean).join(' · ') }));
}

export async function renderCpap(where, profileId) {
  fill(where, h('p', { text: 'Loading CPAP usage…' }));
  try {
    // The 90 nights up to the latest upload (a device that has not synced for a while still shows its data).
    const latest = await call(new Parse.Query('CPAPLog').equalTo('patient', Parse.Object.extend('PatientProfile')
      .createWithoutData(profileId)).descending('nightDate').select('nightDate').first());
    const params = { patientId: profileId };
    if (latest) params.to = latest.get('nightDate').toISOString().slice(0, 10);
    const result = await call(Parse.Cloud.run('cpapCompliance', params));
    fill(where, usageChart(result));
  } catch (error) {
    showError(where, error);
  }
}

export function unreadBadge(where, count) {
  fill(where, count ? h('span', { class: 'badge', 'aria-label': `${count} unread`, text: String(count) }) : null);
}

// LiveQuery: `handler` runs on every event that may change what the list shows.
export async function watch(query, handler) {
  const subscription = await query.subscribe();
  for (const event of ['create', 'update', 'enter', 'leave', 'delete']) subscription.on(event, handler);
  return subscription;
}
