import type pg from 'pg';
import type { Logger } from 'pino';
import { WalhookError } from '../core/errors.js';
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
