import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './embedded-postgres.js';
import { waitUntil } from './receiver.js';

export interface RedisServerOptions {
  /** `--appendonly yes --appendfsync always`: an answered write is on disk, so it survives SIGKILL. */
  aof?: boolean;
  /** Extra arguments, such as `--replicaof 127.0.0.1 6379` or `--maxmemory 1mb`. */
  args?: readonly string[];
}

/**
 * A real `redis-server` (Debian's package) on a free port of 127.0.0.1, in a directory of its own that
 * outlives stops, so a restarted server reads its append-only file again. No RDB snapshots.
 */
export class RedisServer {
  #child: ChildProcess | null = null;
  log = '';

  private constructor(
    readonly port: number,
    readonly dir: string,
    private options: RedisServerOptions,
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(
      await freePort(),
      await mkdtemp(join(tmpdir(), 'walhook-redis-')),
      options,
    );
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /**
   * Starts the server again (or the first time) and waits until it accepts clients; `args` replace the
   * extra arguments from now on (a failed primary coming back as a replica of the new one).
   */
  async restart(args?: readonly string[]): Promise<void> {
    if (args !== undefined) this.options = { ...this.options, args };
    const aof = this.options.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : [];
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        ...aof,
        ...(this.options.args ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    const append = (chunk: Buffer) => {
      this.log += chunk.toString('utf8');
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    child.once('exit', () => {
      if (this.#child === child) this.#child = null;
    });
    const from = this.log.length;
    await waitUntil(() => {
      if (this.#child !== child)
        throw new Error(`redis-server :${this.port} exited: ${this.log.slice(from)}`);
      return this.log.includes('Ready to accept connections', from);
    }, `redis-server :${this.port} to be ready`);
  }

  /** Stops the process with `signal` (SIGKILL: a crash) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }

  /** A client for the test's own use; it reconnects after a restart. */
  client(): Redis {
    const client = new Redis(this.port, '127.0.0.1', {
      retryStrategy: () => 100,
      maxRetriesPerRequest: null,
    });
    client.on('error', () => {});
    return client;
  }
}

export interface StoredEntry {
  id: string;
  fields: Record<string, string>;
}

/** Waits until a replica has loaded its master's data and follows it. */
export async function waitForSync(replica: Redis): Promise<void> {
  await waitUntil(
    async () => /^master_link_status:up/m.test(await replica.info('replication')),
    'the replica to sync with its master',
  );
}

/** Every entry of `stream`, oldest first. */
export async function readStream(client: Redis, stream: string): Promise<StoredEntry[]> {
  const entries: StoredEntry[] = [];
  let from = '-';
  for (;;) {
    const page = await client.xrange(stream, from, '+', 'COUNT', 5000);
    for (const [id, flat] of page) {
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
      entries.push({ id, fields });
    }
    if (page.length < 5000) return entries;
    from = `(${page[page.length - 1]?.[0]}`;
  }
}

/** Waits until `stream` holds at least `count` entries, riding out a server restart. */
export async function waitForLength(client: Redis, stream: string, count: number, timeoutMs = 30_000) {
  await waitUntil(
    async () => (await client.xlen(stream).catch(() => 0)) >= count,
    `${count} entries in ${stream}`,
    timeoutMs,
  );
}

/**
 * A TCP forwarder standing for the address clients know the primary by (a virtual IP, a DNS name): it
 * passes each connection to `target`, which a failover moves. Connections open at a move are cut.
 */
export class RedisAddress {
  readonly #server: Server;
  readonly #open = new Set<Socket>();
  target: number;

  private constructor(server: Server, target: number) {
    this.#server = server;
    this.target = target;
  }

  static async start(target: number): Promise<RedisAddress> {
    const server = createServer();
    const address = new RedisAddress(server, target);
    server.on('connection', (socket) => address.#forward(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return address;
  }

  get url(): string {
    const address = this.#server.address();
    return `redis://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  }

  /** From now on connections go to `port`; those open now are cut, as a moved address would. */
  move(port: number): void {
    this.target = port;
    for (const socket of this.#open) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.#open) socket.destroy();
    this.#server.close();
    await once(this.#server, 'close');
  }

  #forward(client: Socket): void {
    const upstream = connect(this.target, '127.0.0.1');
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.#open.add(from);
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.#open.delete(from);
        to.destroy();
      });
    }
  }
}

/**
 * A Redis Sentinel (`redis-server --sentinel`) on a free port, watching the master on `masterPort` as
 * `name` and failing over to a replica once `quorum` sentinels saw it down for a second.
 */
export class RedisSentinel {
  readonly #child: ChildProcess;
  log = '';

  private constructor(
    child: ChildProcess,
    readonly port: number,
    readonly dir: string,
  ) {
    this.#child = child;
  }

  static async start(name: string, masterPort: number, quorum: number): Promise<RedisSentinel> {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'walhook-sentinel-'));
    // Sentinel rewrites its config file as it learns the other sentinels and replicas.
    const config = join(dir, 'sentinel.conf');
    await writeFile(
      config,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} ${quorum}`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 10000`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [config, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const sentinel = new RedisSentinel(child, port, dir);
    const append = (chunk: Buffer) => {
      sentinel.log += chunk.toString('utf8');
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    await waitUntil(() => {
      if (exited) throw new Error(`redis sentinel :${port} exited: ${sentinel.log}`);
      return sentinel.log.includes('+monitor master');
    }, `redis sentinel :${port} to monitor ${name}`);
    return sentinel;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Waits until the sentinel logged `text` at least `count` times (`+sentinel`, `+slave`, `+switch-master`). */
  async waitFor(text: string, count = 1, timeoutMs = 30_000): Promise<void> {
    await waitUntil(
      () => this.log.split(text).length > count,
      `${count} "${text}" in sentinel :${this.port}`,
      timeoutMs,
    );
  }

  async destroy(): Promise<void> {
    if (this.#child.exitCode === null) {
      const exited = once(this.#child, 'exit');
      this.#child.kill('SIGKILL');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
