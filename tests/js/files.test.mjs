// Files through the official Parse JS SDK: uploads, signed URLs that follow the holding object's ACL, refusals.
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

import Parse from 'parse/node';

Parse.initialize(process.env.PARSE_APP_ID, undefined, process.env.PARSE_MASTER_KEY);
Parse.serverURL = process.env.PARSE_SERVER_URL;
Parse.CoreManager.set('REQUEST_ATTEMPT_LIMIT', 1);

const MK = { useMasterKey: true };
const uid = () => randomUUID().replaceAll('-', '').slice(0, 10);
const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(4096, 7)]);

async function newUser(prefix) {
  const user = new Parse.User({ username: `${prefix}_${uid()}`, password: 'pw-123456' });
  await user.save();
  return { user, token: user.getSessionToken() };
}

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

describe('files', () => {
  before(async () => {
    const schema = new Parse.Schema('FileNote');
    await schema.addFile('doc').addArray('docs').save().catch(() => undefined);
  });

  it('a base64 file saved, attached to a private object, fetched through the URL its reader receives', async () => {
    const { user: owner, token } = await newUser('fown');
    const { token: otherToken } = await newUser('fother');
    const file = new Parse.File('report.pdf', { base64: PDF.toString('base64') }, 'application/pdf');
    await file.save({ sessionToken: token });
    assert.match(file.name(), /^[0-9a-f]{32}_report\.pdf$/);
    assert.match(file.url(), /\?exp=\d+&sig=/);

    const note = new Parse.Object('FileNote');
    note.set('doc', file);
    note.set('docs', [file]);
    const acl = new Parse.ACL(owner);
    note.setACL(acl);
    await note.save(null, { sessionToken: token });

    const mine = await new Parse.Query('FileNote').get(note.id, { sessionToken: token });
    const url = mine.get('doc').url();
    assert.match(url, /\?exp=\d+&sig=/);
    assert.match(mine.get('docs')[0].url(), /\?exp=\d+&sig=/);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), PDF);
    const data = await mine.get('doc').getData();
    assert.equal(data, PDF.toString('base64'));

    // Another user cannot read the object, so never receives a URL; the bare Parse URL is refused.
    await rejectsWith(new Parse.Query('FileNote').get(note.id, { sessionToken: otherToken }), 101);
    const bare = url.split('?')[0];
    assert.equal((await fetch(bare)).status, 403);
    assert.equal((await fetch(bare, { headers: { 'X-Parse-Session-Token': otherToken } })).status, 403);
  });

  it('expired and forged signatures answer 403, like a file that does not exist', async () => {
    const { token } = await newUser('fsig');
    const file = new Parse.File('scan.pdf', PDF, 'application/pdf'); // a Buffer: the SDK streams it (saveBinary)
    await file.save({ sessionToken: token });
    const url = new URL(file.url());
    assert.equal((await fetch(url)).status, 200);
    const expired = new URL(url);
    expired.searchParams.set('exp', '1000');
    const forged = new URL(url);
    forged.searchParams.set('sig', 'A'.repeat(43));
    const missing = new URL(url);
    missing.pathname = missing.pathname.replace(/[0-9a-f]{32}_/, `${'0'.repeat(32)}_`);
    for (const bad of [expired, forged, missing]) {
      const res = await fetch(bad);
      assert.equal(res.status, 403);
      assert.deepEqual(await res.json(), { code: 119, error: 'unauthorized' });
    }
  });

  it('active content types are refused with 130', async () => {
    const { token } = await newUser('ftype');
    const script = Buffer.from('<script>alert(1)</script>').toString('base64');
    for (const [name, type] of [['page.html', 'text/html'], ['logo.svg', 'image/svg+xml'],
      ['feed.xml', 'application/xml'], ['app.js', 'text/javascript'], ['report.pdf', 'text/html']]) {
      await rejectsWith(new Parse.File(name, { base64: script }, type).save({ sessionToken: token }), 130);
    }
  });

  it('traversal and header-injection names never store a file', async () => {
    const { token } = await newUser('fname');
    for (const name of ['../../etc/passwd', '..\\..\\boot.ini', 'a\r\nSet-Cookie: x=y.pdf', '.htaccess']) {
      await assert.rejects(new Parse.File(name, { base64: PDF.toString('base64') }).save({ sessionToken: token }));
      await assert.rejects(new Parse.File(name, PDF).save({ sessionToken: token }));
    }
  });

  it('uploads without a session are refused (fileUpload.enableForPublic is off)', async () => {
    await rejectsWith(new Parse.File('anon.pdf', { base64: PDF.toString('base64') }).save(), 130);
  });

  it('a file hook refuses an upload', async () => {
    const { token } = await newUser('fhook');
    await assert.rejects(
      new Parse.File('refused.pdf', { base64: PDF.toString('base64') }).save({ sessionToken: token }),
      (err) => err.code === 130 && /refused by the file hook/.test(err.message),
    );
  });

  it('the master key deletes a file', async () => {
    const { token } = await newUser('fdel');
    const file = new Parse.File('gone.pdf', { base64: PDF.toString('base64') });
    await file.save({ sessionToken: token });
    const url = file.url();
    await file.destroy(MK);
    assert.equal((await fetch(url)).status, 404);
  });
});
