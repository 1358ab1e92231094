import assert from 'node:assert/strict';
import { parseConfigs } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

/** The one pipeline of a config text (the single form, or `pipelines` with one entry). */
export function parseConfig(
  text: string,
  fileLabel: string,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<Config> {
  const configs = parseConfigs(text, fileLabel, env);
  assert.equal(configs.length, 1, `${fileLabel}: ${configs.length} pipelines, expected one`);
  return configs[0] as Readonly<Config>;
}
