import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { parseJson } from '../../src/core/json.js';
import { createLogger } from '../../src/core/logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger({ LOG_LEVEL: 'debug' }, { destination }) };
}

test('a key bound again by a child or passed again by a call is written once, the nearest value winning', () => {
  const { lines, logger } = capture();
  const pipeline = logger.child({ slot: 'orders', pipeline: 'main' });
  const stage = pipeline.child({ stage: 'monitor' }).child({ stage: 'heartbeat', slot: 'orders' });
  stage.info({ slot: 'orders', n: 1 }, 'same value');
  stage.warn({ slot: 'refunds', n: 2 }, 'other value');
  stage.error({ level: 'x', time: 1, msg: 'field' }, 'reserved names');
  const parsed = lines.map((line) => parseJson(line) as Record<string, unknown>);
  assert.deepEqual(
    parsed.map(({ slot, stage: s, n, msg }) => ({ slot, stage: s, n, msg })),
    [
      { slot: 'orders', stage: 'heartbeat', n: 1, msg: 'same value' },
      { slot: 'refunds', stage: 'heartbeat', n: 2, msg: 'other value' },
      { slot: 'orders', stage: 'heartbeat', n: undefined, msg: 'reserved names' },
    ],
  );
  assert.deepEqual(
    [parsed[2]?.level, parsed[2]?.level_, parsed[2]?.time_, parsed[2]?.msg_],
    ['error', 'x', 1, 'field'],
  );
  // The key keeps its place: the pipeline's bindings come first, as before.
  assert.match(lines[0] as string, /"pid":\d+,"slot":"orders","pipeline":"main","stage":"heartbeat","n":1/);
});
