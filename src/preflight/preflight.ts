import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { WalhookError } from '../core/errors.js';
import { adminToken, configSummary, sinksReachable, tlsFiles } from './checks.js';
import {
  databaseReachable,
  privileges,
  publication,
  replicaIdentity,
  replicationRole,
  slot,
  triggerTables,
  walLevelCheck,
} from './database.js';
import { type Check, type CheckContext, type Finding, findingLine, runChecks } from './runner.js';

const PROBE_TIMEOUT_MS = 3_000;

/**
 * Every check, in the order validate prints them. `walhook run` runs the local ones before anything
 * connects and probes the sinks in the background; the database ones it leaves to the source setup,
 * which does the same checks once Postgres answers and retries until it does.
 */
export const CHECKS: readonly Check[] = [
  configSummary,
  tlsFiles,
  adminToken,
  databaseReachable,
  walLevelCheck,
  replicationRole,
  triggerTables,
  replicaIdentity,
  publication,
  privileges,
  slot,
  sinksReachable,
];

/**
 * `walhook validate`: every check of every pipeline, the shared settings once. With several pipelines
 * each of a pipeline's lines names it. `emit` gets each finding as soon as its check is done.
 */
export async function preflight(
  path: string,
  configs: readonly Readonly<Config>[],
  emit: (finding: Finding) => void,
  checks: readonly Check[] = CHECKS,
): Promise<Finding[]> {
  const all: Finding[] = [];
  const shared = new Set(checks.filter((c) => c.scope === 'process').map((c) => c.name));
  for (const [index, config] of configs.entries()) {
    const prefix = configs.length > 1 ? `pipeline ${config.pipeline}: ` : '';
    const context: CheckContext = { path, config, client: null, probeTimeoutMs: PROBE_TIMEOUT_MS };
    const mine = checks.filter((c) => c.scope === 'pipeline' || index === 0);
    try {
      await runChecks(mine, context, (finding) => {
        const named = shared.has(finding.check ?? '')
          ? finding
          : { ...finding, message: `${prefix}${finding.message}` };
        all.push(named);
        emit(named);
      });
    } finally {
      await context.client?.end().catch(() => {});
    }
  }
  return all;
}

/** Warnings already logged in this process: each pipeline, and each restart of one, checks again. */
const warned = new Set<string>();

/**
 * `walhook run`, as a pipeline starts: the checks that need neither the database nor the network. The
 * first error stops the start with its coded one-line error (exit 2); warnings are logged once each.
 * The sinks are then probed in the background: one that does not answer is logged, never waited for.
 */
export async function startChecks(config: Readonly<Config>, logger: Logger): Promise<void> {
  const context: CheckContext = { path: '', config, client: null, probeTimeoutMs: PROBE_TIMEOUT_MS };
  const log = (finding: Finding) => {
    if (finding.level === 'ok' || finding.level === 'info') {
      logger.debug({ check: finding.check }, finding.message);
      return;
    }
    const line = findingLine(finding);
    if (warned.has(line)) return;
    warned.add(line);
    logger.warn({ check: finding.check }, line);
  };
  const local = await runChecks(
    CHECKS.filter((c) => c.reach === 'local'),
    context,
  );
  const error = local.find((f) => f.level === 'error');
  if (error) throw new WalhookError(error.code ?? 'WALHOOK_ERR_CONFIG_INVALID', findingLine(error));
  for (const finding of local) log(finding);
  void runChecks(
    CHECKS.filter((c) => c.reach === 'sinks'),
    context,
    log,
  );
}
