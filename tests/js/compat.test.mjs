// Compatibility suite: drives a live sleeplab server with the official Parse JS SDK (pinned in package.json).
//
// Run through pytest (tests/e2e/test_js_sdk.py starts the server), or by hand against a running server:
//   PARSE_SERVER_URL=http://127.0.0.1:1337/parse PARSE_APP_ID=sleeplab PARSE_MASTER_KEY=... node --test tests/js/
// Set COMPAT_LOG_REQUESTS=1 to print every request the SDK sends and what came back (on stderr).
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

// The package's "exports" map only exposes the Node build as "parse/node" ("parse/node.js" is not exported).
import Parse from 'parse/node';

const SERVER_URL = process.env.PARSE_SERVER_URL;
const APP_ID = process.env.PARSE_APP_ID;
const MASTER_KEY = process.env.PARSE_MASTER_KEY;
if (!SERVER_URL || !APP_ID || !MASTER_KEY) {
  throw new Error('set PARSE_SERVER_URL, PARSE_APP_ID and PARSE_MASTER_KEY');
}

Parse.initialize(APP_ID, undefined, MASTER_KEY);
Parse.serverURL = SERVER_URL;
Parse.CoreManager.set('REQUEST_ATTEMPT_LIMIT', 1);

if (process.env.COMPAT_LOG_REQUESTS) {
  const rest = Parse.CoreManager.getRESTController();
  Parse.CoreManager.setRESTController({
    ...rest,
    request(method, path, data, options) {
      const sent = `${method} ${path} ${JSON.stringify(data)}`;
      return rest.request(method, path, data, options).then(
        (response) => {
          console.error(`>> ${sent}\n<< ${JSON.stringify(response)}`);
          return response;
        },
        (error) => {
          console.error(`>> ${sent}\n<< ERROR ${error.code} ${error.message}`);
          throw error;
        },
      );
    },
  });
}

const MK = { useMasterKey: true };

