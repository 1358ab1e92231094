import assert from 'node:assert/strict';
import type { Delivery } from './receiver.js';

/**
 * Checks for tests that stream counter updates: each change is (row id, seq), seq growing per row in
 * commit order. `row` and `seq` read them from a delivery.
 */
export interface StreamReport {
  changes: number;
  deliveries: number;
  duplicates: number;
}

const rowOf = (d: Delivery): number => d.body.event.data.new.id;
const seqOf = (d: Delivery): number => d.body.event.data.new.seq;
export const changeOf = (d: Delivery): string => `${rowOf(d)}:${seqOf(d)}`;

/** Every expected change arrived; each change always carries the id of its first delivery. */
export function assertComplete(deliveries: readonly Delivery[], expected: ReadonlySet<string>): StreamReport {
  const idOf = new Map<string, string>();
  for (const d of deliveries) {
    const change = changeOf(d);
    const first = idOf.get(change);
    if (first === undefined) idOf.set(change, d.body.id);
    else assert.equal(d.body.id, first, `change ${change} redelivered with the id of its first delivery`);
  }
  const missing = [...expected].filter((change) => !idOf.has(change));
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} changes missing`);
  const unexpected = [...idOf.keys()].filter((change) => !expected.has(change));
  assert.deepEqual(unexpected.slice(0, 10), [], 'no change that was never made');
  assert.equal(new Set(idOf.values()).size, idOf.size, 'distinct changes have distinct ids');
  return { changes: idOf.size, deliveries: deliveries.length, duplicates: deliveries.length - idOf.size };
}

/** Per row, the first arrival of each change comes in commit order. */
export function assertRowOrder(deliveries: readonly Delivery[]): void {
  const seen = new Set<string>();
  const last = new Map<number, number>();
  for (const d of deliveries) {
    if (seen.has(d.body.id)) continue;
    seen.add(d.body.id);
    const previous = last.get(rowOf(d));
    if (previous !== undefined) {
      assert.ok(seqOf(d) > previous, `row ${rowOf(d)}: seq ${seqOf(d)} arrived after ${previous}`);
    }
    last.set(rowOf(d), seqOf(d));
  }
}

/** A walhook config streaming inserts and updates of `counters` to `${RECEIVER}/counters`. */
export function countersConfig(slot: string, extra: { source?: string; trigger?: string } = {}): string {
  return `
source:
  connection: \${DATABASE_URL}
  slot: ${slot}
  publication: ${slot}
${extra.source ?? ''}
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: counters
    table: counters
    operations: [insert, update]
    webhook: \${RECEIVER}/counters
${extra.trigger ?? ''}
`;
}
