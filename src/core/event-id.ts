import { hash } from 'node:crypto';
import { formatLsn, type Lsn } from './lsn.js';

/** Namespace of walhook event ids (a random UUID fixed once, so ids never change between versions). */
const NAMESPACE = Buffer.from('3f1c2b7e9a4d4e0f8c55d2a1b6e3f790', 'hex');

/**
 * The namespace followed by room for the name: hashing from it allocates no buffer per event. The name's
 * start (`systemId/lsn/`) stays written while events of one transaction follow each other.
 */
const scratch = Buffer.alloc(1024);
NAMESPACE.copy(scratch);
let prefixSystemId = '';
let prefixLsn = -1n;
/** Where the index goes: after the namespace and the cached `systemId/lsn/`. */
let prefixEnd = 0;

/** `scratch`'s first N bytes by N, made once each: a Buffer view costs more to make than the hash. */
const views: Buffer[] = [];

/** The trigger name last hashed, as UTF-8: a transaction's events mostly come one trigger at a time. */
let lastTrigger = '';
let lastTriggerBytes = Buffer.alloc(0);

/** Node's Buffer method behind `toString('latin1', …)`, left out of its type declarations. */
type Latin1Slicing = Buffer & { latin1Slice(start: number, end: number): string };

/** An id's 36 characters are written here, then read as one flat string (see `uuidV5`). */
const text = Buffer.alloc(36);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A name-based (version 5) UUID of the change's identity: database system identifier, commit LSN,
 * index of the change among all changes of its transaction, and trigger name. The same change is
 * the same id after any replay, and config edits that add or remove triggers leave other ids alone.
 */
export function eventId(systemId: string, commitLsn: Lsn, index: number, trigger: string): string {
  if (systemId !== prefixSystemId || commitLsn !== prefixLsn) {
    prefixSystemId = systemId;
    prefixLsn = commitLsn;
    // A system identifier is at most 20 digits and an LSN 17 characters: this always fits.
    prefixEnd = NAMESPACE.length + scratch.write(`${systemId}/${formatLsn(commitLsn)}/`, NAMESPACE.length);
  }
  // Every UTF-16 unit takes at most 3 bytes in UTF-8, so a name that fits by this bound is never cut.
  if (prefixEnd + 12 + trigger.length * 3 > scratch.length) {
    const name = Buffer.from(`${systemId}/${formatLsn(commitLsn)}/${index}/${trigger}`);
    return uuidV5(hash('sha1', Buffer.concat([NAMESPACE, name]), 'hex'));
  }
  let end = writeDigits(index, prefixEnd);
  scratch[end++] = 0x2f; // '/'
  if (trigger !== lastTrigger) {
    lastTrigger = trigger;
    lastTriggerBytes = Buffer.from(trigger, 'utf8');
  }
  for (let i = 0; i < lastTriggerBytes.length; i++) scratch[end++] = lastTriggerBytes[i] as number;
  // Hex, not a Buffer: node:crypto's one-shot hash makes a Buffer result three times slower.
  let name = views[end];
  if (name === undefined) {
    name = scratch.subarray(0, end);
    views[end] = name;
  }
  return uuidV5(hash('sha1', name, 'hex'));
}

/**
 * The version 5 UUID, in its text form, of the hex SHA-1 of namespace and name: version 5 in the high
 * nibble of byte 6, variant 10xx in the top bits of byte 8. Written as bytes and read once: a string
 * assembled from pieces would be a tree of them, waiting in flight with its event.
 */
export function uuidV5(hex: string): string {
  let at = 0;
  for (let i = 0; i < 32; i++) {
    if (i === 8 || i === 12 || i === 16 || i === 20) text[at++] = 0x2d; // '-'
    text[at++] = hex.charCodeAt(i);
  }
  text[14] = 0x35; // '5'
  text[19] = HEX[(Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8] as number;
  return (text as Latin1Slicing).latin1Slice(0, 36);
}

/** Writes a non-negative integer's decimal digits at `at`; returns where they end. */
function writeDigits(value: number, at: number): number {
  const start = at;
  do {
    scratch[at++] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  } while (value > 0);
  for (let i = start, j = at - 1; i < j; i++, j--) {
    const digit = scratch[i] as number;
    scratch[i] = scratch[j] as number;
    scratch[j] = digit;
  }
  return at;
}
