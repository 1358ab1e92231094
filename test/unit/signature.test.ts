import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { batchMessageId, signatureHeaders } from '../../src/sinks/webhook/signature.js';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const ID = 'dc3cf53a-a0ea-54c2-984b-2bab039b48d3';
// Not ASCII, so a signature over UTF-16 units or a re-encoded body would not verify.
const BODY = '{"id":"dc3cf53a-a0ea-54c2-984b-2bab039b48d3","event":{"data":{"new":{"name":"Zoë 名前 🐘"}}}}';

test('a signed request verifies with the reference implementation, over the body text and its bytes', () => {
  const secret = newSecret();
  const headers = signatureHeaders([secret], ID, BODY);
  assert.deepEqual(Object.keys(headers), ['webhook-id', 'webhook-timestamp', 'webhook-signature']);
  assert.equal(headers['webhook-id'], ID);
  assert.match(headers['webhook-timestamp'] as string, /^\d+$/);
  assert.ok(Math.abs(Number(headers['webhook-timestamp']) - Date.now() / 1000) < 5);
  assert.match(headers['webhook-signature'] as string, /^v1,[A-Za-z0-9+/]{43}=$/);
  const webhook = new Webhook(secret);
  assert.deepEqual(webhook.verify(BODY, headers), JSON.parse(BODY));
  assert.deepEqual(webhook.verify(Buffer.from(BODY), headers), JSON.parse(BODY));
});

test('the timestamp given is the one signed', () => {
  const secret = newSecret();
  const now = Math.floor(Date.now() / 1000);
  const headers = signatureHeaders([secret], ID, BODY, now - 60);
  assert.equal(headers['webhook-timestamp'], String(now - 60));
  new Webhook(secret).verify(BODY, headers);
  // The reference implementation refuses a timestamp five minutes off, which is what stops replays.
  const stale = signatureHeaders([secret], ID, BODY, now - 600);
  assert.throws(() => new Webhook(secret).verify(BODY, stale), /too old/);
});

test('two secrets give two signatures, each verifying on its own', () => {
  const [current, next, stranger] = [newSecret(), newSecret(), newSecret()];
  const headers = signatureHeaders([current, next], ID, BODY);
  const signatures = (headers['webhook-signature'] as string).split(' ');
  assert.equal(signatures.length, 2);
  assert.notEqual(signatures[0], signatures[1]);
  for (const [secret, signature] of [
    [current, signatures[0]],
    [next, signatures[1]],
  ] as const) {
    new Webhook(secret).verify(BODY, headers);
    // Each secret is satisfied by its own signature alone, in the order the secrets were listed.
    new Webhook(secret).verify(BODY, { ...headers, 'webhook-signature': signature as string });
  }
  assert.throws(() => new Webhook(stranger).verify(BODY, headers), WebhookVerificationError);
});

test('a tampered body, id or timestamp, or a wrong secret, fails verification', () => {
  const secret = newSecret();
  const headers = signatureHeaders([secret], ID, BODY);
  const webhook = new Webhook(secret);
  const noMatch = /No matching signature found/;
  assert.throws(() => webhook.verify(BODY.replace('Zoë', 'Zoe'), headers), noMatch);
  assert.throws(() => webhook.verify(`${BODY} `, headers), noMatch);
  assert.throws(() => webhook.verify(BODY, { ...headers, 'webhook-id': batchMessageId([ID]) }), noMatch);
  const timestamp = String(Number(headers['webhook-timestamp']) + 1);
  assert.throws(() => webhook.verify(BODY, { ...headers, 'webhook-timestamp': timestamp }), noMatch);
  assert.throws(() => new Webhook(newSecret()).verify(BODY, headers), noMatch);
  const { 'webhook-signature': _, ...unsigned } = headers;
  assert.throws(() => webhook.verify(BODY, unsigned), /Missing required headers/);
});

test('no secret, no headers', () => {
  assert.deepEqual(signatureHeaders([], ID, BODY), {});
});

test('a batch id is a version 5 UUID of its event ids in order, the same every time', () => {
  const ids = [ID, '0005600b-6a56-5ab0-a6a8-0742b0084fab', '515903a8-ec3b-5db1-989d-b44db65bdfca'];
  const id = batchMessageId(ids);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  // Pinned (Python's uuid.uuid5 of namespace 3301f5f9-38ba-40c2-be0a-4f9b5f0e520f and the joined ids):
  // receivers that deduplicate by webhook-id keep doing so across walhook upgrades.
  assert.equal(id, '07de1346-8209-55f4-a31c-3cf20027bb8d');
  assert.equal(batchMessageId([...ids]), id);
  assert.notEqual(batchMessageId(ids.slice(0, 2)), id);
  assert.notEqual(batchMessageId([ids[1], ids[0], ids[2]] as string[]), id);
  assert.notEqual(batchMessageId([ID]), ID, 'a batch of one is still not its event');
});
