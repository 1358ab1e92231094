import type { IdentityNeed } from '../source/replica-identity.js';
import { qualifiedName, type TableInfo } from '../source/tables.js';
import { whereColumns } from './where.js';
import type { WhereExpression } from './where-schema.js';

/** What decides whether a trigger needs old values: the parts of its definition that read them. */
export interface IdentityTrigger {
  name: string;
  operations: readonly string[];
  columns?: readonly string[] | undefined;
  where?: WhereExpression | undefined;
  skip_unchanged_updates?: boolean | undefined;
}

/**
 * Tables (not already FULL) whose triggers need old values: `columns` on non-key columns or
 * `skip_unchanged_updates` without `columns` (an update then always fires), `where.old` on non-key
 * columns (the old row lacks them), or just full `old` rows for update and delete events.
 */
export function identityNeeds(
  triggers: readonly IdentityTrigger[],
  tables: readonly TableInfo[],
): IdentityNeed[] {
  const needs = new Map<number, IdentityNeed>();
  triggers.forEach((trigger, i) => {
    const table = tables[i];
    if (!table || table.replicaIdentity === 'f') return;
    const key = new Set(table.primaryKey);
    const nonKey = (columns: Iterable<string>) => [...columns].filter((c) => !key.has(c));
    const need = needs.get(table.oid) ?? {
      table,
      level: 'info',
      reasons: [],
      statement: `ALTER TABLE ${qualifiedName(table)} REPLICA IDENTITY FULL`,
    };
    const updates = trigger.operations.includes('update');
    const changed = updates ? nonKey(trigger.columns ?? []) : [];
    if (changed.length > 0) {
      need.level = 'warn';
      need.reasons.push(
        `trigger ${trigger.name}: updates cannot tell whether ${changed.join(', ')} changed, so they always fire`,
      );
    }
    if (updates && trigger.skip_unchanged_updates && trigger.columns === undefined) {
      need.level = 'warn';
      need.reasons.push(
        `trigger ${trigger.name}: skip_unchanged_updates cannot compare old values, so every update fires`,
      );
    }
    const old = trigger.where ? nonKey(whereColumns(trigger.where).old) : [];
    if (old.length > 0) {
      need.level = 'warn';
      need.reasons.push(`trigger ${trigger.name}: where.old uses ${old.join(', ')}, which the old row lacks`);
    }
    if (trigger.operations.includes('update') || trigger.operations.includes('delete')) {
      need.reasons.push(`trigger ${trigger.name}: old rows carry only the key`);
    }
    if (need.reasons.length > 0) needs.set(table.oid, need);
  });
  return [...needs.values()];
}
