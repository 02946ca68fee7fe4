// LiveQuery through the official Parse JS SDK with a client that does NOT hold the master key: ACL and protected
// fields on events, a revoked session, and the LiveQuery hooks (tests/js/hooks/livequery_hooks.py).
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import Parse from 'parse/node';

const APP_ID = process.env.PARSE_APP_ID;
const SERVER = process.env.PARSE_SERVER_URL;
Parse.initialize(APP_ID); // no master key anywhere in this SDK
Parse.serverURL = SERVER;
Parse.liveQueryServerURL = SERVER.replace(/^http/, 'ws');
Parse.CoreManager.set('REQUEST_ATTEMPT_LIMIT', 1);

const uid = () => randomUUID().replaceAll('-', '').slice(0, 10);

// Setup and writes go over REST with the master key, so the SDK under test never holds it.
async function admin(method, path, body) {
  const res = await fetch(`${SERVER}/${path}`, {
    method,
    headers: {
      'X-Parse-Application-Id': APP_ID,
      'X-Parse-Master-Key': process.env.PARSE_MASTER_KEY,
      'Content-Type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}

function next(emitter, event, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => reject(new Error(`no ${event} event within ${timeoutMs} ms`)), timeoutMs);
    emitter.on(event, (...args) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(args);
    });
  });
}

describe('Parse.LiveQuery without the master key', () => {
  let user;
  before(async () => {
    user = await Parse.User.signUp(`lq_${uid()}`, 'pw-123456');
  });
  after(async () => {
    await Parse.LiveQuery.close();
  });

  it('never delivers ACL-hidden objects or protected fields', async () => {
    const className = `LiveAcl_${uid()}`;
    await admin('POST', `schemas/${className}`, {
      className,
      fields: { bed: { type: 'Number' }, diagnosis: { type: 'String' } },
      classLevelPermissions: {
        find: { '*': true }, get: { '*': true }, create: {}, update: {}, delete: {}, addField: {},
        protectedFields: { '*': ['diagnosis'] },
      },
    });
    const subscription = await new Parse.Query(className).subscribe(user.getSessionToken());
    await subscription.subscribePromise;
    const created = [];
    subscription.on('create', (obj) => created.push(obj));
    const last = next(subscription, 'enter');

    await admin('POST', `classes/${className}`, { bed: 1, diagnosis: 'hidden', ACL: {} });
    const mine = await admin('POST', `classes/${className}`,
      { bed: 2, diagnosis: 'secret', ACL: { [user.id]: { read: true } } });
    // A sentinel that enters after the two creates: by then every earlier event has been sent on this socket.
    const sentinel = await admin('POST', `classes/${className}`, { bed: 3, ACL: {} });
    await admin('PUT', `classes/${className}/${sentinel.objectId}`, { ACL: { '*': { read: true } } });
    const [entered] = await last;
    assert.equal(entered.id, sentinel.objectId);
    assert.deepEqual(created.map((o) => o.id), [mine.objectId]);
    assert.equal(created[0].get('bed'), 2);
    assert.equal(created[0].get('diagnosis'), undefined);
    assert.equal('diagnosis' in created[0].attributes, false);
    await subscription.unsubscribe();
  });

  it('stops delivering to a subscription whose session was logged out', async () => {
    const className = `LiveLogout_${uid()}`;
    await admin('POST', `classes/${className}`, { seed: true }); // create the class
    // Signed up over REST, so the SDK's current user (and its connection) stays the first user.
    const res0 = await fetch(`${SERVER}/users`, {
      method: 'POST',
      headers: { 'X-Parse-Application-Id': APP_ID, 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: `lq_${uid()}`, password: 'pw-123456' }),
    });
    const token = (await res0.json()).sessionToken;
    const query = new Parse.Query(className);
    const withSession = await query.subscribe(token);
    const publicSub = await query.subscribe();
    await Promise.all([withSession.subscribePromise, publicSub.subscribePromise]);

    const first = next(withSession, 'create');
    await admin('POST', `classes/${className}`, { n: 0 });
    assert.equal((await first)[0].get('n'), 0);

    const afterLogout = [];
    withSession.on('create', (obj) => afterLogout.push(obj.get('n')));
    const res = await fetch(`${SERVER}/logout`, {
      method: 'POST', headers: { 'X-Parse-Application-Id': APP_ID, 'X-Parse-Session-Token': token },
    });
    assert.ok(res.ok);
    const seen = [];
    const two = new Promise((resolve) => publicSub.on('create', (obj) => {
      seen.push(obj.get('n'));
      if (seen.includes(2)) resolve();
    }));
    await admin('POST', `classes/${className}`, { n: 1 });
    await admin('POST', `classes/${className}`, { n: 2 });
    await two; // same socket, same order: anything for the logged-out subscription would have come first
    assert.deepEqual(afterLogout, []);
    await withSession.unsubscribe();
    await publicSub.unsubscribe();
  });

  it('a beforeSubscribe refusal reaches the client as an error', async () => {
    // The SDK's subscribe() waits for `subscribed`; the server's `error` for that requestId rejects it instead.
    await assert.rejects(new Parse.Query('LiveRefused').subscribe(),
      (err) => err.code === Parse.Error.OPERATION_FORBIDDEN && /LiveRefused are closed/.test(err.message));
  });

  it('an afterEvent rewrite arrives rewritten, a dropped event not at all', async () => {
    const subscription = await new Parse.Query('LiveRewritten').subscribe();
    await subscription.subscribePromise;
    const got = [];
    const twoEvents = new Promise((resolve) => subscription.on('create', (obj) => {
      got.push(obj);
      if (got.length === 2) resolve();
    }));
    await admin('POST', 'classes/LiveRewritten', { n: 1 });
    await admin('POST', 'classes/LiveRewritten', { n: 2, drop: true });
    await admin('POST', 'classes/LiveRewritten', { n: 3 });
    await twoEvents;
    assert.deepEqual(got.map((o) => o.get('n')), [1, 3]);
    assert.equal(got[0].get('note'), 'rewritten for create');
    await subscription.unsubscribe();
  });
});
