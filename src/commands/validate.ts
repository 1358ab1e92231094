import pg from 'pg';
import { loadConfigs } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { type Finding, privilegeFindings } from '../preflight/privileges.js';
import { identityNeeds } from '../source/replica-identity.js';
import { walLevel } from '../source/setup.js';
import { describeTables, qualifiedName, replicaIdentityProblem, type TableInfo } from '../source/tables.js';
import { sourceTlsError } from '../source/tls-error.js';
import { whereColumns } from '../triggers/where.js';

const CONNECT_TIMEOUT_MS = 5_000;

/**
 * `walhook validate`: the config file first (an invalid file throws the one-line config error),
 * then, when the database answers, what streaming needs. Exit code 0 when usable, 2 when not.
 */
export async function validate(path: string, print: (line: string) => void): Promise<number> {
  const configs = await loadConfigs(path);
  let code = 0;
  for (const config of configs) {
    // With several pipelines, each is checked in turn and every line names its pipeline.
    const prefix = configs.length > 1 ? `pipeline ${config.pipeline}: ` : '';
    const findings = await pipelineFindings(path, config);
    const worst = report(
      findings.map((f) => ({ ...f, message: `${prefix}${f.message}` })),
      print,
    );
    code = Math.max(code, worst);
  }
  return code;
}

async function pipelineFindings(path: string, config: Readonly<Config>): Promise<Finding[]> {
  const tables = new Set(config.triggers.map((t) => qualifiedName(t.table)));
  const findings: Finding[] = [
    { level: 'ok', message: `${path}: ${config.triggers.length} trigger(s) on ${tables.size} table(s)` },
  ];
  const client = new pg.Client({
    connectionString: config.source.connection,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'walhook-validate',
  });
  try {
    await client.connect();
  } catch (err) {
    const tls = sourceTlsError(err, config.source.connection);
    if (tls) {
      findings.push({ level: 'error', message: tls.message });
      return findings;
    }
    findings.push({
      level: 'warn',
      message: `database not reachable (${(err as Error).message}); database checks skipped`,
    });
    return findings;
  }
  try {
    findings.push(...(await databaseFindings(client, config)));
  } finally {
    await client.end();
  }
  return findings;
}

function report(findings: Finding[], print: (line: string) => void): number {
  for (const finding of findings) print(`${finding.level.padEnd(5)} ${finding.message}`);
  return findings.some((f) => f.level === 'error') ? 2 : 0;
}

async function databaseFindings(client: pg.Client, config: Readonly<Config>): Promise<Finding[]> {
  const findings: Finding[] = [];
  const level = await walLevel(client);
  findings.push(
    level === 'logical'
      ? { level: 'ok', message: 'wal_level is logical' }
      : { level: 'error', message: `wal_level is ${level}; set wal_level = logical and restart Postgres` },
  );
  const role = await client.query<{ name: string; can: boolean }>(
    'SELECT rolname AS name, rolreplication OR rolsuper AS can FROM pg_roles WHERE rolname = current_user',
  );
  const roleRow = role.rows[0];
  findings.push(
    roleRow?.can
      ? { level: 'ok', message: `role ${roleRow.name} may replicate` }
      : {
          level: 'error',
          message: `role ${roleRow?.name ?? '?'} lacks REPLICATION; run ALTER ROLE ${roleRow ? pg.escapeIdentifier(roleRow.name) : '...'} REPLICATION`,
        },
  );
  const described = await describeTables(
    client,
    config.triggers.map((t) => t.table),
  );
  for (const [i, trigger] of config.triggers.entries()) {
    const table = described[i];
    const where = `triggers[${i}] (${trigger.name})`;
    if (!table) {
      findings.push({
        level: 'error',
        message: `${where}: table ${qualifiedName(trigger.table)} does not exist`,
      });
      continue;
    }
    findings.push(...(await tableFindings(client, table, trigger, where)));
  }
  const tables = described.filter((t): t is TableInfo => t !== null && !replicaIdentityProblem(t));
  for (const need of identityNeeds(
    config.triggers.filter((_, i) => described[i] && !replicaIdentityProblem(described[i] as TableInfo)),
    tables,
  )) {
    findings.push({
      level: need.level,
      message: `${qualifiedName(need.table)} lacks REPLICA IDENTITY FULL (${need.reasons.join('; ')}); run ${need.statement} or set source.replica_identity: full`,
    });
  }
  findings.push(
    ...(await privilegeFindings(
      client,
      config,
      tables,
      config.triggers.filter((_, i) => described[i] && !replicaIdentityProblem(described[i] as TableInfo)),
    )),
  );
  findings.push(...(await slotFindings(client, config)));
  return findings;
}

/** The slot (if it exists) and how much WAL it may hold before Postgres invalidates it. */
async function slotFindings(client: pg.Client, config: Readonly<Config>): Promise<Finding[]> {
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
}

/** 1536 → "1.5 KiB". */
function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
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
