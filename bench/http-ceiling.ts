import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { triggerSchema } from '../src/config/trigger-schema.js';
import { ROOT } from '../test/helpers/walhook.js';
import type { CeilingJob, CeilingReport } from './http-ceiling-client.js';
import { pollUntil } from './poll.js';
import { type SampleRequest, startReceiver } from './receiver.js';

/** Headers undici writes itself, or that belong to one connection. */
const OWN_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

/** How many requests a webhook trigger has in flight unless told otherwise (`concurrency`). */
const CONCURRENCY = triggerSchema.parse({
  name: 'bench',
  table: 'items',
  operations: ['insert'],
  webhook: 'http://127.0.0.1/',
}).concurrency;

export interface HttpCeiling {
  /** Requests per second the receiver got. */
  rate: number;
  /** Requests the receiver counted: `requests`, unless some were sent twice. */
  requests: number;
  /** Bytes of each body. */
  bodyBytes: number;
}

/**
 * The most one-event POSTs per second this receiver takes from a Node sender on this machine: a bare
 * undici client in its own process, as walhook is, with walhook's default concurrency and pool,
 * sending `sample` (the first request walhook made, with its headers) padded to `bodyBytes` (walhook's
 * mean body size) `requests` times to a fresh receiver of the same kind. Timed from the client's first
 * request to the last one received.
 */
export async function httpCeiling(
  sample: SampleRequest,
  bodyBytes: number,
  requests: number,
): Promise<HttpCeiling> {
  const receiver = await startReceiver({ count: 'requests' });
  // Trailing spaces keep the JSON valid and bring the body to walhook's mean size.
  const body = sample.body.padEnd(Math.round(bodyBytes), ' ');
  const headers = Object.fromEntries(
    Object.entries(sample.headers).filter(([name]) => !OWN_HEADERS.has(name)),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/http-ceiling-client.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = once(child, 'exit');
  try {
    let startedAt = 0;
    let failed: number | undefined;
    child.on('message', (message: CeilingReport) => {
      if (message.type === 'started') startedAt = performance.now();
      else failed = message.failed;
    });
    const job: CeilingJob = { url: receiver.url, headers, body, requests, concurrency: CONCURRENCY };
    child.send(job);
    const alive = () => {
      if (child.exitCode !== null && child.exitCode !== 0)
        throw new Error(`ceiling client failed:\n${stderr}`);
      return true;
    };
    await pollUntil(() => alive() && failed !== undefined, `${requests} requests`, 60_000 + requests);
    if (failed) throw new Error(`ceiling client: ${failed} of ${requests} requests not answered 200`);
    // The IPC message can arrive after the first request did.
    const start = Math.min(startedAt, receiver.firstAt());
    return {
      rate: receiver.requests() / ((receiver.lastAt() - start) / 1000),
      requests: receiver.requests(),
      bodyBytes: Buffer.byteLength(body),
    };
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await receiver.close();
  }
}
