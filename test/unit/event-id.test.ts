import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { eventId } from '../../src/core/event-id.js';
import { formatLsn } from '../../src/core/lsn.js';
import { seededRandom } from '../helpers/random.js';

test('event ids are the same UUIDs as in every earlier version', () => {
  // Receivers deduplicate by these ids across upgrades, so they are pinned, not recomputed.
  assert.equal(
    eventId('7000000000000000001', 0x16b3748n, 0, 'orders'),
    'dc3cf53a-a0ea-54c2-984b-2bab039b48d3',
  );
  assert.equal(
    eventId('7312345678901234567', 0xffff_ffff_0000_0001n, 123456, 'trigger-ü-名前'),
    '0005600b-6a56-5ab0-a6a8-0742b0084fab',
  );
  assert.equal(eventId('1', 0n, 0, 'x'.repeat(400)), '515903a8-ec3b-5db1-989d-b44db65bdfca');
});

test('event ids are RFC 9562 version 5 UUIDs of the change identity', () => {
  const namespace = Buffer.from('3f1c2b7e9a4d4e0f8c55d2a1b6e3f790', 'hex');
  const random = seededRandom(5);
  for (let i = 0; i < 2000; i++) {
    const systemId = String(7e18 + Math.floor(random() * 1e15));
    const lsn = BigInt(Math.floor(random() * 2 ** 40));
    const index = Math.floor(random() * 1e6);
    const trigger = `t${i}`.repeat(1 + (i % 200));
    const digest = createHash('sha1')
      .update(namespace)
      .update(`${systemId}/${formatLsn(lsn)}/${index}/${trigger}`)
      .digest();
    digest[6] = ((digest[6] as number) & 0x0f) | 0x50;
    digest[8] = ((digest[8] as number) & 0x3f) | 0x80;
    const hex = digest.toString('hex', 0, 16);
    const expected = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    assert.equal(eventId(systemId, lsn, index, trigger), expected);
  }
});
