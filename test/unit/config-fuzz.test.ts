import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml, stringify } from 'yaml';
import { parseConfigs } from '../../src/config/load.js';
import { errorCodes, WalhookError } from '../../src/core/errors.js';
import {
  mutateAt,
  mutatedText,
  nastyScalar,
  structureMutation,
  VALID,
  VALID_LINES,
} from '../helpers/config-arbitraries.js';

/**
 * The loader's contract under hostile input: a config, or a WalhookError of a config code (exit 2)
 * whose message is one line starting with the file's label, never another exception, a stack trace
 * or a hang (a hang fails the test by its timeout).
 */
const LABEL = 'fuzz.yaml';
const ENV = { TOKEN: 'fuzz-token-value', PORT: '9187', EMPTY: '', NUMBER: '12345678901234567890' };
const FUZZ_TIMEOUT_MS = 120_000;

let secretsDir = '';

function assertContract(text: string, env: NodeJS.ProcessEnv = ENV): void {
  let result: unknown;
  try {
    result = parseConfigs(text, LABEL, env, secretsDir);
  } catch (err) {
    if (!(err instanceof WalhookError)) {
      assert.fail(
        `not a WalhookError: ${err instanceof Error ? err.stack : String(err)}\n--- input:\n${text}`,
      );
    }
    assert.equal(errorCodes[err.code].exitCode, 2, `${err.code} is not a config error: ${err.message}`);
    assert.ok(err.message.startsWith(LABEL), `message without the label: ${err.message}`);
    assert.ok(err.message.length > LABEL.length + 2, `empty message: ${err.message}`);
    assert.ok(!/[\r\n]/.test(err.message), `message of several lines: ${JSON.stringify(err.message)}`);
    assert.ok(!/\bat .*:\d+:\d+\)?$/m.test(err.message), `stack frames in: ${err.message}`);
    return;
  }
  assert.ok(Array.isArray(result) && result.length > 0, 'neither a config nor an error');
}

before(async () => {
  secretsDir = await mkdtemp(join(tmpdir(), 'walhook-fuzz-'));
  await writeFile(join(secretsDir, 'admin-token'), 'an-admin-token-of-32-characters!\n');
});

test('the valid base config loads, so mutations start from something that works', () => {
  const [config] = parseConfigs(VALID, LABEL, ENV, secretsDir);
  assert.equal(config?.server.admin_token, 'an-admin-token-of-32-characters!');
  const sink = config?.triggers[0]?.sink;
  assert.equal(sink?.type === 'webhook' && sink.headers?.Authorization, 'Bearer fuzz-token-value');
});

test('random text: a config or a one-line config error', { timeout: FUZZ_TIMEOUT_MS }, () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.string({ unit: 'grapheme', maxLength: 200 }),
      ),
      (text) => assertContract(text),
    ),
    { numRuns: 1000 },
  );
});

test('mutations of a valid config: a config or a one-line config error', { timeout: FUZZ_TIMEOUT_MS }, () => {
  fc.assert(
    fc.property(mutatedText, (text) => assertContract(text)),
    { numRuns: 2500 },
  );
});

test('nasty scalars anywhere: a config or a one-line config error', { timeout: FUZZ_TIMEOUT_MS }, () => {
  fc.assert(
    fc.property(fc.nat(), nastyScalar, fc.boolean(), (i, value, asKey) => {
      const at = i % VALID_LINES.length;
      const mutated = VALID_LINES.map((line, j) => {
        if (j !== at) return line;
        return asKey ? line.replace(/[\w-]+(?=:)/, value) : line.replace(/:\s.*$/, `: ${value}`);
      });
      assertContract(mutated.join('\n'));
    }),
    { numRuns: 600 },
  );
});

test('alias bombs and self-references end in a config error', () => {
  const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++)
    laughs.push(
      `${'abcdefghij'[i]}: &${'abcdefghij'[i]} [${Array(9)
        .fill(`*${'abcdefghij'[i - 1]}`)
        .join(',')}]`,
    );
  for (const text of [
    `${VALID}${laughs.join('\n')}\n`,
    'source: &s { connection: postgres://x, self: *s }\ntriggers: []\n',
    'source: { connection: postgres://x }\ntriggers: &t [*t]\n',
  ]) {
    assert.throws(() => parseConfigs(text, LABEL, ENV, secretsDir), WalhookError);
    assertContract(text);
  }
});

test('random structures serialized as YAML: a config or a one-line config error', {
  timeout: FUZZ_TIMEOUT_MS,
}, () => {
  const base = parseYaml(VALID) as unknown;
  fc.assert(
    fc.property(fc.array(structureMutation, { minLength: 1, maxLength: 4 }), (mutations) => {
      const data = structuredClone(base);
      for (const [path, value] of mutations) mutateAt(data, path, value);
      let text: string;
      try {
        text = stringify(data);
      } catch {
        // A value YAML cannot write (a symbol key, say) is no input a user could give.
        return;
      }
      assertContract(text);
    }),
    { numRuns: 1500 },
  );
});
