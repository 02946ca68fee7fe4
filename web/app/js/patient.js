// The patient's own record: profile, published studies with their versions, 90 nights of CPAP use with the
// verdict, messages (unread badge, live), appointments. `?patient=<profile id>` only picks which profile to ask
// the server for; another patient's id gets the server's 101 and the page shows nothing.
import { $, announce, field, fill, formatDate, h, showError } from './dom.js';
import { Parse, bindSignOut, call, idFromUrl, requireUser } from './session.js';
import { appointmentItem, messageItem, renderCpap, studyItem, unreadBadge, watch } from './views.js';

let me;
let profile;

async function loadProfile() {
  const wanted = idFromUrl('patient');
  if (!wanted) return call(new Parse.Query('PatientProfile').equalTo('user', me).first());
  try {
    // A plain GET of that row: the server answers 101 unless its ACL lets this user read it.
    return await call(Parse.Object.extend('PatientProfile').createWithoutData(wanted).fetch());
  } catch (error) {
    if (error.code === Parse.Error.OBJECT_NOT_FOUND) return null;
    throw error;
  }
}

function showNoRecord() {
  for (const section of document.querySelectorAll('main section')) section.hidden = true;
  fill($('#notice'), h('p', { class: 'error', role: 'alert', text: 'No patient record is available here.' }));
}

async function renderStudies() {
  const rows = await call(new Parse.Query('SleepStudy').equalTo('patient', profile).descending('studyDate')
    .limit(20).find());
  fill($('#studies'), rows.length ? rows.map((s) => studyItem(s)) : h('li', { text: 'No reports yet.' }));
}

async function markRead(message) {
  message.set('isRead', true);
  try {
    await call(message.save());
    await renderMessages();
  } catch (error) {
    showError($('#notice'), error);
  }
}

async function renderMessages() {
  const toMe = new Parse.Query('Message').equalTo('to', me);
  const fromMe = new Parse.Query('Message').equalTo('from', me);
  const rows = await call(Parse.Query.or(toMe, fromMe).equalTo('patient', profile).descending('createdAt')
    .limit(50).find());
  unreadBadge($('#unread'), rows.filter((m) => m.get('to').id === me.id && !m.get('isRead')).length);
  fill($('#messages'), rows.length ? rows.map((m) => messageItem(m, me, markRead)) : h('li', { text: 'No messages.' }));
}

async function renderCompose() {
  const team = await call(Parse.Cloud.run('careTeam', { patientId: profile.id }));
  if (!team.length) return;
  const to = h('select', { name: 'to' }, team.map((p) => h('option', { value: p.objectId,
    text: p.displayName || p.username })));
  const body = h('textarea', { name: 'body', rows: 3, maxlength: 10000, required: true });
  const status = h('p', { role: 'status' });
  fill($('#compose'), field('To', to), field('Message to my care team', body),
    h('button', { type: 'submit', text: 'Send' }), status);
  $('#compose').onsubmit = async (event) => {
    event.preventDefault();
    if (!body.value.trim()) return;
    const message = new Parse.Object('Message');
    message.set({ patient: profile, to: Parse.User.createWithoutData(to.value), body: body.value });
    try {
      await call(message.save());
      body.value = '';
      fill(status, 'Sent.');
      await renderMessages();
    } catch (error) {
      showError(status, error);
    }
  };
}

async function renderAppointments() {
  const rows = await call(new Parse.Query('Appointment').equalTo('patient', profile).ascending('startAt')
    .limit(50).find());
  fill($('#appointments'), rows.length ? rows.map(appointmentItem) : h('li', { text: 'No appointments.' }));
}

function renderProfile() {
  fill($('#profile'), h('dl', { class: 'facts' },
    h('dt', { text: 'Name' }), h('dd', { 'data-testid': 'patient-name', text: profile.get('displayName') }),
    h('dt', { text: 'Record number' }), h('dd', { text: profile.get('medicalRecordNumber') || '—' }),
    h('dt', { text: 'Date of birth' }), h('dd', { text: formatDate(profile.get('dateOfBirth')) || '—' })));
}

async function start() {
  bindSignOut();
  me = await requireUser();
  try {
    profile = await loadProfile();
  } catch (error) {
    showError($('#notice'), error);
    return;
  }
  if (!profile) {
    showNoRecord();
    return;
  }
  renderProfile();
  await Promise.all([renderStudies(), renderMessages(), renderAppointments(), renderCompose(),
    renderCpap($('#cpap'), profile.id)]);
  // Live: a report reaches the patient as an `enter` when it is published; a message as a `create`.
  await watch(new Parse.Query('SleepStudy').equalTo('patient', profile), async () => {
    await renderStudies();
    announce('Your sleep study reports were updated.');
  });
  await watch(new Parse.Query('Message').equalTo('to', me), async () => {
    await renderMessages();
    announce('You have a new message.');
  });
  document.body.dataset.live = 'ready';
}

start().catch((error) => showError($('#notice'), error));
