import { parseArgs } from 'node:util';
import { WalhookError } from '../core/errors.js';

/** A usage error: one line pointing to the help, exit 2. */
export function usageError(problem: string): WalhookError {
  return new WalhookError('WALHOOK_ERR_USAGE', `${problem}; run walhook --help`);
}

/** Runs a `parseArgs` call, turning its errors into usage errors prefixed with `context`. */
export function parseUsage<T>(parse: () => T, context = ''): T {
  try {
    return parse();
  } catch (err) {
    throw usageError(`${context}${(err as Error).message}`);
  }
}

/** The config file from `--config`, else `$WALHOOK_CONFIG`. */
export function configFile(option: string | undefined): string {
  const path = option ?? process.env.WALHOOK_CONFIG;
  if (path === undefined || path === '')
    throw usageError('no config file: pass --config FILE or set WALHOOK_CONFIG');
  return path;
}

/** The config file of a command whose only option is `--config` (`-c`). */
export function configOption(args: string[]): string {
  const { values } = parseUsage(() =>
    parseArgs({ args, options: { config: { type: 'string', short: 'c' } } }),
  );
  return configFile(values.config);
}
