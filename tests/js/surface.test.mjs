// The rest of the REST surface through the official Parse JS SDK: Config, aggregate, distinct, Installation,
// idempotent retries, verifyPassword, logInAs.
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import Parse from 'parse/node';

Parse.initialize(process.env.PARSE_APP_ID, undefined, process.env.PARSE_MASTER_KEY);
Parse.serverURL = process.env.PARSE_SERVER_URL;
Parse.CoreManager.set('REQUEST_ATTEMPT_LIMIT', 1);

const MK = { useMasterKey: true };
const uid = () => randomUUID().replaceAll('-', '').slice(0, 10);

describe('Parse.Config', () => {
  it('save and get round trip, master-only keys hidden', async () => {
    const launch = new Date('2026-02-03T04:05:06.000Z');
    await Parse.Config.save({ welcome: 'hello', maxNights: 30, launch, apiSecret: 'x' }, { apiSecret: true });
    const config = await Parse.Config.get();
    assert.equal(config.get('welcome'), 'hello');
    assert.equal(config.get('maxNights'), 30);
    assert.ok(config.get('launch') instanceof Date);
    assert.equal(config.get('launch').toISOString(), launch.toISOString());
    assert.equal(config.get('apiSecret'), undefined);
    const master = await Parse.Config.get(MK);
    assert.equal(master.get('apiSecret'), 'x');
  });
});

describe('aggregate and distinct', () => {
  const className = `Agg_${uid()}`;
  before(async () => {
    const rows = [['a', 1], ['a', 2], ['b', 5], ['c', 7]];
    for (const [group, n] of rows) {
      await new Parse.Object(className).save({ group, n }, MK);
    }
  });

  it('query.aggregate() with $group and $sort', async () => {
    const pipeline = [{ $group: { _id: '$group', total: { $sum: '$n' } } }, { $sort: { total: -1 } }];
    const results = await new Parse.Query(className).aggregate(pipeline);
    assert.deepEqual(results.map((r) => [r.objectId, r.total]), [['c', 7], ['b', 5], ['a', 3]]);
  });

  it('query.aggregate() with a where becomes a leading $match', async () => {
    const query = new Parse.Query(className).greaterThan('n', 1);
    const results = await query.aggregate([{ $count: 'total' }]);
    assert.deepEqual(results, [{ total: 3 }]);
  });

  it('query.distinct()', async () => {
    const values = await new Parse.Query(className).distinct('group');
    assert.deepEqual([...values].sort(), ['a', 'b', 'c']);
    const filtered = await new Parse.Query(className).lessThan('n', 3).distinct('group');
    assert.deepEqual(filtered, ['a']);
  });
});

describe('Parse.Installation', () => {
  it('save and fetch', async () => {
    const installation = new Parse.Installation();
    installation.set('installationId', randomUUID());
    installation.set('deviceType', 'ios');
    installation.set('channels', ['night-shift']);
    await installation.save();
    assert.ok(installation.id);
    const fetched = await new Parse.Installation({ objectId: installation.id }).fetch();
    assert.deepEqual(fetched.get('channels'), ['night-shift']);
    await assert.rejects(new Parse.Query(Parse.Installation).find(), (err) => err.code === 119);
  });
});

describe('idempotency', () => {
  it('a retried save with the same request id creates one object', async () => {
    const className = `Idem_${uid()}`;
    await new Parse.Object(className).save({ seed: true }, MK);
    // The SDK reuses one X-Parse-Request-Id for every retry of a request; pinning the header replays that retry.
    Parse.CoreManager.set('REQUEST_HEADERS', { 'X-Parse-Request-Id': `retry-${uid()}` });
    try {
      await new Parse.Object(className).save({ n: 1 });
      await assert.rejects(new Parse.Object(className).save({ n: 1 }), (err) => err.code === 159);
    } finally {
      Parse.CoreManager.set('REQUEST_HEADERS', {});
    }
    const count = await new Parse.Query(className).equalTo('n', 1).count(MK);
    assert.equal(count, 1);
  });
});

describe('users', () => {
  it('Parse.User.verifyPassword and Parse.User.loginAs', async () => {
    const name = `vp_${uid()}`;
    const user = new Parse.User({ username: name, password: 'pw-123456' });
    await user.save();
    const verified = await Parse.User.verifyPassword(name, 'pw-123456');
    assert.equal(verified.objectId, user.id); // the SDK resolves with the raw user JSON
    await assert.rejects(Parse.User.verifyPassword(name, 'nope'), (err) => err.code === 101);
    const as = await Parse.User.loginAs(user.id);
    assert.equal(as.id, user.id);
    assert.match(as.getSessionToken(), /^r:/);
  });
});
