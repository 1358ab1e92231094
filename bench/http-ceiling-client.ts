/**
 * The HTTP ceiling's client, run as its own process (see http-ceiling.ts) as walhook is: a bare undici
 * Agent POSTing one pre-rendered body `requests` times, `concurrency` at a time. It gets its job as
 * an IPC message, says `started` before the first request and `done` with the failures at the end.
 */
import { Agent, type Dispatcher } from 'undici';

export interface CeilingJob {
  url: string;
  headers: Record<string, string>;
  body: string;
  requests: number;
  concurrency: number;
}

export type CeilingReport = { type: 'started' } | { type: 'done'; failed: number };

const report = (message: CeilingReport) => (process.send as (message: CeilingReport) => boolean)(message);

/** One exchange, reading the answer to its end so the connection goes back to the pool. */
function post(agent: Agent, options: Dispatcher.DispatchOptions): Promise<boolean> {
  return new Promise((resolve) => {
    let status = 0;
    agent.dispatch(options, {
      // Its presence tells undici this handler speaks its current API (onResponse*), as walhook's does.
      onRequestStart: () => {},
      onResponseStart: (_controller, statusCode) => {
        status = statusCode;
      },
      onResponseEnd: () => resolve(status === 200),
      onResponseError: () => resolve(false),
    });
  });
}

async function run(job: CeilingJob): Promise<number> {
  // The pool options of walhook's webhook sink (src/sinks/webhook/tls-agents.ts); no limit on
  // connections there either, so there are as many as requests in flight.
  const agent = new Agent({ keepAliveTimeout: 4_000, headersTimeout: 0, bodyTimeout: 0 });
  const url = new URL(job.url);
  const options: Dispatcher.DispatchOptions = {
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    method: 'POST',
    headers: job.headers,
    body: Buffer.from(job.body),
  };
  let sent = 0;
  let failed = 0;
  const lane = async () => {
    while (sent < job.requests) {
      sent++;
      if (!(await post(agent, options))) failed++;
    }
  };
  report({ type: 'started' });
  await Promise.all(Array.from({ length: Math.min(job.concurrency, job.requests) }, lane));
  await agent.close();
  return failed;
}

process.once('message', (job: CeilingJob) => {
  run(job).then(
    (failed) => {
      report({ type: 'done', failed });
      process.disconnect();
    },
    (error) => {
      process.stderr.write(`${error?.stack ?? error}\n`);
      process.exit(1);
    },
  );
});
