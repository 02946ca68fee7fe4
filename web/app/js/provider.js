// The provider's desk: the patients whose care teams they are on (a plain PatientProfile query: the server
// returns only rows whose ACL names one of their care-team roles), and for one patient (`?patient=<id>`) the
// studies (draft, publish, amend), CPAP use, titration entries, messages (reply) and appointments (schedule).
import { $, announce, field, fill, formatDate, h, showError } from './dom.js';
import { Parse, bindSignOut, call, idFromUrl, requireUser } from './session.js';
import { appointmentItem, messageItem, renderCpap, studyItem, unreadBadge, watch } from './views.js';

let me;
let profile;

function input(attrs) {
  return h('input', attrs);
}

// One submit handler shape for every form: run the save, report the outcome in the form's status line.
function onSave(form, save) {
  const status = h('p', { role: 'status' });
  form.append(status);
  form.onsubmit = async (event) => {
    event.preventDefault();
    fill(status, 'Saving…');
    try {
      await call(save());
      fill(status, 'Saved.');
    } catch (error) {
      showError(status, error);
    }
  };
}

async function renderPatients() {
  const rows = await call(new Parse.Query('PatientProfile').ascending('displayName').limit(500).find());
  const unread = await call(new Parse.Query('Message').equalTo('to', me).equalTo('isRead', false).select('patient')
    .limit(1000).find());
  const perPatient = new Map();
  for (const m of unread) perPatient.set(m.get('patient').id, (perPatient.get(m.get('patient').id) || 0) + 1);
  unreadBadge($('#unread'), unread.length);
  fill($('#patients'), rows.length ? rows.map((p) => {
    const badge = h('span');
    unreadBadge(badge, perPatient.get(p.id) || 0);
    return h('li', {}, h('a', { href: `provider.html?patient=${encodeURIComponent(p.id)}`,
      'aria-current': profile && profile.id === p.id ? 'page' : null }, h('span', { text: p.get('displayName') }),
    ' ', badge));
  }) : h('li', { text: 'No patients on your care teams yet.' }));
}

function studyActions(study) {
  const status = study.get('status');
  if (status === 'draft' || status === 'preliminary') {
    return [h('button', { type: 'button', text: 'Publish final report', onclick: async () => {
      study.set('status', 'final');
      try { await call(study.save()); await renderStudies(); announce('Report published.'); } catch (error) {
        study.revert(); showError($('#notice'), error);
      }
    } })];
  }
  if (status === 'final' || status === 'amended') {
    const text = h('textarea', { rows: 3, maxlength: 10000 });
    text.value = study.get('results') || '';
    const form = h('form', { class: 'stack amend' }, field('Amended findings', text),
      h('button', { type: 'submit', text: 'Amend report' }));
    onSave(form, async () => {
      study.set({ status: 'amended', results: text.value });
      await study.save();
      await renderStudies();
    });
    return [form];
  }
  return [];
}

async function renderStudies() {
  const rows = await call(new Parse.Query('SleepStudy').equalTo('patient', profile).descending('studyDate')
    .limit(50).find());
  fill($('#studies'), rows.length ? rows.map((s) => studyItem(s, studyActions(s))) : h('li', { text: 'No studies.' }));
}

function newStudyForm() {
  const date = input({ type: 'date', required: true });
  const type = input({ maxlength: 200, value: 'Diagnostic polysomnography' });
  const findings = h('textarea', { rows: 3, maxlength: 10000 });
  const form = fill($('#new-study'), field('Study date', date), field('Report type', type),
    field('Findings', findings), h('button', { type: 'submit', text: 'Save draft report' }));
  onSave(form, async () => {
    const study = new Parse.Object('SleepStudy');
    study.set({ patient: profile, status: 'draft', studyDate: new Date(`${date.value}T00:00:00Z`),
      reportType: type.value, results: findings.value });
    await study.save();
    form.reset();
    await renderStudies();
  });
}

async function renderTitrations() {
  const rows = await call(new Parse.Query('TitrationLog').equalTo('patient', profile).descending('logDate')
    .limit(50).find());
  fill($('#titrations'), rows.length ? rows.map((t) => h('li', { class: 'card' },
    `${formatDate(t.get('logDate'))} · ${t.get('pressureAdjustment') || ''} · ${t.get('note') || ''}`))
    : h('li', { text: 'No titration entries.' }));
}

