import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseConfigs } from '../../src/config/load.js';
import { WalhookError } from '../../src/core/errors.js';
import { mutatedText, nastyScalar, VALID_LINES } from '../helpers/config-arbitraries.js';
import { runCli } from '../helpers/walhook.js';

const FILES = 20;
/** The CLI's environment, and the one the samples are judged in: the variables the configs use unset. */
const ENV: NodeJS.ProcessEnv = { ...process.env, TOKEN: undefined, PORT: undefined };
const PARALLEL = 4;

/** Generated configs the loader rejects, as the CLI would read them from `dir`. */
function badConfigs(dir: string): string[] {
  const nasty = fc
    .tuple(fc.nat(), nastyScalar)
    .map(([i, value]) =>
      VALID_LINES.map((line, j) =>
        j === i % VALID_LINES.length ? line.replace(/:\s.*$/, `: ${value}`) : line,
      ).join('\n'),
    );
  const candidates = fc.sample(fc.oneof(mutatedText, nasty, fc.string({ unit: 'binary', maxLength: 100 })), {
    seed: 9,
    numRuns: 400,
  });
  const bad = candidates.filter((text) => {
    try {
      parseConfigs(text, 'x', ENV, dir);
      return false;
    } catch (err) {
      return err instanceof WalhookError;
    }
  });
  assert.ok(bad.length >= FILES, `only ${bad.length} bad configs among the samples`);
  // Spread over the samples, so each kind of damage is represented.
  return Array.from({ length: FILES }, (_, i) => bad[Math.floor((i * bad.length) / FILES)] as string);
}

test('the CLI answers every generated bad config with one line on stderr and exit code 2', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walhook-fuzz-cli-'));
  // The valid config's secret file, so the samples fail for what was done to them.
  await writeFile(join(dir, 'admin-token'), 'an-admin-token-of-32-characters!\n');
  const files = await Promise.all(
    badConfigs(dir).map(async (text, i) => {
      const path = join(dir, `bad-${i}.yaml`);
      await writeFile(path, text);
      return path;
    }),
  );
  const queue = files.map((path, i) => ({ path, command: i % 2 === 0 ? 'validate' : 'run' }));
  const failures: string[] = [];
  const problems = new Set<string>();
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
        const { code, stdout, stderr } = await runCli([job.command, '--config', job.path], ENV);
        const lines = stderr.split('\n').filter((line) => line !== '');
        const ok =
          code === 2 &&
          stdout === '' &&
          lines.length === 1 &&
          lines[0]?.startsWith(job.path) === true &&
          !/\bat .*:\d+:\d+/.test(stderr);
        problems.add(stderr.replace(job.path, ''));
        if (!ok) failures.push(`${job.command} ${job.path}: exit ${code}, stderr ${JSON.stringify(stderr)}`);
      }
    }),
  );
  assert.deepEqual(failures, []);
  assert.ok(problems.size >= FILES / 2, `the samples are too alike: ${[...problems].join('')}`);
});
