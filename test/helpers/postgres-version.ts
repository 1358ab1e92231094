import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { type EmbeddedPostgresHandle, selectedPostgres, systemPostgresBinDir } from './embedded-postgres.js';

/**
 * The Postgres major version the tests run against, known before any server starts, so a test can be
 * declared with `skip`: the `WALHOOK_TEST_PG` major, or for `system` what the installed postgres reports.
 */
export function expectedMajor(): number {
  const choice = selectedPostgres();
  if (choice !== 'system') return Number(choice);
  const output = execFileSync(join(systemPostgresBinDir(), 'postgres'), ['--version'], { encoding: 'utf8' });
  const match = /\(PostgreSQL\) (\d+)/.exec(output);
  if (!match) throw new Error(`cannot read a major version from: ${output.trim()}`);
  return Number(match[1]);
}

export const PG_MAJOR = expectedMajor();

/**
 * For node:test's `skip` option: a reason when the server is older than `major`, otherwise false.
 *
 *   test('row filters', { skip: needsPostgres(15, 'publication row filters') }, async () => { … });
 */
export function needsPostgres(major: number, feature: string): string | false {
  return PG_MAJOR < major ? `${feature} needs Postgres ${major}+ (running ${PG_MAJOR})` : false;
}

/** Whether the running server is at least `major` (from the handle, for checks inside a test). */
export function atLeast(server: Pick<EmbeddedPostgresHandle, 'major'>, major: number): boolean {
  return server.major >= major;
}
