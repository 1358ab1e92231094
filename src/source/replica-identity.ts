import type pg from 'pg';
import type { Logger } from 'pino';
import type { TriggerConfig } from '../config/schema.js';
import { WalhookError } from '../core/errors.js';
import { whereColumns } from '../triggers/where.js';
import { qualifiedName, type TableInfo } from './tables.js';

/** What a table's triggers would get from REPLICA IDENTITY FULL that the key identity cannot give. */
export interface IdentityNeed {
  table: TableInfo;
  /** `warn`: a filter cannot be exact; `info`: old rows carry only the key. */
  level: 'warn' | 'info';
  reasons: string[];
  statement: string;
}

/**
 * Tables (not already FULL) whose triggers need old values: `columns` on non-key columns (an update
 * then always fires), `where.old` on non-key columns (the old row lacks them), or just full `old` rows
 * for update and delete events.
 */
export function identityNeeds(
  triggers: readonly TriggerConfig[],
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
    const changed = trigger.operations.includes('update') ? nonKey(trigger.columns ?? []) : [];
    if (changed.length > 0) {
      need.level = 'warn';
      need.reasons.push(
        `trigger ${trigger.name}: updates cannot tell whether ${changed.join(', ')} changed, so they always fire`,
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

/**
 * `source.replica_identity: full` makes walhook set REPLICA IDENTITY FULL on the tables that need it,
 * which takes ownership of them: a role that lacks it stops walhook with the statement for the owner
 * to run (once done, the table no longer needs it). With `keep` walhook logs the statement.
 */
export async function applyIdentity(
  client: pg.Client,
  needs: readonly IdentityNeed[],
  mode: 'keep' | 'full',
  logger: Logger,
): Promise<void> {
  for (const need of needs) {
    const table = qualifiedName(need.table);
    if (mode === 'full') {
      try {
        await client.query(need.statement);
      } catch (err) {
        if ((err as { code?: string }).code !== '42501') throw err;
        throw new WalhookError(
          'WALHOOK_ERR_PERMISSION',
          `source.replica_identity: full, but the database role may not alter ${table} (${(err as Error).message}); have the table's owner run ${need.statement}, or set source.replica_identity: keep`,
          { cause: err },
        );
      }
      need.table.replicaIdentity = 'f';
      logger.info({ table }, 'replica identity set to FULL');
      continue;
    }
    logger[need.level](
      { table, reasons: need.reasons, statement: need.statement },
      'table lacks REPLICA IDENTITY FULL',
    );
  }
}
