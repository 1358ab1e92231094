import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '../test/helpers/database.js';
import { freePort } from '../test/helpers/embedded-postgres.js';
import { ROOT, writeConfig } from '../test/helpers/walhook.js';
import { pollUntil } from './poll.js';

/** How long a partial batch waits for more events: walhook's default, which a backlog never reaches. */
const BATCH_WAIT_MS = 50;
/** What is kept of walhook's output for an error message. */
const OUTPUT_TAIL = 4000;

/** The database and the walhook build every measure of a suite uses. */
export interface Bench {
  db: Database;
  /** A directory with bin/ and dist/, from `snapshotBuild`. */
  build: string;
}

/**
 * A copy of bin/ and dist/ as they are when the suite starts, so a rebuild in the checkout during a
 * long run (tests build dist/ first) cannot change the walhook measured halfway through.
 */
export async function snapshotBuild(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'walhook-bench-build-'));
  await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  await cp(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  // The version is read from package.json next to dist/; modules resolve through node_modules.
  await cp(join(ROOT, 'package.json'), join(dir, 'package.json'));
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface BenchTrigger {
  slot: string;
  publication: string;
  table: string;
  webhook: string;
  /** A `sink:` mapping (flow YAML) to deliver to instead of `webhook`, such as a broker's. */
  sink?: string;
  /** Events per POST (`batch.max_events`); above 1 receivers get `{"events": […]}`. */
  batch?: number;
  /** Every attempt also written to the invocation log (`INVOCATION_LOG_TABLE`). */
  invocationLog?: boolean;
  /** Each request rendered by `TRANSFORM`, a typical request transform; one event per POST only. */
  transform?: boolean;
}

/**
 * What a request transform typically does: a method and a URL with the row's key, and a body of a few
 * fields picked from the payload. Every template runs per event, so this prices Kriti on the hot path.
 */
const TRANSFORM = `
    request_transform:
      version: 2
      method: PUT
      url: "{{$base_url}}/items/{{$body.event.data.new.id}}"
      request_headers: { add_headers: { X-Op: "{{$body.event.op}}" } }
      body:
        action: transform
        template: '{"id": {{$body.event.data.new.id}}, "name": {{$body.event.data.new.name}}, "qty": {{$body.event.data.new.qty}}, "price": {{$body.event.data.new.price}}, "at": {{$body.created_at}}}'`;

/** Where the measures with the invocation log on keep it. */
export const INVOCATION_LOG_TABLE = 'walhook.bench_invocation_log';

function config(db: Database, trigger: BenchTrigger, port: number): string {
  return `source:
  connection: ${db.url}
  slot: ${trigger.slot}
  publication: ${trigger.publication}
  heartbeat_sec: 0
server:
  host: 127.0.0.1
  port: ${port}
  console: { recent: ${process.env.BENCH_CONSOLE_RECENT ?? 1000} } # bench/console-cost.ts varies it
shutdown_grace_sec: 0
${trigger.invocationLog ? `invocation_log: { table: ${INVOCATION_LOG_TABLE} }\n` : ''}triggers:
  - name: bench
    table: ${trigger.table}
    operations: [insert]
${
  trigger.sink === undefined
    ? `    webhook: ${trigger.webhook}
    batch:
      max_events: ${trigger.batch ?? 1}
      max_wait_ms: ${BATCH_WAIT_MS}${trigger.transform ? TRANSFORM : ''}`
    : `    sink: ${trigger.sink}`
}
`;
}

/**
 * A `walhook run` of the snapshot's bin/walhook.js, as users run it, at log level warn: tsx and
 * debug logging would cost CPU and memory the measures would then report.
 */
export class Walhook {
  #output = '';

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  static async start(bench: Bench, trigger: BenchTrigger, options: { waitReady: boolean }): Promise<Walhook> {
    const port = await freePort();
    const path = await writeConfig(config(bench.db, trigger, port));
    const child = spawn(join(bench.build, 'bin/walhook.js'), ['run', '--config', path], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const walhook = new Walhook(child, port);
    if (options.waitReady) {
      await pollUntil(
        async () =>
          walhook.assertAlive() &&
          (await fetch(`http://127.0.0.1:${port}/readyz`).then(
            (res) => res.status === 200,
            () => false,
          )),
        'walhook to be ready',
        30_000,
      );
    }
    return walhook;
  }

  /** Throws with walhook's last output once it has exited. */
  assertAlive(): true {
    const { exitCode, signalCode } = this.child;
    if (exitCode === null && signalCode === null) return true;
    throw new Error(`walhook exited (${exitCode ?? signalCode}):\n${this.#output}`);
  }

  /** `pollUntil` that throws as soon as walhook has exited. */
  whileRunning(done: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<number> {
    return pollUntil(() => this.assertAlive() && done(), what, timeoutMs);
  }

  /** The process's peak resident set size so far (VmHWM), in MiB. */
  peakRssMiB(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
  }

  /**
   * A gauge or counter from /metrics, summed over its labelled series (one per pipeline); 0 while it
   * has none, as a labelled gauge has until first set.
   */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    let sum = 0;
    for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) {
      sum += Number(match[1]);
    }
    return sum;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}
