// LiveQuery through the official Parse JS SDK: subscribe, then create / update / destroy with the master key.
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import Parse from 'parse/node';

Parse.initialize(process.env.PARSE_APP_ID, undefined, process.env.PARSE_MASTER_KEY);
Parse.serverURL = process.env.PARSE_SERVER_URL;
// The SDK would derive the same URL from serverURL (http → ws, same host and path); set it explicitly anyway.
Parse.liveQueryServerURL = process.env.PARSE_SERVER_URL.replace(/^http/, 'ws');
Parse.CoreManager.set('REQUEST_ATTEMPT_LIMIT', 1);

const MK = { useMasterKey: true };
const uid = () => randomUUID().replaceAll('-', '').slice(0, 10);

// The SDK's subscription emitter has `on` but no `once`: the first event of the kind settles the promise.
function next(subscription, event, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => reject(new Error(`no ${event} event within ${timeoutMs} ms`)), timeoutMs);
    subscription.on(event, (...args) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(args);
    });
  });
}

describe('Parse.LiveQuery', () => {
  after(async () => {
    await Parse.LiveQuery.close();
  });

  it('create, update and delete events reach a subscription', async () => {
    const className = `Live_${uid()}`;
    // The class must exist before anything is saved to it by a client; the master key creates it.
    const seed = await new Parse.Object(className).save({ room: 'seed' }, MK);
    const query = new Parse.Query(className).equalTo('room', 'a');
    const subscription = await query.subscribe();
    await subscription.subscribePromise; // resolved by the server's `subscribed`

    const created = next(subscription, 'create');
    const obj = await new Parse.Object(className).save({ room: 'a', text: 'hi', n: 1 }, MK);
    const [createdObj] = await created;
    assert.equal(createdObj.id, obj.id);
    assert.equal(createdObj.className, className);
    assert.equal(createdObj.get('text'), 'hi');
    assert.equal(createdObj.get('n'), 1);
    assert.ok(createdObj.createdAt instanceof Date);

    const updated = next(subscription, 'update');
    await obj.save({ text: 'edited' }, MK);
    const [updatedObj, original] = await updated;
    assert.equal(updatedObj.get('text'), 'edited');
    assert.equal(original.get('text'), 'hi');

    const deleted = next(subscription, 'delete');
    await obj.destroy(MK);
    const [deletedObj] = await deleted;
    assert.equal(deletedObj.id, obj.id);

    await subscription.unsubscribe();
    await seed.destroy(MK);
  });
});
