import { createHash } from 'node:crypto';
import { formatLsn, type Lsn } from '../source/change.js';

/** Namespace of walhook event ids (a random UUID fixed once, so ids never change between versions). */
const NAMESPACE = Buffer.from('3f1c2b7e9a4d4e0f8c55d2a1b6e3f790', 'hex');

/**
 * A name-based (version 5) UUID of the change's identity: database system identifier, commit LSN,
 * index of the change among all changes of its transaction, and trigger name. The same change is
 * the same id after any replay, and config edits that add or remove triggers leave other ids alone.
 */
export function eventId(systemId: string, commitLsn: Lsn, index: number, trigger: string): string {
  const hash = createHash('sha1')
    .update(NAMESPACE)
    .update(`${systemId}/${formatLsn(commitLsn)}/${index}/${trigger}`)
    .digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
