import { loadConfigs } from '../config/load.js';
import { preflight } from '../preflight/preflight.js';
import { exitCode, findingLine } from '../preflight/runner.js';

/**
 * `walhook validate`: the config file first (an invalid file throws the one-line config error), then
 * the preflight `walhook run` also does (the files the config names, the database when it answers, the
 * sinks), one line per finding. Exit code 0 when usable, 2 when not; warnings leave it usable.
 */
export async function validate(path: string, print: (line: string) => void): Promise<number> {
  const configs = await loadConfigs(path);
  const findings = await preflight(path, configs, (finding) => {
    print(`${finding.level.padEnd(5)} ${findingLine(finding)}`);
  });
  return exitCode(findings);
}
