import pg from 'pg';
import type { Config } from '../config/schema.js';
import { formatBytes } from '../core/format.js';
import { sourceLoginError } from '../source/login-error.js';
import { currentRole, walLevel } from '../source/setup.js';
import {
  describeTables,
  missingTableHint,
  qualifiedName,
  replicaIdentityProblem,
  type TableInfo,
} from '../source/tables.js';
import { sourceTlsError } from '../source/tls-error.js';
import { identityNeeds } from '../triggers/identity-needs.js';
import { whereColumns } from '../triggers/where.js';
import { notOwned, privilegeFindings, publicationFinding } from './privileges.js';
import { type Check, type CheckContext, databaseCheck, type Finding } from './runner.js';

const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Connects to the source database for the checks after it. A TLS setup or a refused login (password,
 * role, database), which no retry fixes, is an error; a database that does not answer only skips those
 * checks, since run waits for it.
 */
export const databaseReachable: Check = {
  name: 'database reachable',
  reach: 'database',
  scope: 'pipeline',
  async run(context) {
    const { connection } = context.config.source;
    const client = new pg.Client({
      connectionString: connection,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      application_name: 'walhook-validate',
    });
    try {
      await client.connect();
    } catch (err) {
      const refused = sourceTlsError(err, connection) ?? sourceLoginError(err, connection);
      if (refused) return [{ level: 'error', message: refused.message, code: refused.code }];
      return [
        {
          level: 'warn',
          message: `database not reachable (${(err as Error).message}); database checks skipped`,
        },
      ];
    }
    // The server going away between two checks fails the next query, which reports it; unhandled, the
    // client's error event would end the process instead.
    client.on('error', () => {});
    context.client = client;
    return [];
  },
};

export const walLevelCheck = databaseCheck('wal_level', async (client) => {
  const level = await walLevel(client);
  return [
    level === 'logical'
      ? { level: 'ok', message: 'wal_level is logical' }
      : { level: 'error', message: `wal_level is ${level}; set wal_level = logical and restart Postgres` },
  ];
});

export const replicationRole = databaseCheck('replication role', async (client) => {
  const role = await client.query<{ name: string; can: boolean }>(
    'SELECT rolname AS name, rolreplication OR rolsuper AS can FROM pg_roles WHERE rolname = current_user',
  );
  const row = role.rows[0];
  return [
    row?.can
      ? { level: 'ok', message: `role ${row.name} may replicate` }
      : {
          level: 'error',
          message: `role ${row?.name ?? '?'} lacks REPLICATION; run ALTER ROLE ${row ? pg.escapeIdentifier(row.name) : '...'} REPLICATION`,
        },
  ];
});

/** Each trigger's table: it exists, has a replica identity, and has the columns the trigger names. */
export const triggerTables = databaseCheck('tables', async (client, context) => {
  const { config } = context;
  const described = await describedTables(client, context);
  const findings: Finding[] = [];
  for (const [i, trigger] of config.triggers.entries()) {
    const table = described[i];
    const where = `triggers[${i}] (${trigger.name})`;
    if (!table) {
      findings.push({
        level: 'error',
        message: `${where}: table ${qualifiedName(trigger.table)} does not exist${await missingTableHint(client, trigger.table)}`,
      });
      continue;
    }
    findings.push(...(await tableFindings(client, table, trigger, where)));
  }
  return findings;
});

/**
 * The tables that lack REPLICA IDENTITY FULL for what their triggers need (old values). Only an owner
 * may set it: for another role's table, source.replica_identity: full would fail, so the owner is named.
 */
export const replicaIdentity = databaseCheck('replica identity', async (client, context) => {
  const { tables, triggers } = usable(await describedTables(client, context), context.config);
  const needs = identityNeeds(triggers, tables);
  const foreign = await notOwned(
    client,
    needs.map((need) => need.table),
  );
  const role = foreign.size > 0 ? await currentRole(client) : '';
  return needs.map((need) => {
    const owner = foreign.get(need.table.oid);
    const fix =
      owner === undefined
        ? `run ${need.statement} or set source.replica_identity: full`
        : `have its owner (role ${owner}) run ${need.statement} (role ${role} does not own it, so source.replica_identity: full cannot)`;
    return {
      level: need.level,
      message: `${qualifiedName(need.table)} lacks REPLICA IDENTITY FULL (${need.reasons.join('; ')}); ${fix}`,
    };
  });
});

export const publication = databaseCheck('publication', async (client, context) => {
  const { tables } = usable(await describedTables(client, context), context.config);
  return [await publicationFinding(client, context.config, tables)];
});

export const privileges = databaseCheck('privileges', async (client, context) => {
  const { tables, triggers } = usable(await describedTables(client, context), context.config);
  return privilegeFindings(client, context.config, tables, triggers);
});