/** A class name nobody else uses; the master key creates the class on first save. */
const uniqueClass = (prefix = 'Compat') => `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;

/** Saves rows one by one (so a batch bug cannot break unrelated tests); returns the saved objects by name. */
async function seed(className, rows) {
  const byName = {};
  for (const attrs of rows) {
    const obj = new Parse.Object(className);
    byName[attrs.name] = await obj.save(attrs, MK);
  }
  return byName;
}

const names = (objects) => objects.map((o) => o.get('name')).sort();
const orderedNames = (objects) => objects.map((o) => o.get('name'));

async function rejectsWithCode(promise, code) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof Parse.Error, `expected a Parse.Error, got ${error}`);
    assert.equal(error.code, code, `expected code ${code}, got ${error.code}: ${error.message}`);
    return true;
  });
}

/** Reads the object back from the server (never the SDK's local state). */
const refetch = (obj) => new Parse.Query(obj.className).get(obj.id);

// ---------------------------------------------------------------------------------------------------------
describe('Parse.Object lifecycle and field operations', () => {
  const cls = uniqueClass();

  it('save / fetch / update / destroy, fetch after destroy is 101', async () => {
    const when = new Date('2024-05-06T07:08:09.123Z');
    const obj = new Parse.Object(cls);
    await obj.save(
      {
        name: 'first', score: 7, ratio: 0.5, ok: true, when, tags: ['a', 'b'], meta: { color: 'red', n: 1 },
        spot: new Parse.GeoPoint(10, 20),
      },
      MK,
    );
    assert.match(obj.id, /^[A-Za-z0-9]+$/);
    assert.ok(obj.createdAt instanceof Date);
    assert.ok(obj.updatedAt instanceof Date);

    const fetched = await new Parse.Object(cls, { objectId: obj.id }).fetch();
    assert.equal(fetched.get('name'), 'first');
    assert.equal(fetched.get('score'), 7);
    assert.equal(fetched.get('ratio'), 0.5);
    assert.equal(fetched.get('ok'), true);
    assert.ok(fetched.get('when') instanceof Date);
    assert.equal(fetched.get('when').toISOString(), when.toISOString());
    assert.deepEqual(fetched.get('tags'), ['a', 'b']);
    assert.deepEqual(fetched.get('meta'), { color: 'red', n: 1 });
    assert.ok(fetched.get('spot') instanceof Parse.GeoPoint);
    assert.equal(fetched.get('spot').latitude, 10);
    assert.equal(fetched.get('spot').longitude, 20);
    assert.equal(fetched.createdAt.toISOString(), obj.createdAt.toISOString());

    obj.set('name', 'renamed');
    await obj.save(null, MK);
    const updated = await refetch(obj);
    assert.equal(updated.get('name'), 'renamed');
    assert.equal(updated.get('score'), 7);
    assert.ok(updated.updatedAt.getTime() >= updated.createdAt.getTime());

    await obj.destroy(MK);
    await rejectsWithCode(new Parse.Object(cls, { objectId: obj.id }).fetch(), Parse.Error.OBJECT_NOT_FOUND);
    await rejectsWithCode(new Parse.Query(cls).get(obj.id), 101);
    await rejectsWithCode(new Parse.Object(cls, { objectId: obj.id }).destroy(MK), 101);
  });

  it('increment / decrement', async () => {
    const obj = await new Parse.Object(cls).save({ name: 'counter', score: 10 }, MK);
    obj.increment('score');
    await obj.save(null, MK);
    assert.equal(obj.get('score'), 11);
    obj.increment('score', 5);
    await obj.save(null, MK);
    obj.decrement('score', 3);
    await obj.save(null, MK);
    assert.equal((await refetch(obj)).get('score'), 13);

    // Increment of a missing field starts from 0.
    obj.increment('fresh', 2);
    await obj.save(null, MK);
    assert.equal((await refetch(obj)).get('fresh'), 2);
  });

  it('add / addUnique / addAll / remove / removeAll', async () => {
    const obj = await new Parse.Object(cls).save({ name: 'arrays', tags: ['a'] }, MK);
    obj.add('tags', 'b');
    await obj.save(null, MK);
    assert.deepEqual((await refetch(obj)).get('tags'), ['a', 'b']);

    obj.addUnique('tags', 'a');
    await obj.save(null, MK);
    assert.deepEqual((await refetch(obj)).get('tags'), ['a', 'b']);

    obj.addUnique('tags', 'c');
    await obj.save(null, MK);
    obj.add('tags', 'b');
    await obj.save(null, MK);
    assert.deepEqual((await refetch(obj)).get('tags'), ['a', 'b', 'c', 'b']);

    obj.remove('tags', 'b'); // removes every occurrence
    await obj.save(null, MK);
    assert.deepEqual((await refetch(obj)).get('tags'), ['a', 'c']);

    obj.addAll('tags', ['d', 'e']);
    await obj.save(null, MK);
    obj.removeAll('tags', ['a', 'e']);
    await obj.save(null, MK);
    assert.deepEqual((await refetch(obj)).get('tags'), ['c', 'd']);

    // add on a missing field creates the array.
    obj.add('other', 1);
    await obj.save(null, MK);
    assert.deepEqual((await refetch(obj)).get('other'), [1]);
  });

  it('unset removes the field on the server', async () => {
    const obj = await new Parse.Object(cls).save({ name: 'unsetme', gone: 'here', kept: 1 }, MK);
    obj.unset('gone');
    await obj.save(null, MK);
    const back = await refetch(obj);
    assert.equal(back.has('gone'), false);
    assert.equal(back.get('gone'), undefined);
    assert.equal(back.get('kept'), 1);
    const q = new Parse.Query(cls).equalTo('name', 'unsetme').doesNotExist('gone');
    assert.deepEqual(names(await q.find()), ['unsetme']);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('pointers and include', () => {
  const leafCls = uniqueClass('CompatLeaf');
  const midCls = uniqueClass('CompatMid');
  const topCls = uniqueClass('CompatTop');
  let leaf;
  let mid1;
  let mid2;
  let top1;

  before(async () => {
    leaf = await new Parse.Object(leafCls).save({ name: 'leaf', depth: 2 }, MK);
    mid1 = await new Parse.Object(midCls).save({ name: 'mid1', depth: 1, leaf }, MK);
    mid2 = await new Parse.Object(midCls).save({ name: 'mid2', depth: 1 }, MK);
    top1 = await new Parse.Object(topCls).save({ name: 'top1', mid: mid1, items: [mid1, mid2] }, MK);
    await new Parse.Object(topCls).save({ name: 'top2', mid: mid2, items: [] }, MK);
  });

  it('a pointer comes back unfetched without include', async () => {
    const row = await new Parse.Query(topCls).equalTo('name', 'top1').first();
    const mid = row.get('mid');
    assert.ok(mid instanceof Parse.Object);
    assert.equal(mid.className, midCls);
    assert.equal(mid.id, mid1.id);
    assert.equal(mid.isDataAvailable(), false);
    assert.equal(mid.get('name'), undefined);
  });

  it('include(x) fetches the pointed object', async () => {
    const row = await new Parse.Query(topCls).equalTo('name', 'top1').include('mid').first();
    const mid = row.get('mid');
    assert.equal(mid.id, mid1.id);
    assert.equal(mid.get('name'), 'mid1');
    assert.equal(mid.get('depth'), 1);
    // Only one level: the leaf under mid stays a pointer.
    assert.equal(mid.get('leaf').id, leaf.id);
    assert.equal(mid.get('leaf').get('name'), undefined);
  });

  it('nested include a.b', async () => {
    const row = await new Parse.Query(topCls).equalTo('name', 'top1').include('mid.leaf').first();
    assert.equal(row.get('mid').get('name'), 'mid1');
    assert.equal(row.get('mid').get('leaf').get('name'), 'leaf');
    assert.equal(row.get('mid').get('leaf').get('depth'), 2);
  });

  it('include on an array of pointers', async () => {
    const row = await new Parse.Query(topCls).equalTo('name', 'top1').include('items').first();
    const items = row.get('items');
    assert.equal(items.length, 2);
    assert.deepEqual(items.map((i) => i.id), [mid1.id, mid2.id]);
    assert.deepEqual(items.map((i) => i.get('name')), ['mid1', 'mid2']);
  });

  it('select on a dotted key includes the pointer with only that key', async () => {
    const row = await new Parse.Query(topCls).equalTo('name', 'top1').select('mid.name').first();
    assert.equal(row.has('name'), false);
    assert.equal(row.get('mid').id, mid1.id);
    assert.equal(row.get('mid').get('name'), 'mid1');
    assert.equal(row.get('mid').has('depth'), false);
  });

  it('include works with get()', async () => {
    const row = await new Parse.Query(topCls).include('mid.leaf').get(top1.id);
    assert.equal(row.get('mid').get('leaf').get('name'), 'leaf');
  });

  it('equalTo on a pointer', async () => {
    assert.deepEqual(names(await new Parse.Query(topCls).equalTo('mid', mid2).find()), ['top2']);
    assert.deepEqual(names(await new Parse.Query(topCls).notEqualTo('mid', mid2).find()), ['top1']);
    assert.deepEqual(names(await new Parse.Query(midCls).equalTo('leaf', leaf).find()), ['mid1']);
    assert.deepEqual(names(await new Parse.Query(topCls).containedIn('mid', [mid1, mid2]).find()), ['top1', 'top2']);
    assert.deepEqual(names(await new Parse.Query(topCls).equalTo('items', mid2).find()), ['top1']);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('query operators', () => {
  const cls = uniqueClass();
  const ownerCls = uniqueClass('CompatOwner');
  const petCls = uniqueClass('CompatPet');
  const ALL = ['alpha', 'beta', 'delta', 'e.psilon(1)', 'gamma'];
  let rows;

  before(async () => {
    rows = await seed(cls, [
      {
        name: 'alpha', score: 10, tags: ['red', 'green'], meta: { color: 'red', size: 1 },
        when: new Date('2024-01-01T00:00:00Z'), flag: true, opt: 'x', bio: 'first line\nsecond line',
      },
      {
        name: 'beta', score: 20, tags: ['green', 'blue'], meta: { color: 'blue', size: 2 },
        when: new Date('2024-02-01T00:00:00Z'), flag: false, bio: 'Alpha\nbeta',
      },
      {
        name: 'gamma', score: 30, tags: ['red', 'blue', 'green'], meta: { color: 'red', size: 3 },
        when: new Date('2024-03-01T00:00:00Z'), flag: true, opt: 'y',
      },
      {
        name: 'delta', score: 40, tags: [], meta: { color: 'green', size: 4 },
        when: new Date('2024-04-01T00:00:00Z'), flag: false,
      },
      {
        name: 'e.psilon(1)', score: 50, tags: ['blue'], meta: { color: 'blue', size: 5 },
        when: new Date('2024-05-01T00:00:00Z'), flag: false,
      },
    ]);
    const owners = await seed(ownerCls, [
      { name: 'oslo', city: 'Oslo', code: 'A' },
      { name: 'rome', city: 'Rome', code: 'B' },
    ]);
    await seed(petCls, [
      { name: 'p1', owner: owners.oslo, ownerCode: 'A' },
      { name: 'p2', owner: owners.rome, ownerCode: 'B' },
      { name: 'p3', owner: owners.oslo, ownerCode: 'C' },
    ]);
  });

  const q = () => new Parse.Query(cls);
  const run = async (query) => names(await query.find());

  it('equalTo / notEqualTo', async () => {
    assert.deepEqual(await run(q().equalTo('score', 20)), ['beta']);
    assert.deepEqual(await run(q().equalTo('flag', true)), ['alpha', 'gamma']);
    assert.deepEqual(await run(q().equalTo('name', 'nobody')), []);
    assert.deepEqual(await run(q().notEqualTo('score', 20)), ['alpha', 'delta', 'e.psilon(1)', 'gamma']);
    // notEqualTo also matches rows where the field is absent.
    assert.deepEqual(await run(q().notEqualTo('opt', 'x')), ['beta', 'delta', 'e.psilon(1)', 'gamma']);
  });

  it('lessThan / lessThanOrEqualTo / greaterThan / greaterThanOrEqualTo', async () => {
    assert.deepEqual(await run(q().lessThan('score', 30)), ['alpha', 'beta']);
    assert.deepEqual(await run(q().lessThanOrEqualTo('score', 30)), ['alpha', 'beta', 'gamma']);
    assert.deepEqual(await run(q().greaterThan('score', 30)), ['delta', 'e.psilon(1)']);
    assert.deepEqual(await run(q().greaterThanOrEqualTo('score', 30)), ['delta', 'e.psilon(1)', 'gamma']);
    assert.deepEqual(await run(q().greaterThan('score', 10).lessThan('score', 40)), ['beta', 'gamma']);
    assert.deepEqual(await run(q().lessThan('name', 'c')), ['alpha', 'beta']);
  });

  it('containedIn / notContainedIn', async () => {
    assert.deepEqual(await run(q().containedIn('name', ['alpha', 'delta', 'zzz'])), ['alpha', 'delta']);
    assert.deepEqual(await run(q().containedIn('score', [20, 50])), ['beta', 'e.psilon(1)']);
    assert.deepEqual(await run(q().notContainedIn('name', ['alpha', 'delta'])), ['beta', 'e.psilon(1)', 'gamma']);
    // containedIn on an array field: any element in the list.
    assert.deepEqual(await run(q().containedIn('tags', ['red', 'nothing'])), ['alpha', 'gamma']);
  });

  it('exists / doesNotExist', async () => {
    assert.deepEqual(await run(q().exists('opt')), ['alpha', 'gamma']);
    assert.deepEqual(await run(q().doesNotExist('opt')), ['beta', 'delta', 'e.psilon(1)']);
    assert.deepEqual(await run(q().exists('bio')), ['alpha', 'beta']);
  });

  it('containsAll / containsAllStartingWith / containedBy', async () => {
    assert.deepEqual(await run(q().containsAll('tags', ['red', 'green'])), ['alpha', 'gamma']);
    assert.deepEqual(await run(q().containsAll('tags', ['blue'])), ['beta', 'e.psilon(1)', 'gamma']);
    assert.deepEqual(await run(q().containsAllStartingWith('tags', ['re', 'gr'])), ['alpha', 'gamma']);
    assert.deepEqual(await run(q().containsAllStartingWith('tags', ['bl'])), ['beta', 'e.psilon(1)', 'gamma']);
    // Every element must be in the list; the empty array qualifies.
    assert.deepEqual(await run(q().containedBy('tags', ['green', 'blue'])), ['beta', 'delta', 'e.psilon(1)']);
  });

  it('equalTo on an array field means "array contains"', async () => {
    assert.deepEqual(await run(q().equalTo('tags', 'blue')), ['beta', 'e.psilon(1)', 'gamma']);
    assert.deepEqual(await run(q().notEqualTo('tags', 'blue')), ['alpha', 'delta']);
  });

  it('matches (regex with modifiers)', async () => {
    assert.deepEqual(await run(q().matches('name', /^ALP/i)), ['alpha']);
    assert.deepEqual(await run(q().matches('name', '^ALP')), []);
    assert.deepEqual(await run(q().matches('name', 'ALP', 'i')), ['alpha']);
    assert.deepEqual(await run(q().matches('name', 'a$')), ['alpha', 'beta', 'delta', 'gamma']);
    // m: ^ matches after a newline.
    assert.deepEqual(await run(q().matches('bio', '^second')), []);
    assert.deepEqual(await run(q().matches('bio', /^second/m)), ['alpha']);
    assert.deepEqual(await run(q().matches('bio', '^BETA', 'im')), ['beta']);
    // x: whitespace in the pattern is ignored.
    assert.deepEqual(await run(q().matches('name', '^ g a m m a $', 'x')), ['gamma']);
  });

  it('startsWith / endsWith / contains (literal, regex characters quoted)', async () => {
    assert.deepEqual(await run(q().startsWith('name', 'ga')), ['gamma']);
    assert.deepEqual(await run(q().startsWith('name', 'e.ps')), ['e.psilon(1)']);
    assert.deepEqual(await run(q().endsWith('name', 'ta')), ['beta', 'delta']);
    assert.deepEqual(await run(q().endsWith('name', '(1)')), ['e.psilon(1)']);
    assert.deepEqual(await run(q().contains('name', 'lph')), ['alpha']);
    assert.deepEqual(await run(q().contains('name', '.')), ['e.psilon(1)']);
    assert.deepEqual(await run(q().startsWith('name', 'A')), []); // case-sensitive
  });

  it('matchesQuery / doesNotMatchQuery', async () => {
    const inOslo = new Parse.Query(ownerCls).equalTo('city', 'Oslo');
    assert.deepEqual(await run(new Parse.Query(petCls).matchesQuery('owner', inOslo)), ['p1', 'p3']);
    const inOslo2 = new Parse.Query(ownerCls).equalTo('city', 'Oslo');
    assert.deepEqual(await run(new Parse.Query(petCls).doesNotMatchQuery('owner', inOslo2)), ['p2']);
  });

  it('matchesKeyInQuery / doesNotMatchKeyInQuery', async () => {
    const allOwners = new Parse.Query(ownerCls);
    assert.deepEqual(await run(new Parse.Query(petCls).matchesKeyInQuery('ownerCode', 'code', allOwners)), ['p1', 'p2']);
    const rome = new Parse.Query(ownerCls).equalTo('city', 'Rome');
    assert.deepEqual(await run(new Parse.Query(petCls).matchesKeyInQuery('ownerCode', 'code', rome)), ['p2']);
    const allOwners2 = new Parse.Query(ownerCls);
    assert.deepEqual(
      await run(new Parse.Query(petCls).doesNotMatchKeyInQuery('ownerCode', 'code', allOwners2)),
      ['p3'],
    );
  });

  it('Parse.Query.or / and / nor', async () => {
    assert.deepEqual(
      await run(Parse.Query.or(q().lessThan('score', 15), q().greaterThan('score', 45))),
      ['alpha', 'e.psilon(1)'],
    );
    assert.deepEqual(await run(Parse.Query.and(q().equalTo('flag', true), q().greaterThan('score', 15))), ['gamma']);
    assert.deepEqual(
      await run(Parse.Query.nor(q().equalTo('flag', true), q().greaterThan('score', 45))),
      ['beta', 'delta'],
    );
    // An `or` combined with a plain constraint on the outer query.
    const mixed = Parse.Query.or(q().equalTo('name', 'alpha'), q().equalTo('name', 'beta')).greaterThan('score', 15);
    assert.deepEqual(await run(mixed), ['beta']);
  });

  it('dotted keys into an Object field', async () => {
    assert.deepEqual(await run(q().equalTo('meta.color', 'red')), ['alpha', 'gamma']);
    assert.deepEqual(await run(q().greaterThan('meta.size', 3)), ['delta', 'e.psilon(1)']);
    assert.deepEqual(await run(q().containedIn('meta.color', ['green', 'blue'])), ['beta', 'delta', 'e.psilon(1)']);
  });

  it('Date comparisons', async () => {
    assert.deepEqual(await run(q().lessThan('when', new Date('2024-02-15T00:00:00Z'))), ['alpha', 'beta']);
    assert.deepEqual(
      await run(q().greaterThanOrEqualTo('when', new Date('2024-03-01T00:00:00Z'))),
      ['delta', 'e.psilon(1)', 'gamma'],
    );
    assert.deepEqual(await run(q().equalTo('when', new Date('2024-04-01T00:00:00Z'))), ['delta']);
    const hourAgo = new Date(Date.now() - 3600 * 1000);
    assert.deepEqual(await run(q().greaterThan('createdAt', hourAgo)), ALL);
    assert.deepEqual(await run(q().lessThan('createdAt', hourAgo)), []);
    assert.ok((await run(q().lessThanOrEqualTo('createdAt', rows.alpha.createdAt))).includes('alpha'));
  });

  it('ascending / descending on several keys', async () => {
    assert.deepEqual(
      orderedNames(await q().ascending('flag').addDescending('score').find()),
      ['e.psilon(1)', 'delta', 'beta', 'gamma', 'alpha'],
    );
    assert.deepEqual(
      orderedNames(await q().descending('flag').addAscending('name').find()),
      ['alpha', 'gamma', 'beta', 'delta', 'e.psilon(1)'],
    );
    assert.deepEqual(orderedNames(await q().descending('score').find()), ['e.psilon(1)', 'delta', 'gamma', 'beta', 'alpha']);
    assert.deepEqual(
      orderedNames(await q().descending('meta.color').addAscending('score').find()),
      ['alpha', 'gamma', 'delta', 'beta', 'e.psilon(1)'],
    );
  });

  it('limit / skip', async () => {
    assert.deepEqual(orderedNames(await q().ascending('score').limit(2).find()), ['alpha', 'beta']);
    assert.deepEqual(orderedNames(await q().ascending('score').skip(1).limit(2).find()), ['beta', 'gamma']);
    assert.deepEqual(orderedNames(await q().ascending('score').skip(4).find()), ['e.psilon(1)']);
    assert.deepEqual(await q().ascending('score').skip(10).find(), []);
  });

  it('select (keys) / exclude', async () => {
    const [picked] = await q().equalTo('name', 'alpha').select('name', 'meta').find();
    assert.equal(picked.id, rows.alpha.id);
    assert.equal(picked.get('name'), 'alpha');
    assert.deepEqual(picked.get('meta'), { color: 'red', size: 1 });
    assert.equal(picked.has('score'), false);
    assert.equal(picked.has('tags'), false);
    assert.ok(picked.createdAt instanceof Date);

    const [rest] = await q().equalTo('name', 'alpha').exclude('score', 'tags').find();
    assert.equal(rest.get('name'), 'alpha');
    assert.equal(rest.get('opt'), 'x');
    assert.equal(rest.has('score'), false);
    assert.equal(rest.has('tags'), false);
  });

  it('count / first / get / find withCount', async () => {
    assert.equal(await q().count(), 5);
    assert.equal(await q().equalTo('flag', true).count(), 2);
    assert.equal(await q().equalTo('name', 'nobody').count(), 0);
    assert.equal(await q().skip(2).limit(1).count(), 5); // count ignores skip and limit

    const first = await q().ascending('score').first();
    assert.equal(first.get('name'), 'alpha');
    assert.equal(await q().equalTo('name', 'nobody').first(), undefined);

    const got = await q().get(rows.gamma.id);
    assert.equal(got.get('name'), 'gamma');
    assert.equal(got.get('score'), 30);
    await rejectsWithCode(q().get('doesNotExist1'), 101);

    const counted = await q().withCount().ascending('score').limit(2).find();
    assert.equal(counted.count, 5);
    assert.deepEqual(orderedNames(counted.results), ['alpha', 'beta']);
    const paged = await q().withCount().ascending('score').skip(3).find();
    assert.equal(paged.count, 5);
    assert.deepEqual(orderedNames(paged.results), ['delta', 'e.psilon(1)']);
    const none = await q().withCount().equalTo('name', 'nobody').find();
    assert.deepEqual(none, { results: [], count: 0 });
  });

  it('each() pages through every row', async () => {
    const seen = [];
    await q().each((obj) => { seen.push(obj.get('name')); }, { batchSize: 2 });
    assert.deepEqual(seen.sort(), ALL);
  });

  it('find returns every seeded row', async () => {
    assert.deepEqual(await run(q()), ALL);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('geo queries', () => {
  const cls = uniqueClass('CompatPlace');
  const zoneCls = uniqueClass('CompatZone');
  const SF = new Parse.GeoPoint(37.7749, -122.4194);

  before(async () => {
    await seed(cls, [
      { name: 'sf', loc: new Parse.GeoPoint(37.7749, -122.4194) },
      { name: 'oakland', loc: new Parse.GeoPoint(37.8044, -122.2712) }, // ~13 km from SF
      { name: 'sanjose', loc: new Parse.GeoPoint(37.3382, -121.8863) }, // ~68 km / 42 mi
      { name: 'la', loc: new Parse.GeoPoint(34.0522, -118.2437) }, // ~560 km
      { name: 'ny', loc: new Parse.GeoPoint(40.7128, -74.006) }, // ~4130 km
    ]);
    await seed(zoneCls, [
      { name: 'bay', area: new Parse.Polygon([[38, -123], [38, -121.5], [37, -121.5], [37, -123]]) },
      { name: 'socal', area: new Parse.Polygon([[35, -119], [35, -117], [33, -117], [33, -119]]) },
    ]);
  });

  const q = () => new Parse.Query(cls);

  it('near sorts by distance', async () => {
    assert.deepEqual(orderedNames(await q().near('loc', SF).find()), ['sf', 'oakland', 'sanjose', 'la', 'ny']);
    assert.deepEqual(orderedNames(await q().near('loc', SF).limit(2).find()), ['sf', 'oakland']);
  });

  it('withinKilometers / withinMiles / withinRadians (sorted: $nearSphere + $maxDistance)', async () => {
    assert.deepEqual(orderedNames(await q().withinKilometers('loc', SF, 20).find()), ['sf', 'oakland']);
    assert.deepEqual(orderedNames(await q().withinMiles('loc', SF, 50).find()), ['sf', 'oakland', 'sanjose']);
    assert.deepEqual(orderedNames(await q().withinRadians('loc', SF, 0.1).find()), ['sf', 'oakland', 'sanjose', 'la']);
  });

  it('withinKilometers / withinMiles unsorted ($geoWithin $centerSphere)', async () => {
    assert.deepEqual(names(await q().withinKilometers('loc', SF, 100, false).find()), ['oakland', 'sanjose', 'sf']);
    assert.deepEqual(names(await q().withinMiles('loc', SF, 10, false).find()), ['oakland', 'sf']);
    assert.deepEqual(names(await q().withinRadians('loc', SF, 0.1, false).find()), ['la', 'oakland', 'sanjose', 'sf']);
  });

  it('withinGeoBox', async () => {
    const box = q().withinGeoBox('loc', new Parse.GeoPoint(37, -123), new Parse.GeoPoint(38, -122));
    assert.deepEqual(names(await box.find()), ['oakland', 'sf']);
  });

  it('withinPolygon', async () => {
    const polygon = [
      new Parse.GeoPoint(38, -123), new Parse.GeoPoint(38, -121.5),
      new Parse.GeoPoint(37, -121.5), new Parse.GeoPoint(37, -123),
    ];
    assert.deepEqual(names(await q().withinPolygon('loc', polygon).find()), ['oakland', 'sanjose', 'sf']);
  });

  it('polygonContains on a Parse.Polygon field', async () => {
    const zq = () => new Parse.Query(zoneCls);
    assert.deepEqual(names(await zq().polygonContains('area', SF).find()), ['bay']);
    assert.deepEqual(names(await zq().polygonContains('area', new Parse.GeoPoint(34.0522, -118.2437)).find()), ['socal']);
    assert.deepEqual(names(await zq().polygonContains('area', new Parse.GeoPoint(40.7128, -74.006)).find()), []);
  });

  it('a Parse.Polygon saved open comes back closed (first point repeated), as Parse Server returns it', async () => {
    const zone = await new Parse.Query(zoneCls).equalTo('name', 'bay').first();
    assert.ok(zone.get('area') instanceof Parse.Polygon);
    assert.deepEqual(zone.get('area').coordinates, [[38, -123], [38, -121.5], [37, -121.5], [37, -123], [38, -123]]);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('fullText', () => {
  const cls = uniqueClass('CompatDoc');

  before(async () => {
    await seed(cls, [
      { name: 'fox', body: 'The quick brown fox jumps' },
      { name: 'dogs', body: 'Lazy dogs sleep all day' },
      { name: 'cats', body: 'Cats chase mice' },
    ]);
  });

  it('returns the matching object', async () => {
    const found = await new Parse.Query(cls).fullText('body', 'dogs').find();
    assert.ok(names(found).includes('dogs'), `got ${JSON.stringify(names(found))}`);
    assert.ok(!names(found).includes('cats'));
    const fox = await new Parse.Query(cls).fullText('body', 'fox').find();
    assert.deepEqual(names(fox), ['fox']);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('relations', () => {
  const postCls = uniqueClass('CompatPost');
  const fanCls = uniqueClass('CompatFan');

  it('relation add / remove / relation.query() / relatedTo', async () => {
    const fans = await seed(fanCls, [{ name: 'ann' }, { name: 'bob' }, { name: 'cid' }]);
    const post = await new Parse.Object(postCls).save({ name: 'post' }, MK);
    await new Parse.Object(postCls).save({ name: 'other' }, MK);

    const likes = post.relation('likes');
    likes.add([fans.ann, fans.bob]);
    await post.save(null, MK);
    assert.deepEqual(names(await likes.query().find()), ['ann', 'bob']);

    // The same through a fresh copy of the owner; relation.query() is a `$relatedTo` query on the target class.
    const fresh = await new Parse.Query(postCls).get(post.id);
    const related = fresh.relation('likes').query();
    assert.equal(related.className, fanCls);
    assert.deepEqual(related.toJSON().where.$relatedTo.key, 'likes');
    assert.deepEqual(names(await related.find()), ['ann', 'bob']);
    assert.deepEqual(names(await fresh.relation('likes').query().ascending('name').find()), ['ann', 'bob']);
    assert.equal(await fresh.relation('likes').query().count(), 2);

    // equalTo on a relation column finds the owners.
    assert.deepEqual(names(await new Parse.Query(postCls).equalTo('likes', fans.bob).find()), ['post']);

    likes.remove(fans.ann);
    await post.save(null, MK);
    assert.deepEqual(names(await likes.query().find()), ['bob']);
    assert.deepEqual(names(await likes.query().equalTo('name', 'ann').find()), []);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Items 4 and 5 of issue 14: relation, user and array-path edges of parse-server's Relation/Object/User specs.
describe('relations, users and array paths as Parse', () => {
  const postCls = uniqueClass('CompatRPost');
  const fanCls = uniqueClass('CompatRFan');

  it('a relation on a parent that was never fetched queries the related class (redirectClassNameForKey)', async () => {
    const fans = await seed(fanCls, [{ name: 'ann' }, { name: 'bob' }]);
    const post = new Parse.Object(postCls);
    post.relation('likes').add([fans.ann, fans.bob]);
    await post.save({ name: 'post' }, MK);

    // Only the id is known: the SDK does not know the target class and asks the server to redirect.
    const bare = Parse.Object.extend(postCls).createWithoutData(post.id);
    const query = bare.relation('likes').query();
    assert.equal(query.className, postCls);
    const found = await query.find();
    assert.deepEqual(names(found), ['ann', 'bob']);
    assert.ok(found.every((o) => o.className === fanCls));
    assert.equal(await bare.relation('likes').query().count(), 2);
  });

  it('cloning an object keeps its relation', async () => {
    const fans = await seed(fanCls, [{ name: 'cid' }]);
    const parent = new Parse.Object(postCls);
    parent.relation('likes').add(fans.cid);
    await parent.save({ name: 'original' }, MK);
    const fetched = await new Parse.Query(postCls).get(parent.id, MK);

    const copy = fetched.clone();
    assert.equal(copy.id, undefined);
    assert.equal(copy.relation('likes').targetClassName, fanCls);
    await copy.save({ name: 'copy' }, MK);
    const again = await new Parse.Query(postCls).get(copy.id, MK);
    assert.equal(again.relation('likes').targetClassName, fanCls);
    // The copy is a new owner: it starts with no members, and can take its own.
    assert.deepEqual(await again.relation('likes').query().find(MK), []);
    again.relation('likes').add(fans.cid);
    await again.save(null, MK);
    assert.deepEqual(names(await again.relation('likes').query().find(MK)), ['cid']);
  });

  it('increment into an array element by index (items.0.count)', async () => {
    const cart = await new Parse.Object(uniqueClass('CompatCart')).save({
      items: [{ value: 'a', count: 5 }, { value: 'b', count: 1 }],
    }, MK);
    cart.increment('items.0.count', 15);
    cart.increment('items.1.count', 4);
    await cart.save(null, MK);
    const expected = [{ value: 'a', count: 20 }, { value: 'b', count: 5 }];
    assert.deepEqual(cart.toJSON().items, expected);
    assert.deepEqual((await new Parse.Query(cart.className).get(cart.id, MK)).get('items'), expected);
  });

  it('fetchAll on users merges the attributes saved since', async () => {
    const user = new Parse.User({ username: `fetchall_${randomUUID().slice(0, 8)}`, password: 'pw-123456', foo: 'bar' });
    await user.signUp();
    const stale = await new Parse.Query(Parse.User).get(user.id, MK);
    user.set('baz', 'qux');
    await user.save(null, { sessionToken: user.getSessionToken() });

    const [fresh] = await Parse.Object.fetchAll([stale], MK);
    assert.equal(fresh.id, stale.id);
    assert.equal(fresh.get('baz'), 'qux');
    assert.equal(fresh.get('foo'), 'bar');
    assert.equal(fresh.getSessionToken(), undefined);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('batch', () => {
  const cls = uniqueClass('CompatBatch');

  it('Parse.Object.saveAll / destroyAll', async () => {
    const objects = ['b1', 'b2', 'b3', 'b4', 'b5'].map((name, i) => new Parse.Object(cls, { name, n: i }));
    const saved = await Parse.Object.saveAll(objects, MK);
    assert.equal(saved.length, 5);
    for (const obj of saved) {
      assert.ok(obj.id, 'every object got an id');
      assert.ok(obj.createdAt instanceof Date);
    }
    assert.equal(new Set(saved.map((o) => o.id)).size, 5);
    assert.equal(await new Parse.Query(cls).count(), 5);

    // Batched updates.
    for (const obj of saved) obj.increment('n', 10);
    await Parse.Object.saveAll(saved, MK);
    const ns = (await new Parse.Query(cls).ascending('n').find()).map((o) => o.get('n'));
    assert.deepEqual(ns, [10, 11, 12, 13, 14]);

    await Parse.Object.destroyAll(saved.slice(0, 3), MK);
    assert.deepEqual(names(await new Parse.Query(cls).find()), ['b4', 'b5']);
    await Parse.Object.destroyAll(saved.slice(3), MK);
    assert.equal(await new Parse.Query(cls).count(), 0);
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('schema validation on sleeplab classes', () => {
  let actor;
  let patient;
  // The chain fields are required; a negative seq never becomes the head the server's chain writer follows.
  const valid = () => ({
    actor, entityType: 'SleepStudy', entityId: 'abc123', action: 'update', summary: 'changed status',
    metadata: { from: 'draft', to: 'final' }, actorKind: 'user', ids: ['abc123'], loggedAt: new Date(),
    seq: -1 - Math.floor(Math.random() * 1e9), prevHash: '0'.repeat(64), hash: '0'.repeat(64),
  });

  before(async () => {
    // A pointer to a _User is enough for the schema check (Parse does not verify that pointers resolve); the
    // SDK saves users through /users, which is not what this suite exercises.
    actor = Parse.User.createWithoutData(`compatUser${randomUUID().replaceAll('-', '').slice(0, 8)}`);
    patient = new Parse.Object('PatientProfile');
    await patient.save(
      { user: actor, medicalRecordNumber: 'MRN-1', displayName: 'Pat Ient', isActive: true },
      MK,
    );
  });

  after(async () => {
    await patient?.destroy(MK).catch(() => {});
  });

  it('a valid AuditLog saves and reads back', async () => {
    const log = await new Parse.Object('AuditLog').save(valid(), MK);
    // (Who may read the audit log is the app schema's CLP: tests/app/test_audit_trail.py.)
    const back = await new Parse.Query('AuditLog').get(log.id, MK);
    assert.equal(back.get('summary'), 'changed status');
    assert.deepEqual(back.get('metadata'), { from: 'draft', to: 'final' });
    assert.equal(back.get('actor').className, '_User');
    assert.equal(back.get('actor').id, actor.id);
    // AuditLog is append-only: not even the master key changes or removes an entry.
    back.set('summary', 'forged');
    await rejectsWithCode(back.save(null, MK), 119);
    await rejectsWithCode(log.destroy(MK), 119);
  });

  it('a wrong type in a schema field is 111', async () => {
    await rejectsWithCode(new Parse.Object('AuditLog').save({ ...valid(), summary: 42 }, MK), 111);
    await rejectsWithCode(new Parse.Object('AuditLog').save({ ...valid(), metadata: 'not an object' }, MK), 111);
    await rejectsWithCode(new Parse.Object('AuditLog').save({ ...valid(), actor: patient }, MK), 111);
    await rejectsWithCode(
      new Parse.Object('PatientProfile').save(
        { user: actor, medicalRecordNumber: 'MRN-2', displayName: 'X', isActive: 'yes' },
        MK,
      ),
      111,
    );
    // On update too (on a class that allows updates: AuditLog is append-only).
    patient.set('displayName', 12);
    await rejectsWithCode(patient.save(null, MK), 111);
    patient.revert();
  });

  it('a missing required field is 142', async () => {
    const { summary: _omit, ...noSummary } = valid();
    await rejectsWithCode(new Parse.Object('AuditLog').save(noSummary, MK), 142);
    await rejectsWithCode(
      new Parse.Object('SleepStudy').save({ patient, studyDate: new Date(), status: 'draft' }, MK), // no results
      142,
    );
    // Unsetting a required field on update is refused too.
    patient.unset('displayName');
    await rejectsWithCode(patient.save(null, MK), 142);
    patient.revert();
  });
});

// ---------------------------------------------------------------------------------------------------------
describe('Parse compatibility sweep (issue 14): what the SDK sees', () => {
  it('Parse.Cloud.run of a function that returns nothing resolves to undefined', async () => {
    assert.equal(await Parse.Cloud.run('returnsNothing'), undefined);
  });

  it('an included pointer whose target is gone is undefined, also inside arrays', async () => {
    const targetCls = uniqueClass('Target');
    const hostCls = uniqueClass('Host');
    const { kept, gone } = await seed(targetCls, [{ name: 'kept' }, { name: 'gone' }]);
    const host = new Parse.Object(hostCls);
    await host.save({ name: 'h', one: gone, many: [kept, gone] }, MK);
    await gone.destroy(MK);
    const got = await new Parse.Query(hostCls).include(['one', 'many']).get(host.id, MK);
    assert.equal(got.get('one'), undefined);
    assert.deepEqual(got.get('many').map((o) => o.get('name')), ['kept']);
  });

  it('containedIn on a pointer field with plain object ids, and order on _created_at', async () => {
    const targetCls = uniqueClass('Target');
    const hostCls = uniqueClass('Host');
    const { a, b } = await seed(targetCls, [{ name: 'a' }, { name: 'b' }]);
    await seed(hostCls, [{ name: 'first', t: a }, { name: 'second', t: b }]);
    const q = new Parse.Query(hostCls).containedIn('t', [a.id]);
    assert.deepEqual(names(await q.find(MK)), ['first']);
    const newest = await new Parse.Query(hostCls).descending('_created_at').find(MK);
    assert.deepEqual(orderedNames(newest), ['second', 'first']);
  });

  it('select with several keys and exclude with a dotted key into an include', async () => {
    const targetCls = uniqueClass('Target');
    const hostCls = uniqueClass('Host');
    const { t } = await seed(targetCls, [{ name: 't', secret: 's', shown: 1 }]);
    await seed(hostCls, [{ name: 'h', t, other: 1, more: 2 }]);
    const picked = await new Parse.Query(hostCls).select('name', 'other').first(MK);
    assert.equal(picked.get('other'), 1);
    assert.equal(picked.get('more'), undefined);
    const trimmed = await new Parse.Query(hostCls).include('t').exclude('t.secret').first(MK);
    assert.equal(trimmed.get('t').get('shown'), 1);
    assert.equal(trimmed.get('t').get('secret'), undefined);
  });
});