function titrationForm() {
  const date = input({ type: 'date', required: true });
  const adjustment = input({ maxlength: 200, required: true });
  const note = input({ maxlength: 1000 });
  const form = fill($('#new-titration'), field('Titration date', date), field('Pressure adjustment', adjustment),
    field('Note', note), h('button', { type: 'submit', text: 'Add titration entry' }));
  onSave(form, async () => {
    const entry = new Parse.Object('TitrationLog');
    entry.set({ patient: profile, logDate: new Date(`${date.value}T00:00:00Z`), pressureAdjustment: adjustment.value,
      note: note.value });
    await entry.save();
    form.reset();
    await renderTitrations();
  });
}

async function markRead(message) {
  message.set('isRead', true);
  try { await call(message.save()); await renderMessages(); await renderPatients(); } catch (error) {
    showError($('#notice'), error);
  }
}

async function renderMessages() {
  const rows = await call(Parse.Query.or(new Parse.Query('Message').equalTo('to', me),
    new Parse.Query('Message').equalTo('from', me)).equalTo('patient', profile).descending('createdAt').limit(50)
    .find());
  fill($('#messages'), rows.length ? rows.map((m) => messageItem(m, me, markRead)) : h('li', { text: 'No messages.' }));
}

function replyForm() {
  const body = h('textarea', { rows: 3, maxlength: 10000, required: true });
  const form = fill($('#reply'), field(`Message to ${profile.get('displayName')}`, body),
    h('button', { type: 'submit', text: 'Send message' }));
  onSave(form, async () => {
    const message = new Parse.Object('Message');
    message.set({ patient: profile, to: profile.get('user'), body: body.value });
    await message.save();
    body.value = '';
    await renderMessages();
  });
}

async function renderAppointments() {
  const rows = await call(new Parse.Query('Appointment').equalTo('patient', profile).ascending('startAt')
    .limit(50).find());
  fill($('#appointments'), rows.length ? rows.map(appointmentItem) : h('li', { text: 'No appointments.' }));
}

function appointmentForm() {
  const start = input({ type: 'datetime-local', required: true });
  const minutes = input({ type: 'number', min: 5, max: 1440, value: 45, required: true });
  const location = input({ maxlength: 200 });
  const reason = input({ maxlength: 500 });
  const form = fill($('#new-appointment'), field('Starts at', start), field('Length in minutes', minutes),
    field('Location', location), field('Reason', reason), h('button', { type: 'submit', text: 'Schedule' }));
  onSave(form, async () => {
    const startAt = new Date(start.value);
    const appt = new Parse.Object('Appointment');
    appt.set({ patient: profile, provider: me, startAt, endAt: new Date(startAt.getTime() + Number(minutes.value) * 60000),
      location: location.value, reason: reason.value, status: 'scheduled' });
    await appt.save();
    await renderAppointments();
  });
}

async function openPatient(id) {
  try {
    profile = await call(Parse.Object.extend('PatientProfile').createWithoutData(id).fetch());
  } catch (error) {
    if (error.code !== Parse.Error.OBJECT_NOT_FOUND) throw error;
    fill($('#notice'), h('p', { class: 'error', role: 'alert', text: 'No patient record is available here.' }));
    return;
  }
  fill($('#notice'), h('h2', { 'data-testid': 'patient-name', text: profile.get('displayName') }),
    h('p', { text: `Record ${profile.get('medicalRecordNumber') || '—'}, born ${formatDate(profile.get('dateOfBirth')) || '—'}` }));
  for (const section of document.querySelectorAll('#patient section')) section.hidden = false;
  newStudyForm();
  titrationForm();
  replyForm();
  appointmentForm();
  await Promise.all([renderStudies(), renderTitrations(), renderMessages(), renderAppointments(),
    renderCpap($('#cpap'), profile.id)]);
}

async function start() {
  bindSignOut();
  me = await requireUser();
  const id = idFromUrl('patient');
  if (id) await openPatient(id);
  await renderPatients();
  await watch(new Parse.Query('Message').equalTo('to', me), async () => {
    await renderPatients();
    if (profile) await renderMessages();
    announce('New message.');
  });
  document.body.dataset.live = 'ready';
}

start().catch((error) => showError($('#notice'), error));
