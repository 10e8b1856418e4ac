// The official Linq TypeScript SDK (@linqapp/sdk, pinned in package-lock.json)
// against `bulksync fake-api`: if the fake and openapi.yaml drift from what
// the SDK sends and expects, this fails. Run with `make sdk-test`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import LinqAPIV3, { AuthenticationError, ConflictError, NotFoundError, PermissionDeniedError } from '@linqapp/sdk';

// Not import.meta.dirname: that needs Node 20.11.
const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const token = 'sdk-test-token';
const ada = '+12125550101';
const grace = '+12125550102';
const alan = '+12125550103'; // on the account, no card yet
const edsger = '+12125550104'; // on the account, never given a card
const stranger = '+12125550199'; // not on the account

let dir;
const fakes = [];
let bin;
let requestLog;
let client;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bulksync-sdk-'));
  bin = join(dir, 'bulksync');
  execFileSync('go', ['build', '-o', bin, './cmd/bulksync'], { cwd: repo, stdio: 'inherit' });
  writeFileSync(join(dir, 'cards.csv'),
    'phone_number,first_name,last_name,image_url,is_active\n' +
    `${ada},Ada,Lovelace,https://cdn.example.com/ada.jpg,true\n` +
    `${grace},Grace,Hopper,,true\n`);
  writeFileSync(join(dir, 'lines.txt'), `${ada}\n${grace} AT_RISK\n${alan}\n${edsger}\n`);
  requestLog = join(dir, 'requests.jsonl');
  const baseURL = await startFake(['--request-log', requestLog]);
  // The SDK's own configuration path: the environment variables it documents.
  process.env.LINQ_API_V3_API_KEY = token;
  process.env.LINQ_API_V3_BASE_URL = baseURL;
  client = new LinqAPIV3();
});

