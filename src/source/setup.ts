import pg from 'pg';
import type { Logger } from 'pino';
import { WalhookError } from '../core/errors.js';
import type { Lsn } from '../core/lsn.js';
import { ensurePublication, publicationGap, requireComplete } from './publication.js';
import { applyIdentity, type IdentityNeed } from './replica-identity.js';
import { installSessionCapture } from './session-capture.js';
import { ensureSlot } from './slot.js';
import {
  describeTables,
  missingTableHint,
  qualifiedName,
  replicaIdentityProblem,
  type TableInfo,
  type TableName,
} from './tables.js';

/** The prefix of the transactional message that marks where a reload takes effect. */
export const RELOAD_PREFIX = 'walhook.reload';

export interface SourceState {
  /** The database system identifier, part of every event id. */
  systemId: string;
  /** The slot's confirmed_flush_lsn when walhook started. */
  confirmedLsn: Lsn;
  /** One per trigger, in trigger order. */
  tables: TableInfo[];
  /** The triggers' names, in the order of `tables`. */
  triggerNames: readonly string[];
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
 * Prepares the database for streaming: checks wal_level, the triggers' tables and the role's
 * privileges, creates the publication (or adds missing tables to it; with `manage_publication: false`
 * only checks it) and then the slot. The publication comes first: pgoutput looks it up with the
 * catalog as of each change, so a slot older than its publication fails to decode.
 */
export async function prepareSource(
  options: TableOptions & {
    connection: string;
    slot: string;
    on_slot_lost: 'fail' | 'recreate';
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
    const tables = await prepareTables(client, options, logger);
    const role = await currentRole(client);
    const replication = `run ALTER ROLE ${pg.escapeIdentifier(role)} REPLICATION as a superuser (or grant the provider's replication role)`;
    const confirmedLsn = await permitted(`create replication slot ${options.slot}`, replication, () =>
      ensureSlot(client, options.slot, options.on_slot_lost, logger),
    );
    const systemId = await permitted('open a replication connection', replication, () =>
      systemIdentifier(options.connection),
    );
    const timeout = await client.query<{ setting: string }>(
      `SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout'`,
    );
    return {
      systemId,
      confirmedLsn,
      tables,
      triggerNames: options.triggerNames,
      walSenderTimeoutMs: Number(timeout.rows[0]?.setting ?? 60_000),
    };
  } finally {
    await client.end();
  }
}

/** What `prepareTables` needs: the triggers' tables and how walhook may change them. */
export interface TableOptions {
  publication: string;
  manage_publication: boolean;
  replica_identity: 'keep' | 'full';
  session_variables?: 'hasura' | 'off';
  toast: 'fetch' | 'omit';
  /** The triggers' tables, one entry per trigger. */
  tables: readonly TableName[];
  /** The triggers' names, in the same order: an error about a table names its triggers. */
  triggerNames: readonly string[];
  /** What the triggers would get from REPLICA IDENTITY FULL, given their tables (same order). */
  identityNeeds(tables: readonly TableInfo[]): IdentityNeed[];
}

/**
 * Checks the triggers' tables (they exist, their replica identity, SELECT for TOAST fetches), applies
 * the replica identity and session capture they need and puts them in the publication (with
 * `manage_publication: false`, only checks that it lists them). Returns them, one per trigger.
 */
export async function prepareTables(
  client: pg.Client,
  options: TableOptions,
  logger: Logger,
): Promise<TableInfo[]> {
  const role = await currentRole(client);
  const refs = options.tables;
  const described = await describeTables(client, refs);
  const tables: TableInfo[] = [];
  for (const [i, info] of described.entries()) {
    const table = refs[i] as TableName;
    if (!info) {
      const name = qualifiedName(table);
      const triggers = options.triggerNames.filter((_, j) => qualifiedName(refs[j] as TableName) === name);
      throw new WalhookError(
        'WALHOOK_ERR_TABLE_NOT_FOUND',
        `table ${name} of trigger${triggers.length > 1 ? 's' : ''} ${triggers.join(', ')} does not exist${await missingTableHint(client, table)}`,
      );
    }
    const problem = replicaIdentityProblem(info);
    if (problem) throw new WalhookError('WALHOOK_ERR_REPLICA_IDENTITY', problem);
    tables.push(info);
  }
  await applyIdentity(client, options.identityNeeds(tables), options.replica_identity, logger);
  if (options.session_variables === 'hasura') await installSessionCapture(client, tables, role, logger);
  const gap = await publicationGap(client, options.publication, tables);
  if (options.manage_publication) {
    await permitted(
      `create or alter publication ${options.publication}`,
      `set source.manage_publication: false and have an owner of the tables run: ${gap.statements.join('; ')}`,
      () => ensurePublication(client, options.publication, gap, logger),
    );
  } else {
    requireComplete(options.publication, gap);
  }
  if (options.toast === 'fetch') {
    const unreadable = await unselectable(client, tables);
    if (unreadable.length > 0) {
      const names = unreadable.map(qualifiedName).join(', ');
      throw new WalhookError(
        'WALHOOK_ERR_PERMISSION',
        `role ${role} may not SELECT from ${names}, which source.toast: fetch needs to read unchanged TOASTed values; run GRANT SELECT ON ${names} TO ${pg.escapeIdentifier(role)}, or set source.toast: omit`,
      );
    }
  }
  return tables;
}

/**
 * A reload's point in the stream: prepares the new triggers' tables (as `prepareTables`), then writes
 * a transactional `walhook.reload` message with `marker`. Every transaction that commits after it is
 * published with the new tables, and the pipeline switches to the new triggers when it reads it.
 */
export async function prepareReload(
  options: TableOptions & { connection: string; marker: string },
  logger: Logger,
  /** The tables are ready and the marker is about to be written. */
  beforeMarker: (tables: TableInfo[]) => void,
): Promise<TableInfo[]> {
  const client = new pg.Client({ connectionString: options.connection, application_name: 'walhook-reload' });
  await client.connect();
  try {
    const tables = await prepareTables(client, options, logger);
    beforeMarker(tables);
    await client.query(`SELECT pg_logical_emit_message(true, '${RELOAD_PREFIX}', $1)`, [options.marker]);
    return tables;
  } finally {
    await client.end();
  }
}

export async function currentRole(client: Pick<pg.Client, 'query'>): Promise<string> {
  return (await client.query<{ role: string }>('SELECT current_user AS role')).rows[0]?.role ?? '?';
}

/** The tables the role may not read (TOAST fetches read them by primary key). */
export async function unselectable<T extends TableInfo>(
  client: Pick<pg.Client, 'query'>,
  tables: readonly T[],
): Promise<T[]> {
  const result = await client.query<{ oid: number }>(
    `SELECT t.oid::int AS oid FROM unnest($1::oid[]) AS t(oid) WHERE NOT has_table_privilege(t.oid, 'SELECT')`,
    [tables.map((t) => t.oid)],
  );
  const denied = new Set(result.rows.map((r) => Number(r.oid)));
  return [...new Map(tables.filter((t) => denied.has(t.oid)).map((t) => [t.oid, t])).values()];
}

/** A missing privilege will not fix itself: report it once (exit 2) instead of retrying forever. */
async function permitted<T>(what: string, remedy: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if ((err as { code?: string }).code === '42501') {
      throw new WalhookError(
        'WALHOOK_ERR_PERMISSION',
        `the database role may not ${what}: ${(err as Error).message}; ${remedy}`,
        { cause: err },
      );
    }
    throw err;
  }
}
