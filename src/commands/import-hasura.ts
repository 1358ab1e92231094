import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_HASURA_VERSION, hasuraVersion } from '../config/hasura/event-trigger.js';
import { importHasura } from '../config/hasura/import-config.js';
import { readHasuraMetadata } from '../config/hasura/metadata-read.js';
import { WalhookError } from '../core/errors.js';
import { parseUsage, usageError } from './args.js';

export interface ImportOutput {
  /** The config, when no --out is given. */
  out: (text: string) => void;
  /** The report, one line each. */
  err: (line: string) => void;
}

/** A Hasura version as its User-Agent shows it: v2.48.1. */
const VERSION = /^v?\d+\.\d+\.\d+[A-Za-z0-9.+-]*$/;

/**
 * `walhook import-hasura PATH [--source NAME] [--out FILE] [--partial] [--hasura-version V]`: the
 * walhook config for a Hasura project's event triggers, and a report line for each. Exit 0 when every
 * trigger was mapped; 2 otherwise, and then the config is written only with --partial.
 */
export async function importHasuraCommand(args: string[], output: ImportOutput): Promise<number> {
  const { values, positionals } = parseUsage(
    () =>
      parseArgs({
        args,
        allowPositionals: true,
        options: {
          source: { type: 'string' },
          out: { type: 'string', short: 'o' },
          partial: { type: 'boolean' },
          'hasura-version': { type: 'string' },
        },
      }),
    'import-hasura: ',
  );
  const [path, ...extra] = positionals;
  if (path === undefined) throw usageError('import-hasura: expected the metadata folder or JSON file');
  if (extra.length > 0) throw usageError(`import-hasura: unexpected argument "${extra[0]}"`);
  const version = values['hasura-version'] ?? DEFAULT_HASURA_VERSION;
  if (!VERSION.test(version)) {
    throw usageError(
      `import-hasura: --hasura-version ${version}: expected a version such as ${DEFAULT_HASURA_VERSION}`,
    );
  }
  const metadata = readHasuraMetadata(path);
  const result = importHasura(metadata, {
    path,
    source: values.source,
    hasuraVersion: hasuraVersion(version),
  });
  for (const line of result.lines) output.err(line);
  const write = result.yaml !== null && (result.complete || values.partial === true);
  if (result.yaml !== null && !write) {
    output.err('config not written: not every trigger could be mapped (--partial writes it without them)');
  }
  if (write && result.yaml !== null) {
    if (values.out === undefined) {
      output.out(result.yaml);
    } else {
      try {
        await writeFile(values.out, result.yaml);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        throw new WalhookError(
          'WALHOOK_ERR_USAGE',
          `import-hasura: --out ${values.out}: cannot write it (${code})`,
          { cause: err },
        );
      }
      output.err(`config written to ${values.out}`);
    }
  }
  return result.complete ? 0 : 2;
}