after(async () => {
  for (const fake of fakes) {
    if (fake.exitCode !== null) continue;
    const exited = once(fake, 'exit');
    fake.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// startFake runs `bulksync fake-api` on a free port with the cards and lines
// of dir and the extra flags, and returns its base URL once it listens.
async function startFake(flags) {
  const fake = spawn(bin, ['fake-api', '--addr', '127.0.0.1:0',
    '--seed', join(dir, 'cards.csv'), '--lines', join(dir, 'lines.txt'), ...flags], {
    env: { ...process.env, LINQ_FAKE_TOKEN: token },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  fakes.push(fake);
  const exited = once(fake, 'exit').then(([code]) => { throw new Error(`fake-api exited early: ${code}`); });
  const ready = (async () => {
    for await (const line of createInterface({ input: fake.stdout })) {
      const m = /^listening on (http:\/\/\S+)$/.exec(line);
      if (m) return m[1];
    }
    throw new Error('fake-api closed stdout before saying where it listens');
  })();
  const baseURL = await Promise.race([ready, exited]);
  exited.catch(() => {}); // stopped in after()
  return baseURL;
}

// logged returns the fake's request log, one object per request.
function logged() {
  return readFileSync(requestLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test('list the account\'s cards', async () => {
  const res = await client.contactCard.retrieve();
  const byPhone = Object.fromEntries(res.contact_cards.map((c) => [c.phone_number, c]));
  assert.deepEqual(Object.keys(byPhone).sort(), [ada, grace]);
  assert.equal(byPhone[ada].first_name, 'Ada');
  assert.equal(byPhone[ada].last_name, 'Lovelace');
  assert.equal(byPhone[ada].image_url, 'https://cdn.example.com/ada.jpg');
  assert.equal(byPhone[ada].is_active, true);
});

test('retrieve one card by phone number', async () => {
  const res = await client.contactCard.retrieve({ phone_number: grace });
  assert.equal(res.contact_cards.length, 1);
  assert.equal(res.contact_cards[0].phone_number, grace);
  assert.equal(res.contact_cards[0].first_name, 'Grace');
});

test('create a card, then a second create is 409/2014', async () => {
  const card = await client.contactCard.create({ phone_number: alan, first_name: 'Alan', last_name: 'Turing' });
  assert.equal(card.phone_number, alan);
  assert.equal(card.first_name, 'Alan');
  assert.equal(card.last_name, 'Turing');
  assert.equal(card.is_active, true);

  const before = logged().length;
  await assert.rejects(
    client.contactCard.create({ phone_number: alan, first_name: 'Alan' }),
    (err) => {
      assert.ok(err instanceof ConflictError, `want ConflictError, got ${err?.constructor?.name}: ${err}`);
      assert.equal(err.status, 409);
      // err.error is the whole envelope, not body.error (linq-api.md §7).
      assert.equal(err.error.success, false);
      assert.equal(err.error.error.code, 2014);
      return true;
    },
  );
  // The SDK retried the 409 twice (maxRetries 2): three POSTs, all 409/2014,
  // and the card is unchanged.
  const posts = logged().slice(before).filter((r) => r.method === 'POST');
  assert.deepEqual(posts.map((r) => [r.status, r.code]), [[409, 2014], [409, 2014], [409, 2014]]);
  const res = await client.contactCard.retrieve({ phone_number: alan });
  assert.equal(res.contact_cards[0].last_name, 'Turing');
});

test('a 409 with maxRetries 0 is one request', async () => {
  const before = logged().length;
  await assert.rejects(
    client.contactCard.create({ phone_number: ada, first_name: 'Ada' }, { maxRetries: 0 }),
    ConflictError,
  );
  assert.deepEqual(logged().slice(before).map((r) => [r.method, r.status, r.code]), [['POST', 409, 2014]]);
});

test('update sends phone_number in the query and the change reads back', async () => {
  const before = logged().length;
  const card = await client.contactCard.update({ phone_number: ada, first_name: 'Augusta' });
  assert.equal(card.phone_number, ada);
  assert.equal(card.first_name, 'Augusta');
  assert.equal(card.last_name, 'Lovelace', 'fields left out keep their value');

  const [patch] = logged().slice(before);
  assert.equal(patch.method, 'PATCH');
  assert.equal(new URLSearchParams(patch.query).get('phone_number'), ada);
  assert.deepEqual(patch.body, { first_name: 'Augusta' });

  const res = await client.contactCard.retrieve({ phone_number: ada });
  assert.equal(res.contact_cards[0].first_name, 'Augusta');
  assert.equal(res.contact_cards[0].image_url, 'https://cdn.example.com/ada.jpg');
});

test('update of a line without a card is 404 NotFoundError', async () => {
  await assert.rejects(client.contactCard.update({ phone_number: edsger, first_name: 'Edsger' }), (err) => {
    assert.ok(err instanceof NotFoundError, `want NotFoundError, got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.error.error.code, 2001);
    return true;
  });
});

test('a number not on the account is 403 PermissionDeniedError', async () => {
  await assert.rejects(client.contactCard.update({ phone_number: stranger, first_name: 'Nobody' }), (err) => {
    assert.ok(err instanceof PermissionDeniedError, `want PermissionDeniedError, got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.error.error.code, 2006);
    return true;
  });
});

test('list the account\'s phone numbers', async () => {
  const res = await client.phoneNumbers.list();
  const byPhone = Object.fromEntries(res.phone_numbers.map((p) => [p.phone_number, p]));
  assert.deepEqual(Object.keys(byPhone).sort(), [ada, grace, alan, edsger]);
  for (const p of res.phone_numbers) {
    assert.equal(typeof p.id, 'string');
    assert.ok(p.id.length > 0);
    for (const field of ['reputation', 'health_status']) {
      assert.equal(typeof p[field].status, 'string', `${p.phone_number} ${field}.status`);
      assert.match(p[field].doc_url, /^https:\/\//, `${p.phone_number} ${field}.doc_url`);
    }
  }
  assert.equal(byPhone[ada].reputation.status, 'HEALTHY');
  assert.equal(byPhone[grace].reputation.status, 'AT_RISK');
});

test('a wrong key is 401 AuthenticationError, not retried', async () => {
  const wrong = new LinqAPIV3({ apiKey: 'not-the-key', baseURL: process.env.LINQ_API_V3_BASE_URL });
  const before = logged().length;
  await assert.rejects(wrong.contactCard.retrieve(), (err) => {
    assert.ok(err instanceof AuthenticationError, `want AuthenticationError, got ${err?.constructor?.name}: ${err}`);
    assert.equal(err.status, 401);
    assert.equal(err.error.error.code, 2004);
    return true;
  });
  assert.equal(logged().length - before, 1);
});

test('x-should-retry: false from the fake stops the SDK retrying a 409', async () => {
  const log = join(dir, 'requests-no-retry.jsonl');
  const baseURL = await startFake(['--should-retry', 'false', '--request-log', log]);
  const c = new LinqAPIV3({ apiKey: token, baseURL });
  await assert.rejects(c.contactCard.create({ phone_number: ada, first_name: 'Ada' }), ConflictError);
  const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((r) => [r.method, r.status, r.code]), [['POST', 409, 2014]]);
});
