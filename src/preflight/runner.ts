import type pg from 'pg';
import type { Config } from '../config/schema.js';
import { type ErrorCode, isWalhookError } from '../core/errors.js';

/**
 * One thing a check found, printed as one line: `message` names the file, key, table, trigger or slot,
 * `fix` says what to do. `code` is the coded error `walhook run` stops with when it is an error.
 */
export interface Finding {
  level: 'ok' | 'info' | 'warn' | 'error';
  message: string;
  fix?: string;
  code?: ErrorCode;
  /** The check that found it, for log lines. */
  check?: string;
}

/** What the checks of one pipeline look at. */
export interface CheckContext {
  /** The config file as the command line named it. */
  path: string;
  config: Readonly<Config>;
  /** The source database, once the reachability check connected to it; null until then or without it. */
  client: pg.Client | null;
  /** How long probing one sink may take. */
  probeTimeoutMs: number;
}

export interface Check {
  name: string;
  /**
   * What the check reaches: `local` only the config and the files it names (run checks these before
   * anything connects); `database` the source database; `sinks` the receivers and brokers.
   */
  reach: 'local' | 'database' | 'sinks';
  /** `process`: the settings every pipeline shares, checked once; `pipeline`: checked for each. */
  scope: 'process' | 'pipeline';
  run(context: CheckContext): Promise<Finding[]> | Finding[];
}

/**
 * Runs `checks` in order, handing each one's findings to `emit` as soon as it is done. A check that
 * throws becomes an error finding naming it, so one broken check does not hide the others' findings.
 */
export async function runChecks(
  checks: readonly Check[],
  context: CheckContext,
  emit: (finding: Finding) => void = () => {},
): Promise<Finding[]> {
  const all: Finding[] = [];
  for (const check of checks) {
    let findings: Finding[];
    try {
      findings = await check.run(context);
    } catch (err) {
      findings = [
        isWalhookError(err)
          ? { level: 'error', message: err.message, code: err.code }
          : { level: 'error', message: `the ${check.name} check failed: ${(err as Error).message}` },
      ];
    }
    for (const finding of findings) {
      const named = { ...finding, check: check.name };
      all.push(named);
      emit(named);
    }
  }
  return all;
}

/** A finding as the one line validate prints and run stops with. */
export function findingLine(finding: Finding): string {
  return finding.fix === undefined ? finding.message : `${finding.message}; ${finding.fix}`;
}

/** 2 when anything is an error: the config cannot be used as it is. */
export function exitCode(findings: readonly Finding[]): number {
  return findings.some((f) => f.level === 'error') ? 2 : 0;
}

/** A check of the source database: it finds nothing while the database is out of reach (that is reported once). */
export function databaseCheck(
  name: string,
  run: (client: pg.Client, context: CheckContext) => Promise<Finding[]>,
): Check {
  return {
    name,
    reach: 'database',
    scope: 'pipeline',
    run: (context) => (context.client === null ? [] : run(context.client, context)),
  };
}
