import { hash } from 'node:crypto';
import { formatLsn, type Lsn } from './lsn.js';

/** Namespace of walhook event ids (a random UUID fixed once, so ids never change between versions). */
const NAMESPACE = Buffer.from('3f1c2b7e9a4d4e0f8c55d2a1b6e3f790', 'hex');

/** The namespace followed by room for the name: hashing from it allocates no buffer per event. */
const scratch = Buffer.alloc(1024);
NAMESPACE.copy(scratch);

/**
 * A name-based (version 5) UUID of the change's identity: database system identifier, commit LSN,
 * index of the change among all changes of its transaction, and trigger name. The same change is
 * the same id after any replay, and config edits that add or remove triggers leave other ids alone.
 */
export function eventId(systemId: string, commitLsn: Lsn, index: number, trigger: string): string {
  const name = `${systemId}/${formatLsn(commitLsn)}/${index}/${trigger}`;
  return uuidV5Text(hash('sha1', nameBytes(name), 'hex'));
}

/** A version 5 UUID in its text form, from the hex SHA-1 of namespace and name. */
export function uuidV5Text(hex: string): string {
  // The version (5) replaces the high nibble of byte 6, the variant (10xx) the top bits of byte 8.
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function nameBytes(name: string): Buffer {
  const room = scratch.length - NAMESPACE.length;
  // Every UTF-16 unit takes at most 3 bytes in UTF-8, so a name that fits by this bound is never cut.
  if (name.length * 3 > room) return Buffer.concat([NAMESPACE, Buffer.from(name)]);
  const written = scratch.write(name, NAMESPACE.length, 'utf8');
  return scratch.subarray(0, NAMESPACE.length + written);
}
