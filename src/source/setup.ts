import pg from 'pg';
import type { Logger } from 'pino';
import type { TriggerConfig } from '../config/schema.js';
import { WalhookError } from '../errors.js';
import type { Lsn } from './change.js';
import { ensurePublication } from './publication.js';
import { applyIdentity, identityNeeds } from './replica-identity.js';
import { ensureSlot } from './slot.js';
import {
  describeTables,
  qualifiedName,
  replicaIdentityProblem,
  type TableInfo,
  type TableRef,
} from './tables.js';

export interface SourceState {
  /** The database system identifier, part of every event id. */
  systemId: string;
  /** The slot's confirmed_flush_lsn when walhook started. */
  confirmedLsn: Lsn;
  tables: TableInfo[];
  /** The server's wal_sender_timeout in milliseconds (0: disabled). */
  walSenderTimeoutMs: number;
}

export async function walLevel(client: pg.Client): Promise<string> {
  const result = await client.query<{ wal_level: string }>('SHOW wal_level');
  return result.rows[0]?.wal_level ?? 'unknown';
}

/** The system identifier through IDENTIFY_SYSTEM, which needs only the REPLICATION privilege. */
export async function systemIdentifier(connection: string): Promise<string> {
  const client = new pg.Client({ connectionString: connection, replication: 'database' } as pg.ClientConfig);
  await client.connect();
  try {
    const result = await client.query<{ systemid: string }>('IDENTIFY_SYSTEM');
    return String(result.rows[0]?.systemid);
  } finally {
    await client.end();
  }
}

/**
 * Prepares the database for streaming: checks wal_level and the triggers' tables, creates the
 * publication (or adds missing tables to it) and then the slot. The publication comes first: pgoutput
 * looks it up with the catalog as of each change, so a slot older than its publication fails to decode.
 */
export async function prepareSource(
  options: {
    connection: string;
    slot: string;
    publication: string;
    on_slot_lost: 'fail' | 'recreate';
    replica_identity: 'keep' | 'full';
    triggers: readonly TriggerConfig[];
  },
  logger: Logger,
): Promise<SourceState> {
  const client = new pg.Client({ connectionString: options.connection, application_name: 'walhook-setup' });
  await client.connect();
  try {
    const level = await walLevel(client);
    if (level !== 'logical') {
      throw new WalhookError(
        'WALHOOK_ERR_WAL_LEVEL',
        `wal_level is ${level}; set wal_level = logical in postgresql.conf and restart Postgres`,
      );
    }
    const refs = options.triggers.map((t) => t.table);
    const described = await describeTables(client, refs);
    const tables: TableInfo[] = [];
    described.forEach((info, i) => {
      const table = refs[i] as TableRef;
      if (!info) {
        throw new WalhookError(
          'WALHOOK_ERR_TABLE_NOT_FOUND',
          `table ${qualifiedName(table)} does not exist; create it or fix the trigger's table`,
        );
      }
      const problem = replicaIdentityProblem(info);
      if (problem) throw new WalhookError('WALHOOK_ERR_REPLICA_IDENTITY', problem);
      tables.push(info);
    });
    await applyIdentity(client, identityNeeds(options.triggers, tables), options.replica_identity, logger);
    await permitted(`create or alter publication ${options.publication}`, () =>
      ensurePublication(client, options.publication, tables, logger),
    );
    const confirmedLsn = await permitted(`create replication slot ${options.slot}`, () =>
      ensureSlot(client, options.slot, options.on_slot_lost, logger),
    );
    const systemId = await permitted('open a replication connection', () =>
      systemIdentifier(options.connection),
    );
    const timeout = await client.query<{ setting: string }>(
      `SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout'`,
    );
    return { systemId, confirmedLsn, tables, walSenderTimeoutMs: Number(timeout.rows[0]?.setting ?? 60_000) };
  } finally {
    await client.end();
  }
}

/** A missing privilege will not fix itself: report it once (exit 2) instead of retrying forever. */
async function permitted<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if ((err as { code?: string }).code === '42501') {
      throw new WalhookError(
        'WALHOOK_ERR_PERMISSION',
        `the database role may not ${what}: ${(err as Error).message}; grant REPLICATION and ownership of the tables`,
        { cause: err },
      );
    }
    throw err;
  }
}
