// The sleep-lab application through the official Parse JS SDK, acting as patient A, patient B, a provider on A's
// care team, one outside it, and an admin. The client never holds the master key: only the bootstrap admin account
// is made with it, over plain REST. Run by tests/e2e/test_js_sdk.py against `serve --cloud hooks` on the shipped
// schema (SLEEPLAB_APP_SUITE=1); the generic SDK run (another schema, other hooks) skips this file.
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import Parse from 'parse/node';

const ENABLED = process.env.SLEEPLAB_APP_SUITE === '1';
Parse.initialize(process.env.PARSE_APP_ID);
Parse.serverURL = process.env.PARSE_SERVER_URL;
Parse.liveQueryServerURL = process.env.PARSE_SERVER_URL.replace(/^http/, 'ws');
Parse.CoreManager.set('REQUEST_ATTEMPT_LIMIT', 1);

const uid = () => randomUUID().replaceAll('-', '').slice(0, 8);
const as = (who) => ({ sessionToken: who.token });

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

function next(subscription, events, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${events} event within ${timeoutMs} ms`)), timeoutMs);
    let done = false;
    for (const event of events) {
      subscription.on(event, (obj) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ event, obj });
      });
    }
  });
}

async function bootstrapAdmin(username) {
  // The one step that needs the master key: the first Admin account, made over REST as an operator would.
  const res = await fetch(`${process.env.PARSE_SERVER_URL}/functions/createStaffAccount`, {
    method: 'POST',
    headers: { 'X-Parse-Application-Id': process.env.PARSE_APP_ID, 'X-Parse-Master-Key': process.env.PARSE_MASTER_KEY,
      'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password: 'pw-123456', role: 'Admin' }),
  });
  assert.equal(res.status, 200, await res.text());
}

async function logIn(username) {
  const user = await Parse.User.logIn(username, 'pw-123456');
  return { id: user.id, token: user.getSessionToken(), user };
}

async function signUpPatient(name) {
  const user = new Parse.User({ username: `${name}_${uid()}`, password: 'pw-123456' });
  await user.save();
  const who = { id: user.id, token: user.getSessionToken(), user };
  const profile = await new Parse.Object('PatientProfile').save({ displayName: name }, as(who));
  return { ...who, profile };
}

const pointerTo = (profile) => Parse.Object.extend('PatientProfile').createWithoutData(profile.id);

describe('sleep-lab application', { skip: !ENABLED && 'run by tests/e2e/test_js_sdk.py with the shipped hooks' }, () => {
  let admin; let drIn; let drOut; let patientA; let patientB;

  before(async () => {
    const adminName = `admin_${uid()}`;
    await bootstrapAdmin(adminName);
    admin = await logIn(adminName);
    const providers = await Parse.Cloud.run('createStaffAccount', { username: `dr_${uid()}`, password: 'pw-123456',
      role: 'Provider' }, as(admin));
    drIn = await logIn(providers.username);
    const other = await Parse.Cloud.run('createStaffAccount', { username: `dr_${uid()}`, password: 'pw-123456',
      role: 'Provider' }, as(admin));
    drOut = await logIn(other.username);
    patientA = await signUpPatient('Patient A');
    patientB = await signUpPatient('Patient B');
    await Parse.Cloud.run('addToCareTeam', { patientId: patientA.profile.id, providerId: drIn.id }, as(admin));
    await Parse.Cloud.run('addToCareTeam', { patientId: patientB.profile.id, providerId: drOut.id }, as(admin));
  });

  after(async () => {
    await Parse.LiveQuery.close();
  });

  it('with only the app id, every clinical class answers a permission error', async () => {
    for (const name of ['PatientProfile', 'SleepStudy', 'SleepStudyVersion', 'CPAPLog', 'TitrationLog', 'Message',
      'Appointment']) {
      await assert.rejects(new Parse.Query(name).find(), (err) => [101, 119].includes(err.code), name);
    }
  });

  it('patients and providers see only their own patients; staff accounts are admin-only', async () => {
    const mine = await new Parse.Query('PatientProfile').find(as(patientA));
    assert.deepEqual(mine.map((p) => p.id), [patientA.profile.id]);
    await rejectsWith(new Parse.Query('PatientProfile').get(patientA.profile.id, as(patientB)), 101);
    const team = await new Parse.Query('PatientProfile').find(as(drIn));
    assert.deepEqual(team.map((p) => p.id), [patientA.profile.id]);
    await rejectsWith(new Parse.Query('PatientProfile').get(patientA.profile.id, as(drOut)), 101);
    await rejectsWith(Parse.Cloud.run('createStaffAccount', { username: `x_${uid()}`, password: 'pw-123456',
      role: 'Admin' }, as(patientA)), 119);
    await rejectsWith(Parse.Cloud.run('addToCareTeam', { patientId: patientA.profile.id, providerId: drOut.id },
      as(drOut)), 119);
    await rejectsWith(new Parse.Query('SleepStudy').find(as(admin)), 119); // admins manage accounts, not records
  });

  it('studies are versioned; a final one reaches the patient over LiveQuery; history for readers only', async () => {
    const subscription = await new Parse.Query('SleepStudy').subscribe(patientA.token);
    await subscription.subscribePromise;
    const study = await new Parse.Object('SleepStudy').save({ patient: pointerTo(patientA.profile),
      studyDate: new Date('2026-03-01T22:00:00Z'), results: 'AHI 18', status: 'preliminary', reportType: 'PSG',
      sleepData: { ahi: 18, rdi: 21, odi: 12, sleepEfficiency: 0.81, tstMinutes: 380 } }, as(drIn));
    await rejectsWith(new Parse.Query('SleepStudy').get(study.id, as(patientA)), 101); // not final yet
    await rejectsWith(study.save({ status: 'final' }, as(drOut)), 101);
    const published = next(subscription, ['enter', 'create', 'update']);
    await study.save({ status: 'final' }, as(drIn));
    const { obj } = await published;
    assert.equal(obj.id, study.id);
    assert.equal(obj.get('status'), 'final');
    assert.equal(obj.get('version'), 2);
    await rejectsWith(study.save({ results: 'AHI 19' }, as(drIn)), 142);
    await study.save({ results: 'AHI 19', status: 'amended' }, as(drIn));
    const history = await Parse.Cloud.run('studyHistory', { studyId: study.id }, as(patientA));
    assert.deepEqual(history.map((h) => [h.version, h.status]), [[1, 'preliminary'], [2, 'final'], [3, 'amended']]);
    await rejectsWith(Parse.Cloud.run('studyHistory', { studyId: study.id }, as(patientB)), 101);
    await rejectsWith(Parse.Cloud.run('studyHistory', { studyId: study.id }, as(drOut)), 101);
    await subscription.unsubscribe();
  });

  it('messages: sender is the caller, only the recipient reads and marks read, live to the patient', async () => {
    const subA = await new Parse.Query('Message').subscribe(patientA.token);
    const subB = await new Parse.Query('Message').subscribe(patientB.token);
    await Promise.all([subA.subscribePromise, subB.subscribePromise]);
    const toA = next(subA, ['create']);
    const toB = next(subB, ['create']);
    const msg = await new Parse.Object('Message').save({ patient: pointerTo(patientA.profile), to: patientA.user,
      body: 'Your results are in', conversationId: 'thread-a' }, as(drIn));
    const { obj } = await toA;
    assert.equal(obj.id, msg.id);
    assert.equal(obj.get('from').id, drIn.id);
    // Patient B's first event is B's own message, never A's.
    const forB = await new Parse.Object('Message').save({ patient: pointerTo(patientB.profile), to: patientB.user,
      body: 'Hello B', conversationId: 'thread-b' }, as(drOut));
    assert.equal((await toB).obj.id, forB.id);
    await rejectsWith(new Parse.Query('Message').get(msg.id, as(patientB)), 101);
    await rejectsWith(new Parse.Query('Message').get(msg.id, as(drOut)), 101);
    await rejectsWith(new Parse.Object('Message').save({ patient: pointerTo(patientA.profile), to: drOut.user, body: 'hi', conversationId: 'x' }, as(patientA)), 142);
    await rejectsWith(msg.save({ isRead: true }, as(drIn)), 101); // the sender holds no write access
    const read = await new Parse.Query('Message').get(msg.id, as(patientA));
    await read.save({ isRead: true }, as(patientA));
    assert.ok(read.get('readAt') instanceof Date);
    await subA.unsubscribe();
    await subB.unsubscribe();
  });

  it('CPAP logs only for oneself; compliance for readers only', async () => {
    for (let i = 0; i < 30; i += 1) {
      await new Parse.Object('CPAPLog').save({ patient: pointerTo(patientA.profile),
        nightDate: new Date(Date.UTC(2026, 0, 1 + i)), usageMinutes: i % 4 === 0 ? 120 : 330, ahi: 6 }, as(patientA));
    }
    await rejectsWith(new Parse.Object('CPAPLog').save({ patient: pointerTo(patientB.profile),
      nightDate: new Date(Date.UTC(2026, 0, 1)), usageMinutes: 400 }, as(patientA)), 119);
    const result = await Parse.Cloud.run('cpapCompliance', { patientId: patientA.profile.id, from: '2026-01-01',
      to: '2026-01-30' }, as(drIn));
    assert.equal(result.nights, 30);
    assert.equal(result.bestWindow.nightsOver4h, 22);
    assert.equal(result.adherent, true);
    await rejectsWith(Parse.Cloud.run('cpapCompliance', { patientId: patientA.profile.id }, as(patientB)), 101);
    await rejectsWith(new Parse.Object('TitrationLog').save({ patient: pointerTo(patientA.profile),
      logDate: new Date(), pressureAdjustment: '+1', note: 'n' }, as(patientA)), 119);
    await new Parse.Object('TitrationLog').save({ patient: pointerTo(patientA.profile), logDate: new Date(),
      pressureAdjustment: '+1', note: 'n' }, as(drIn));
  });

  it('appointments: no double-booking, even from two clients at once; the patient sees their own', async () => {
    const book = (minute) => new Parse.Object('Appointment').save({ patient: pointerTo(patientA.profile),
      startAt: new Date(`2026-06-01T09:${minute}:00Z`), endAt: new Date('2026-06-01T10:00:00Z'), status: 'scheduled' },
    as(drIn));
    const results = await Promise.allSettled([book('00'), book('15')]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.equal(results.find((r) => r.status === 'rejected').reason.code, 142);
    await rejectsWith(new Parse.Object('Appointment').save({ patient: pointerTo(patientA.profile),
      startAt: new Date('2026-06-02T10:00:00Z'), endAt: new Date('2026-06-02T09:00:00Z') }, as(drIn)), 142);
    const mine = await new Parse.Query('Appointment').find(as(patientA));
    assert.equal(mine.length, 1);
    assert.deepEqual(await new Parse.Query('Appointment').find(as(patientB)), []);
  });
});
