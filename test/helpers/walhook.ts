import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './embedded-postgres.js';
import { waitUntil } from './receiver.js';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the walhook CLI from source to completion. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 120_000,
): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export async function writeConfig(yaml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'walhook-test-'));
  const path = join(dir, 'walhook.yaml');
  await writeFile(path, yaml);
  return path;
}

// biome-ignore lint/suspicious/noExplicitAny: log lines are arbitrary JSON
export type LogLine = Record<string, any>;

/** A `walhook run` process whose JSON log lines are parsed as they arrive. */
export class WalhookProcess {
  readonly logs: LogLine[] = [];
  stderr = '';
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim()) this.logs.push(JSON.parse(line));
        newline = buffered.indexOf('\n');
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
  }

  /**
   * Starts walhook with `configYaml`, in which `${PORT}` is the HTTP port chosen here; waits until
   * it streams unless `waitReady` is false. `compiled` runs bin/walhook.js (dist/) instead of src/.
   */
  static async start(
    configYaml: string,
    env: NodeJS.ProcessEnv = {},
    options: { waitReady?: boolean; compiled?: boolean } = {},
  ): Promise<WalhookProcess> {
    const port = await freePort();
    const path = await writeConfig(configYaml);
    // The installed command as users run it (its shebang sets Node's flags), on the build that
    // `npm test` makes first; tsx adds memory of its own, so measurements use this.
    const [command, args] = options.compiled
      ? [join(ROOT, 'bin/walhook.js'), []]
      : [process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts')]];
    const child = spawn(command, [...args, 'run', '--config', path], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'debug', ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const walhook = new WalhookProcess(child, port);
    if (options.waitReady !== false) {
      // A process that never got ready would otherwise outlive the test file and keep it from ending.
      await walhook.ready().catch(async (err: unknown) => {
        await walhook.stop('SIGKILL');
        throw err;
      });
    }
    return walhook;
  }

  async ready(timeoutMs = 30_000): Promise<void> {
    await waitUntil(
      async () => {
        if (this.child.exitCode !== null) {
          throw new Error(`walhook exited with ${this.child.exitCode}: ${this.stderr}`);
        }
        const res = await fetch(`http://127.0.0.1:${this.port}/readyz`).catch(() => null);
        return res?.status === 200;
      },
      'walhook to be ready',
      timeoutMs,
    );
  }

  /** The last log lines, for a failing test's message. */
  tail(lines = 15): string {
    return this.logs
      .slice(-lines)
      .map((l) => JSON.stringify(l))
      .join('\n');
  }

  /** Throws with what walhook said when it is no longer running. */
  assertAlive(): true {
    if (this.child.exitCode === null && this.child.signalCode === null) return true;
    const said = this.logs.filter((l) => l.level !== 'info' && l.level !== 'debug').slice(-5);
    throw new Error(
      `walhook exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr} ${JSON.stringify(said)}`,
    );
  }

  async waitForLog(
    predicate: (line: LogLine) => boolean,
    what: string,
    timeoutMs = 30_000,
  ): Promise<LogLine> {
    let found: LogLine | undefined;
    await waitUntil(
      () => {
        found = this.logs.find(predicate);
        return found !== undefined;
      },
      what,
      timeoutMs,
    );
    return found as LogLine;
  }

  /**
   * Sends `signal` and resolves with the exit code. A process still running a while after the grace
   * period is killed and the stop fails with its last log lines, instead of hanging the test file.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', hangMs = 60_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), hangMs);
    });
    const outcome = await Promise.race([exited, hung]);
    clearTimeout(timer);
    if (outcome === 'hung') {
      this.child.kill('SIGKILL');
      await exited;
      throw new Error(
        `walhook did not exit within ${hangMs} ms of ${signal}; its last lines:\n${this.tail(25)}`,
      );
    }
    const [code] = outcome as [number | null];
    return code;
  }
}
