import pg from 'pg';
import type { Config } from '../config/schema.js';
import { gapSummary, publicationGap } from '../source/publication.js';
import { CAPTURE_FUNCTION, CAPTURE_TRIGGER, capturePlan, captureRemedy } from '../source/session-capture.js';
import { currentRole, unselectable } from '../source/setup.js';
import { qualifiedName, type TableInfo } from '../source/tables.js';
import { identityNeeds } from '../triggers/identity-needs.js';
import type { Finding } from './runner.js';

/**
 * What walhook will do that needs a privilege, checked for the connecting role without changing
 * anything: TOAST reads, REPLICA IDENTITY FULL and the dead-letter table. `tables` are the triggers'
 * tables that exist, in trigger order.
 */
export async function privilegeFindings(
  client: pg.Client,
  config: Readonly<Config>,
  tables: readonly TableInfo[],
  triggers: Config['triggers'],
): Promise<Finding[]> {
  const role = await currentRole(client);
  const findings: Finding[] = [];
  if (config.source.toast === 'fetch') {
    const unreadable = (await unselectable(client, tables)).map(qualifiedName).join(', ');
    if (unreadable) {
      findings.push({
        level: 'error',
        message: `role ${role} may not SELECT from ${unreadable} (source.toast: fetch reads unchanged TOASTed values); run GRANT SELECT ON ${unreadable} TO ${pg.escapeIdentifier(role)}, or set source.toast: omit`,
      });
    }
  }
  if (config.source.replica_identity === 'full') {
    const needs = identityNeeds(triggers, tables);
    const foreign = await notOwned(
      client,
      needs.map((n) => n.table),
    );
    for (const need of needs.filter((n) => foreign.has(n.table.oid))) {
      findings.push({
        level: 'error',
        message: `source.replica_identity: full, but role ${role} does not own ${qualifiedName(need.table)}; have its owner (role ${foreign.get(need.table.oid)}) run ${need.statement}, or set source.replica_identity: keep`,
      });
    }
  }
  if (config.source.session_variables === 'hasura')
    findings.push(await sessionCaptureFinding(client, tables, role));
  const deadLetters = await deadLetterFinding(client, config, role);
  if (deadLetters) findings.push(deadLetters);
  return findings;
}

/** source.session_variables: hasura: what walhook will install at start, or the SQL for the owners. */
async function sessionCaptureFinding(
  client: pg.Client,
  tables: readonly TableInfo[],
  role: string,
): Promise<Finding> {
  const plan = await capturePlan(client, tables);
  const remedy = captureRemedy(plan, role);
  if (remedy) return { level: 'warn', message: remedy };
  if (!plan.functionMissing && plan.tables.length === 0) {
    return { level: 'ok', message: `session capture (trigger ${CAPTURE_TRIGGER}) is on every trigger table` };
  }
  const missing = plan.tables.map((t) => qualifiedName(t.table));
  return {
    level: 'info',
    message: `walhook will install the session capture: ${[...(plan.functionMissing ? [`function ${CAPTURE_FUNCTION}`] : []), ...missing.map((name) => `trigger ${CAPTURE_TRIGGER} on ${name}`)].join(', ')}`,
  };
}

/** Whether the publication lists the triggers' tables, and otherwise whether the role may make it do so. */
export async function publicationFinding(
  client: pg.Client,
  config: Readonly<Config>,
  tables: readonly TableInfo[],
): Promise<Finding> {
  const role = await currentRole(client);
  const { publication, manage_publication: manage } = config.source;
  const gap = await publicationGap(client, publication, tables);
  const summary = gapSummary(publication, gap);
  const statements = gap.statements.join('; ');
  if (!summary) return { level: 'ok', message: `publication ${publication} lists the triggers' tables` };
  if (!manage) {
    return {
      level: 'error',
      message: `${summary} (source.manage_publication: false); as an owner of the tables run: ${statements}`,
    };
  }
  const rights = (
    await client.query<{ create: boolean; owns: boolean }>(
      `SELECT has_database_privilege(current_database(), 'CREATE') AS create,
              COALESCE((SELECT pg_has_role(pubowner, 'USAGE') FROM pg_publication WHERE pubname = $1), false) AS owns`,
      [publication],
    )
  ).rows[0];
  const allowed = gap.exists ? rights?.owns : rights?.create;
  if (allowed && (await notOwned(client, gap.missing)).size === 0) {
    return { level: 'info', message: `${summary}; walhook will run: ${statements}` };
  }
  return {
    level: 'error',
    message: `${summary}, and role ${role} may not ${gap.exists ? 'alter it (it needs ownership of the publication and the tables)' : 'create it (it needs CREATE on the database and ownership of the tables)'}; set source.manage_publication: false and have an owner of the tables run: ${statements}`,
  };
}

/** The OIDs among `tables` whose owner the role is not (nor a member of), with the owner's name. */
export async function notOwned(
  client: pg.Client,
  tables: readonly TableInfo[],
): Promise<Map<number, string>> {
  if (tables.length === 0) return new Map();
  const result = await client.query<{ oid: number; owner: string }>(
    `SELECT c.oid::int AS oid, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
      WHERE c.oid = ANY ($1::oid[]) AND NOT pg_has_role(c.relowner, 'USAGE')`,
    [tables.map((t) => t.oid)],
  );
  return new Map(result.rows.map((r) => [Number(r.oid), r.owner]));
}

/** The dead-letter table: writable when it exists, else creatable in its schema. */
async function deadLetterFinding(
  client: pg.Client,
  config: Readonly<Config>,
  role: string,
): Promise<Finding | null> {
  const target = config.dead_letter;
  if (!('table' in target) || !target.table) return null;
  const [schema = '', name = ''] = target.table.split('.');
  const quoted = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;
  const row = (
    await client.query<{ exists: boolean; writable: boolean; schema: boolean; creatable: boolean }>(
      `SELECT to_regclass($1) IS NOT NULL AS exists,
              to_regclass($1) IS NOT NULL
                AND (SELECT bool_and(has_table_privilege(to_regclass($1), p))
                       FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p) AS writable,
              to_regnamespace($2) IS NOT NULL AS schema,
              CASE WHEN to_regnamespace($2) IS NOT NULL
                   THEN has_schema_privilege(to_regnamespace($2), 'USAGE') AND has_schema_privilege(to_regnamespace($2), 'CREATE')
                   ELSE has_database_privilege(current_database(), 'CREATE') END AS creatable`,
      [quoted, pg.escapeIdentifier(schema)],
    )
  ).rows[0];
  if (row?.exists) {
    return row.writable
      ? { level: 'ok', message: `dead-letter table ${target.table} exists` }
      : {
          level: 'error',
          message: `role ${role} may not write the dead-letter table ${target.table}; run GRANT SELECT, INSERT, UPDATE, DELETE ON ${quoted} TO ${pg.escapeIdentifier(role)}`,
        };
  }
  if (row?.creatable) return { level: 'ok', message: `dead-letter table ${target.table} will be created` };
  return {
    level: 'error',
    message: `role ${role} may not create the dead-letter table ${target.table}; have an admin run ${row?.schema ? `GRANT USAGE, CREATE ON SCHEMA ${pg.escapeIdentifier(schema)} TO ${pg.escapeIdentifier(role)}` : `CREATE SCHEMA ${pg.escapeIdentifier(schema)} AUTHORIZATION ${pg.escapeIdentifier(role)}`}`,
  };
}
