// Cloud code through the official Parse JS SDK: Parse.Cloud.run, beforeSave mutations, rejected saves.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import Parse from 'parse/node';

Parse.initialize(process.env.PARSE_APP_ID, undefined, process.env.PARSE_MASTER_KEY);
Parse.serverURL = process.env.PARSE_SERVER_URL;
Parse.CoreManager.set('REQUEST_ATTEMPT_LIMIT', 1);

const MK = { useMasterKey: true };

describe('cloud code', () => {
  before(async () => {
    await new Parse.Object('CloudNote').save({ title: 'seed' }, MK);
  });

  it('Parse.Cloud.run with params and results: numbers, dates, Parse objects', async () => {
    const item = await new Parse.Object('CloudNote').save({ title: 'item' }, MK);
    const when = new Date('2026-01-02T03:04:05.000Z');
    // The SDK refuses whole objects as params ("Parse Objects not allowed here"); pointers are how they travel.
    const result = await Parse.Cloud.run('echoTyped', { n: 21, when, item: item.toPointer() });
    assert.equal(result.n, 42);
    assert.ok(result.later instanceof Date);
    assert.equal(result.later.toISOString(), '2026-01-03T03:04:05.000Z');
    assert.equal(result.itemClass, 'CloudNote');
    assert.equal(result.itemId, item.id);
    const made = await Parse.Cloud.run('makeCloudNote', { title: ' from cloud ' });
    assert.ok(made instanceof Parse.Object);
    assert.equal(made.className, 'CloudNote');
    assert.equal(made.get('title'), 'FROM CLOUD');
    assert.ok(made.id);
  });

  it('an unknown function rejects with 141', async () => {
    await assert.rejects(Parse.Cloud.run('noSuchFunction'), (err) => err.code === 141);
  });

  it('a beforeSave mutation is visible after save()', async () => {
    const note = new Parse.Object('CloudNote');
    await note.save({ title: '  quiet night ' });
    assert.equal(note.get('title'), 'QUIET NIGHT');
    assert.equal(note.get('length'), 11);
    const fetched = await new Parse.Query('CloudNote').get(note.id);
    assert.equal(fetched.get('title'), 'QUIET NIGHT');
    note.set('title', 'second ');
    await note.save();
    assert.equal(note.get('title'), 'SECOND');
  });

  it('a rejected save surfaces error.code and error.message', async () => {
    const note = new Parse.Object('CloudNote');
    await assert.rejects(note.save({ title: 'reject me' }), (err) => {
      assert.equal(err.code, 142);
      assert.equal(err.message, 'titles may not say reject me');
      return true;
    });
    assert.equal(note.id, undefined);
  });
});
