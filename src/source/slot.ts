import type pg from 'pg';
import type { Logger } from 'pino';
import { WalhookError } from '../core/errors.js';
import { formatLsn, type Lsn, parseLsn } from '../core/lsn.js';

/**
 * The slot walhook reads: created on first start; an existing one must be a pgoutput slot of this
 * database. An invalidated slot (its WAL is gone) is never silently replaced: that would skip the
 * changes in between, so only `on_slot_lost: recreate` does it, loudly.
 */
export async function ensureSlot(
  client: pg.Client,
  slot: string,
  onLost: 'fail' | 'recreate',
  logger: Logger,
): Promise<Lsn> {
  const found = await client.query<{
    plugin: string | null;
    database: string | null;
    lsn: string | null;
    wal_status: string | null;
  }>(
    `SELECT plugin, database, confirmed_flush_lsn::text AS lsn, wal_status
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const row = found.rows[0];
  if (!row) return createSlot(client, slot, logger);
  const db = await client.query<{ db: string }>('SELECT current_database() AS db');
  if (row.plugin !== 'pgoutput' || row.database !== db.rows[0]?.db) {
    throw new WalhookError(
      'WALHOOK_ERR_SLOT_PLUGIN',
      `replication slot ${slot} belongs to ${row.database ?? 'no database'} with plugin ${row.plugin ?? 'none'}; ` +
        'choose another source.slot or drop that slot',
    );
  }
  if (row.wal_status === 'lost') {
    if (onLost === 'fail') {
      throw new WalhookError(
        'WALHOOK_ERR_SLOT_LOST',
        `replication slot ${slot} was invalidated (wal_status lost) at ${row.lsn ?? 'an unknown position'}; ` +
          'the changes since are gone from the WAL — set source.on_slot_lost: recreate to start a new slot from now',
      );
    }
    await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
    const lsn = await createSlot(client, slot, logger);
    logger.error(
      { code: 'WALHOOK_ERR_SLOT_LOST', slot, lost_from: row.lsn, new_start: formatLsn(lsn) },
      'replication slot was invalidated and has been recreated (source.on_slot_lost: recreate); changes between lost_from and new_start were not delivered',
    );
    return lsn;
  }
  const lsn = parseLsn(row.lsn ?? '0/0');
  logger.info(
    { slot, confirmed_flush_lsn: formatLsn(lsn), wal_status: row.wal_status },
    'replication slot found',
  );
  return lsn;
}

async function createSlot(client: pg.Client, slot: string, logger: Logger): Promise<Lsn> {
  const created = await client.query<{ lsn: string }>(
    `SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
    [slot],
  );
  const lsn = parseLsn(created.rows[0]?.lsn ?? '0/0');
  logger.info({ slot, lsn: formatLsn(lsn) }, 'replication slot created');
  return lsn;
}
