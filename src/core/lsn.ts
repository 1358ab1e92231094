/** A WAL position. Kept as bigint: LSNs are unsigned 64-bit. */
export type Lsn = bigint;

/** Postgres timestamps count microseconds from 2000-01-01T00:00:00Z. */
export const POSTGRES_EPOCH_MICROS = 946_684_800_000_000n;

/** The last LSN formatted: every event of a transaction formats its commit LSN, twice. */
let lastLsn = -1n;
let lastLsnText = '';

export function formatLsn(lsn: Lsn): string {
  if (lsn !== lastLsn) {
    lastLsn = lsn;
    lastLsnText = `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
  }
  return lastLsnText;
}

export function parseLsn(text: string): Lsn {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new RangeError(`not an LSN: ${text}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}
