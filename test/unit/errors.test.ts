import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { errorCodes, WalhookError } from '../../src/core/errors.js';

test('every error code is documented in docs/errors.md with its exit code', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  for (const [code, { exitCode }] of Object.entries(errorCodes)) {
    assert.match(doc, new RegExp(`\\| \`${code}\` +\\| ${exitCode} +\\|`), `${code} documented`);
  }
});

test('a WalhookError carries its code, exit code and cause', () => {
  const cause = new Error('root');
  const err = new WalhookError('WALHOOK_ERR_CONFIG_INVALID', 'f.yaml: a: bad', { cause });
  assert.equal(err.code, 'WALHOOK_ERR_CONFIG_INVALID');
  assert.equal(err.exitCode, 2);
  assert.equal(err.cause, cause);
  assert.equal(err.message, 'f.yaml: a: bad');
});
