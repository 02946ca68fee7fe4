// Security model through the official Parse JS SDK: users, sessions, ACLs, roles, CLPs, protected fields.
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import Parse from 'parse/node';

Parse.initialize(process.env.PARSE_APP_ID, undefined, process.env.PARSE_MASTER_KEY);
Parse.serverURL = process.env.PARSE_SERVER_URL;
Parse.CoreManager.set('REQUEST_ATTEMPT_LIMIT', 1);
Parse.User.enableUnsafeCurrentUser();

const MK = { useMasterKey: true };
const uid = () => randomUUID().replaceAll('-', '').slice(0, 10);

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

async function newUser(prefix) {
  const user = new Parse.User();
  user.set('username', `${prefix}_${uid()}`);
  user.set('password', 'pw-123456');
  user.set('email', `${prefix}_${uid()}@clinic.example`);
  // save() of a new user signs it up without making it the current user (logOut would revoke the token).
  await user.save();
  const token = user.getSessionToken();
  assert.match(token, /^r:/);
  return { user, token };
}

describe('users and sessions', () => {
  it('signUp, current, logIn, become, logOut', async () => {
    const name = `ada_${uid()}`;
    const user = await Parse.User.signUp(name, 'pw-123456', { email: `${name}@clinic.example` });
    assert.match(user.getSessionToken(), /^r:[0-9a-f]{32}$/);
    assert.equal(Parse.User.current().id, user.id);
    await Parse.User.logOut();
    assert.equal(Parse.User.current(), null);
    const again = await Parse.User.logIn(name, 'pw-123456');
    assert.equal(again.id, user.id);
    assert.equal(again.get('email'), `${name}@clinic.example`);
    const token = again.getSessionToken();
    await Parse.User.logOut();
    const became = await Parse.User.become(token).catch((e) => e);
    assert.equal(became.code, 209, 'logOut revokes the session');
    const fresh = await Parse.User.logIn(name, 'pw-123456');
    const same = await Parse.User.become(fresh.getSessionToken());
    assert.equal(same.id, user.id);
    await Parse.User.logOut();
  });

  it('wrong password and unknown user give the same error', async () => {
    const { user } = await newUser('bea');
    const a = await Parse.User.logIn(user.getUsername(), 'wrong').catch((e) => e);
    const b = await Parse.User.logIn(`nobody_${uid()}`, 'wrong').catch((e) => e);
    assert.equal(a.code, 101);
    assert.deepEqual([a.code, a.message], [b.code, b.message]);
  });

  it('duplicate usernames are refused with 202', async () => {
    const { user } = await newUser('cid');
    const dup = new Parse.User({ username: user.getUsername().toUpperCase(), password: 'x' });
    await rejectsWith(dup.signUp(), 202);
  });

  it('another user cannot update a user', async () => {
    const { user: victim } = await newUser('vic');
    const { token } = await newUser('eve');
    const target = Parse.User.createWithoutData(victim.id);
    target.set('nickname', 'pwned');
    await assert.rejects(target.save(null, { sessionToken: token }));
    const check = await new Parse.Query(Parse.User).get(victim.id, MK);
    assert.equal(check.get('nickname'), undefined);
  });

  it('the session object is visible to its owner', async () => {
    const { token, user } = await newUser('ses');
    const session = await Parse.Session.current({ sessionToken: token }).catch(async () => {
      return (await new Parse.Query(Parse.Session).find({ sessionToken: token }))[0];
    });
    assert.equal(session.getSessionToken(), token);
    assert.equal(session.get('user').id, user.id);
  });
});

describe('ACLs and roles', () => {
  let owner;
  let other;
  before(async () => {
    owner = await newUser('own');
    other = await newUser('oth');
    // Client class creation is off (the default): the classes exist before clients write to them.
    await new Parse.Object('SecNote').save({ text: 'seed' }, MK);
  });

  it('ACL round trip and a second user cannot read, update or delete', async () => {
    const note = new Parse.Object('SecNote');
    const acl = new Parse.ACL(owner.user);
    note.setACL(acl);
    note.set('text', 'private');
    await note.save(null, { sessionToken: owner.token });
    const fetched = await new Parse.Query('SecNote').get(note.id, { sessionToken: owner.token });
    assert.equal(fetched.getACL().getReadAccess(owner.user.id), true);
    assert.equal(fetched.getACL().getPublicReadAccess(), false);
    await rejectsWith(new Parse.Query('SecNote').get(note.id, { sessionToken: other.token }), 101);
    const list = await new Parse.Query('SecNote').equalTo('objectId', note.id).find({ sessionToken: other.token });
    assert.equal(list.length, 0);
    const hijack = Parse.Object.fromJSON({ className: 'SecNote', objectId: note.id });
    hijack.set('text', 'hacked');
    await rejectsWith(hijack.save(null, { sessionToken: other.token }), 101);
    await rejectsWith(hijack.destroy({ sessionToken: other.token }), 101);
    const still = await new Parse.Query('SecNote').get(note.id, MK);
    assert.equal(still.get('text'), 'private');
  });

  it('Parse.Role round trip and role inheritance grants access', async () => {
    const suffix = uid();
    const clinicians = new Parse.Role(`clinician_${suffix}`, new Parse.ACL());
    clinicians.getUsers().add(other.user);
    await clinicians.save(null, MK);
    const staff = new Parse.Role(`staff_${suffix}`, new Parse.ACL());
    staff.getRoles().add(clinicians);
    await staff.save(null, MK);
    const loaded = await new Parse.Query(Parse.Role).equalTo('name', `staff_${suffix}`).first(MK);
    assert.equal(loaded.getName(), `staff_${suffix}`);
    const members = await loaded.getRoles().query().find(MK);
    assert.deepEqual(members.map((r) => r.getName()), [`clinician_${suffix}`]);

    const chart = new Parse.Object('SecChart');
    const acl = new Parse.ACL();
    acl.setRoleReadAccess(`staff_${suffix}`, true);
    chart.setACL(acl);
    await chart.save({ summary: 'AHI 31' }, MK);
    const seen = await new Parse.Query('SecChart').get(chart.id, { sessionToken: other.token });
    assert.equal(seen.get('summary'), 'AHI 31');
    await rejectsWith(new Parse.Query('SecChart').get(chart.id, { sessionToken: owner.token }), 101);
  });
});

describe('class-level permissions', () => {
  it('CLP denial and protected fields', async () => {
    const className = `SecRecord_${uid()}`;
    const schema = new Parse.Schema(className);
    schema.addString('mrn').addString('title');
    schema.setCLP({
      find: { '*': true }, get: { '*': true }, count: { '*': true }, create: {}, update: {}, delete: {},
      addField: {}, protectedFields: { '*': ['mrn'] },
    });
    await schema.save();
    const { token } = await newUser('clp');
    const row = new Parse.Object(className);
    await row.save({ mrn: 'M-7', title: 'night 1' }, MK);
    const visible = await new Parse.Query(className).get(row.id, { sessionToken: token });
    assert.equal(visible.get('title'), 'night 1');
    assert.equal(visible.get('mrn'), undefined);
    await rejectsWith(new Parse.Query(className).equalTo('mrn', 'M-7').find({ sessionToken: token }), 119);
    await rejectsWith(new Parse.Object(className).save({ title: 'x' }, { sessionToken: token }), 119);
    const master = await new Parse.Query(className).get(row.id, MK);
    assert.equal(master.get('mrn'), 'M-7');
  });
});