/** The slot (if it exists) and how much WAL it may hold before Postgres invalidates it. */
export const slot = databaseCheck('slot', async (client, { config }) => {
  const { slot: name, max_retained_wal: maxRetained, on_slot_lost: onLost } = config.source;
  const findings: Finding[] = [];
  const keep = (
    await client.query<{ shown: string; mb: string }>(
      `SELECT current_setting('max_slot_wal_keep_size') AS shown, setting AS mb
         FROM pg_settings WHERE name = 'max_slot_wal_keep_size'`,
    )
  ).rows[0];
  const keepBytes = keep && Number(keep.mb) >= 0 ? Number(keep.mb) * 2 ** 20 : null;
  if (keepBytes === null) {
    findings.push({
      level: 'info',
      message: `max_slot_wal_keep_size is -1 (unlimited): a slot that stops advancing keeps WAL until the disk fills; walhook warns past source.max_retained_wal (${formatBytes(maxRetained)})`,
    });
  } else {
    findings.push({
      level: maxRetained >= keepBytes ? 'warn' : 'info',
      message:
        maxRetained >= keepBytes
          ? `max_slot_wal_keep_size is ${keep?.shown}, not above source.max_retained_wal (${formatBytes(maxRetained)}): Postgres may invalidate the slot before walhook warns; lower source.max_retained_wal`
          : `max_slot_wal_keep_size is ${keep?.shown}: Postgres invalidates a slot retaining more WAL, and walhook then stops with WALHOOK_ERR_SLOT_LOST`,
    });
  }
  const slot = await client.query<{
    plugin: string | null;
    database: string | null;
    wal_status: string | null;
    retained: string | null;
  }>(
    `SELECT plugin, database, wal_status, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8::text AS retained
       FROM pg_replication_slots WHERE slot_name = $1`,
    [name],
  );
  const row = slot.rows[0];
  const db = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db;
  const retained = row?.retained == null ? null : Number(row.retained);
  if (!row) findings.push({ level: 'ok', message: `slot ${name} will be created` });
  else if (row.plugin !== 'pgoutput' || row.database !== db) {
    findings.push({
      level: 'error',
      message: `slot ${name} exists with plugin ${row.plugin} on database ${row.database}; choose another source.slot`,
    });
  } else if (row.wal_status === 'lost') {
    findings.push(
      onLost === 'recreate'
        ? {
            level: 'warn',
            message: `slot ${name} was invalidated (wal_status lost); walhook will re-create it from now (source.on_slot_lost: recreate), skipping the changes in between`,
          }
        : {
            level: 'error',
            message: `slot ${name} was invalidated (wal_status lost): its changes since are gone; set source.on_slot_lost: recreate to start a new slot from now`,
          },
    );
  } else if (row.wal_status === 'unreserved') {
    findings.push({
      level: 'warn',
      message: `slot ${name} retains more WAL than max_slot_wal_keep_size (wal_status unreserved): Postgres invalidates it at the next checkpoint unless it advances`,
    });
  } else {
    const held = retained === null ? 'no WAL' : `${formatBytes(retained)} of WAL`;
    findings.push(
      retained !== null && retained > maxRetained
        ? {
            level: 'warn',
            message: `slot ${name} exists (wal_status ${row.wal_status}) and retains ${held}, more than source.max_retained_wal (${formatBytes(maxRetained)})`,
          }
        : { level: 'ok', message: `slot ${name} exists (wal_status ${row.wal_status}, retains ${held})` },
    );
  }
  return findings;
});

/** The triggers' tables as the database describes them (null: missing), looked up once per context. */
const described = new WeakMap<CheckContext, Promise<(TableInfo | null)[]>>();

function describedTables(client: pg.Client, context: CheckContext): Promise<(TableInfo | null)[]> {
  let tables = described.get(context);
  if (tables === undefined) {
    tables = describeTables(
      client,
      context.config.triggers.map((t) => t.table),
    );
    described.set(context, tables);
  }
  return tables;
}

/**
 * The tables walhook can stream (they exist and have a replica identity) and their triggers, in
 * trigger order: what the identity and privilege checks are about. The others are errors already.
 */
function usable(
  tables: readonly (TableInfo | null)[],
  config: Readonly<Config>,
): { tables: TableInfo[]; triggers: Config['triggers'] } {
  const ok = (table: TableInfo | null | undefined): table is TableInfo =>
    table != null && !replicaIdentityProblem(table);
  return {
    tables: tables.filter(ok),
    triggers: config.triggers.filter((_, i) => ok(tables[i])),
  };
}

async function tableFindings(
  client: pg.Client,
  table: TableInfo,
  trigger: Config['triggers'][number],
  where: string,
): Promise<Finding[]> {
  const name = qualifiedName(table);
  const problem = replicaIdentityProblem(table);
  if (problem) return [{ level: 'error', message: `${where}: ${problem}` }];
  const findings: Finding[] = [{ level: 'ok', message: `${where}: table ${name} exists` }];
  const columns = await client.query<{ name: string; key: boolean }>(
    `SELECT a.attname AS name,
            EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = a.attrelid AND x.indisprimary AND a.attnum = ANY (x.indkey)) AS key
       FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`,
    [table.oid],
  );
  const byName = new Map(columns.rows.map((c) => [c.name, c.key]));
  const referenced = trigger.where
    ? whereColumns(trigger.where)
    : { new: new Set<string>(), old: new Set<string>() };
  for (const column of [...(trigger.columns ?? []), ...referenced.new, ...referenced.old]) {
    if (!byName.has(column))
      findings.push({ level: 'error', message: `${where}: column ${column} not in ${name}` });
  }
  return findings;
}
