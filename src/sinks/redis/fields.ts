import type { DeliveryEvent } from '../../core/delivery-event.js';
import { formatLsn } from '../../core/lsn.js';

/** The fields a stream entry may carry; `fields:` picks some of them, in its order. */
export const FIELDS = ['id', 'op', 'table', 'lsn', 'trigger', 'payload'] as const;
export type Field = (typeof FIELDS)[number];

/** Everything but `trigger`, which matters only when several triggers write to one stream. */
export const DEFAULT_FIELDS: readonly Field[] = ['id', 'op', 'table', 'lsn', 'payload'];

/**
 * Why a `fields` list cannot be used, or null. A consumer deduplicates by the event id, so an entry must
 * carry it: as `id`, or inside `payload`.
 */
export function fieldsProblem(fields: readonly Field[]): string | null {
  return fields.includes('id') || fields.includes('payload')
    ? null
    : 'must hold id or payload: the event id is how a consumer drops a repeated entry';
}

/**
 * The field-value pairs of an event's entry, flat as XADD takes them. `payload` is `body`: the event as a
 * webhook receives it on its first attempt, whichever attempt stores it, so a repeated entry is the same.
 */
export function entryFields(fields: readonly Field[], event: DeliveryEvent, body: string): string[] {
  const flat: string[] = [];
  for (const field of fields) flat.push(field, fieldValue(field, event, body));
  return flat;
}

function fieldValue(field: Field, event: DeliveryEvent, body: string): string {
  switch (field) {
    case 'id':
      return event.id;
    case 'op':
      return event.op;
    case 'table':
      return event.table;
    case 'lsn':
      return formatLsn(event.commitLsn);
    case 'trigger':
      return event.target.trigger;
    case 'payload':
      return body;
  }
}
