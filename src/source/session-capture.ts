import type pg from 'pg';
import type { Logger } from 'pino';
import { qualifiedName, type TableInfo, type TableName } from './tables.js';

/** The trigger's name on every table, so installing again finds it instead of adding a second one. */
export const CAPTURE_TRIGGER = 'walhook_session_capture';
export const CAPTURE_FUNCTION = 'walhook.session_capture()';

/**
 * Emits Hasura's session settings as one `walhook.session` message when the statement's transaction
 * has them set, before the statement's changes are in the WAL. The text is built by concatenation,
 * not parsed: a malformed setting must not fail the user's write (walhook ignores that message with a
 * warning). What was sent is kept in a transaction-local setting, so a transaction of many statements
 * writes one message, and another only when the settings change (an unset clears what was sent).
 */
const CAPTURE_BODY =
  " DECLARE s text := nullif(current_setting('hasura.user', true), '');" +
  " t text := nullif(current_setting('hasura.tracecontext', true), ''); m text;" +
  ' BEGIN IF s IS NOT NULL OR t IS NOT NULL THEN' +
  ` m := '{"session_variables":' || coalesce(s, 'null') || ',"trace_context":' || coalesce(t, 'null') || '}';` +
  " END IF; IF m IS DISTINCT FROM nullif(current_setting('walhook.session_sent', true), '') THEN" +
  ` PERFORM pg_logical_emit_message(true, 'walhook.session', coalesce(m, '{"session_variables":null,"trace_context":null}'));` +
  " PERFORM set_config('walhook.session_sent', coalesce(m, ''), true); END IF; RETURN NULL; END ";

export const CAPTURE_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION ${CAPTURE_FUNCTION} RETURNS trigger LANGUAGE plpgsql AS $walhook$${CAPTURE_BODY}$walhook$`;

/** BEFORE, so that the message precedes the statement's changes in the WAL. */
export function captureTriggerSql(table: TableName): string {
  return `CREATE TRIGGER ${CAPTURE_TRIGGER} BEFORE INSERT OR UPDATE OR DELETE ON ${qualifiedName(table)} FOR EACH STATEMENT EXECUTE FUNCTION ${CAPTURE_FUNCTION}`;
}

/** What is missing of the capture, and what the connecting role may do about it. */
export interface CapturePlan {
  /** The function is absent or differs from this version's. */
  functionMissing: boolean;
  /** The role may create (or replace) it, and the schema if need be. */
  functionAllowed: boolean;
  /** Tables without the trigger, each with its owner and whether the role may create it there. */
  tables: { table: TableInfo; owner: string; allowed: boolean }[];
}

/** Reads what is installed, changing nothing (validate shows it; start then installs it). */
export async function capturePlan(
  client: Pick<pg.Client, 'query'>,
  tables: readonly TableInfo[],
): Promise<CapturePlan> {
  // Looked up in the catalog, not with to_regprocedure: that needs USAGE on the schema, which a role
  // that is only told what to ask for may lack.
  const fn = (
    await client.query<{ current: boolean | null; allowed: boolean }>(
      `WITH f AS (SELECT p.prosrc, p.proowner FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = 'walhook' AND p.proname = 'session_capture' AND p.pronargs = 0)
       SELECT (SELECT prosrc = $1 FROM f) AS current,
              CASE WHEN EXISTS (SELECT FROM f) THEN (SELECT pg_has_role(proowner, 'USAGE') FROM f)
                   WHEN EXISTS (SELECT FROM pg_namespace WHERE nspname = 'walhook')
                   THEN has_schema_privilege('walhook', 'CREATE')
                   ELSE has_database_privilege(current_database(), 'CREATE') END AS allowed`,
      [CAPTURE_BODY],
    )
  ).rows[0];
  const unique = [...new Map(tables.map((t) => [t.oid, t])).values()];
  const rows = (
    await client.query<{ oid: number; owner: string; allowed: boolean }>(
      `SELECT c.oid::int AS oid, pg_get_userbyid(c.relowner) AS owner, has_table_privilege(c.oid, 'TRIGGER') AS allowed
         FROM pg_class c
        WHERE c.oid = ANY ($1::oid[])
          AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = $2)`,
      [unique.map((t) => t.oid), CAPTURE_TRIGGER],
    )
  ).rows;
  const byOid = new Map(unique.map((t) => [t.oid, t]));
  return {
    functionMissing: fn?.current !== true,
    functionAllowed: fn?.allowed === true,
    tables: rows.map((row) => ({
      table: byOid.get(Number(row.oid)) as TableInfo,
      owner: row.owner,
      allowed: row.allowed,
    })),
  };
}

/**
 * The one line for what the role may not do itself: the statements, and who must run them (the
 * tables' owners; the function also needs CREATE on schema walhook). Null when nothing is left.
 */
export function captureRemedy(plan: CapturePlan, role: string): string | null {
  const statements: string[] = [];
  if (plan.functionMissing && !plan.functionAllowed) {
    statements.push('CREATE SCHEMA IF NOT EXISTS walhook', CAPTURE_FUNCTION_SQL);
  }
  const refused = plan.tables.filter((t) => !t.allowed || (plan.functionMissing && !plan.functionAllowed));
  if (statements.length === 0 && refused.length === 0) return null;
  statements.push(...refused.map((t) => captureTriggerSql(t.table)));
  const owners = [...new Set(refused.map((t) => t.owner))];
  const who =
    owners.length > 0
      ? `the owner of ${refused.map((t) => qualifiedName(t.table)).join(', ')} (role ${owners.join(', ')})`
      : 'a role that may create in schema walhook';
  return `source.session_variables: hasura, but role ${role} may not install the session capture; have ${who} run: ${statements.join('; ')}`;
}

/**
 * `source.session_variables: hasura` at start: creates what is missing where the role may (a trigger
 * is added only when absent, since CREATE TRIGGER briefly locks the table against writes) and logs the
 * statements for the rest. Events still flow meanwhile, without session variables.
 */
export async function installSessionCapture(
  client: pg.Client,
  tables: readonly TableInfo[],
  role: string,
  logger: Logger,
): Promise<void> {
  const plan = await capturePlan(client, tables);
  if (plan.functionMissing && plan.functionAllowed) {
    await client.query('CREATE SCHEMA IF NOT EXISTS walhook');
    await client.query(CAPTURE_FUNCTION_SQL);
    logger.info({ function: CAPTURE_FUNCTION }, 'session capture function installed');
  }
  const functionReady = !plan.functionMissing || plan.functionAllowed;
  for (const { table, allowed } of plan.tables) {
    if (!allowed || !functionReady) continue;
    await client.query(captureTriggerSql(table));
    logger.info(
      { table: qualifiedName(table), trigger: CAPTURE_TRIGGER },
      'session capture trigger installed',
    );
  }
  const remedy = captureRemedy(plan, role);
  if (remedy) logger.warn(remedy);
}
