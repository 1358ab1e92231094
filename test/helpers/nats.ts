import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Consumer, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePort } from './embedded-postgres.js';
import { waitUntil } from './receiver.js';

/**
 * A real `nats-server` (Debian's package) with JetStream on, on a free port of 127.0.0.1, storing in a
 * directory of its own that outlives stops, so a restarted server finds its streams again.
 */
export class NatsServer {
  #child: ChildProcess | null = null;
  log = '';

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly storeDir: string,
    private readonly clusterArgs: readonly string[],
  ) {}

  static async start(name = 'n1', clusterArgs: readonly string[] = []): Promise<NatsServer> {
    const server = new NatsServer(
      name,
      await freePort(),
      await mkdtemp(join(tmpdir(), 'walhook-nats-')),
      clusterArgs,
    );
    await server.restart();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** Starts the server again (or the first time) and waits until it accepts clients. */
  async restart(): Promise<void> {
    const child = spawn(
      'nats-server',
      [
        '-a',
        '127.0.0.1',
        '-p',
        String(this.port),
        '-n',
        this.name,
        '-js',
        '-sd',
        this.storeDir,
        ...this.clusterArgs,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.#child = child;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.log += chunk.toString('utf8');
    });
    child.once('exit', () => {
      if (this.#child === child) this.#child = null;
    });
    const from = this.log.length;
    await waitUntil(() => {
      if (this.#child !== child) throw new Error(`nats-server ${this.name} exited: ${this.log.slice(from)}`);
      return this.log.includes('Server is ready', from);
    }, `nats-server ${this.name} to be ready`);
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
    await rm(this.storeDir, { recursive: true, force: true });
  }
}

/** Three servers on 127.0.0.1 routed into one JetStream cluster. */
export async function startCluster(size = 3): Promise<NatsServer[]> {
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`).join(',');
  return Promise.all(
    routePorts.map((port, i) =>
      NatsServer.start(`n${i + 1}`, [
        '--cluster_name',
        'walhook',
        '--cluster',
        `nats://127.0.0.1:${port}`,
        '--routes',
        routes,
      ]),
    ),
  );
}

/** A client connection for the test's own use: creating streams, reading them back. */
export function connectTo(servers: readonly NatsServer[]): Promise<NatsConnection> {
  return connect({ servers: servers.map((s) => s.url), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
}

/**
 * Creates a stream taking `walhook.>`, retrying while a fresh cluster has no JetStream leader yet.
 */
export async function createStream(
  nc: NatsConnection,
  options: { name: string; replicas?: number; duplicateWindowMs?: number },
): Promise<void> {
  await waitUntil(async () => {
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({
        name: options.name,
        subjects: ['walhook.>'],
        num_replicas: options.replicas ?? 1,
        duplicate_window: (options.duplicateWindowMs ?? 120_000) * 1_000_000,
      });
      return true;
    } catch {
      return false;
    }
  }, `stream ${options.name} to be created`);
}

export interface StoredMessage {
  seq: number;
  subject: string;
  id: string | undefined;
  trigger: string | undefined;
  body: string;
}

/** Every message the stream holds, in stream order, read through an ordered consumer. */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const messages: StoredMessage[] = [];
  if (state.messages === 0) return messages;
  // A cluster that just lost a node may take a while to place the consumer.
  let consumer: Consumer | undefined;
  await waitUntil(
    async () => {
      consumer = await jetstream(nc, { timeout: 10_000 })
        .consumers.get(stream)
        .catch(() => undefined);
      return consumer !== undefined;
    },
    `an ordered consumer on ${stream}`,
    60_000,
  );
  const iterator = await (consumer as Consumer).consume({ max_messages: 1000 });
  for await (const m of iterator as AsyncIterable<JsMsg>) {
    messages.push({
      seq: m.seq,
      subject: m.subject,
      id: m.headers?.get('Nats-Msg-Id'),
      trigger: m.headers?.get('Walhook-Trigger'),
      body: m.string(),
    });
    if (m.seq >= state.last_seq) break;
  }
  await iterator.close();
  return messages;
}

/** The name of the server leading `stream`'s replicas. */
export async function streamLeader(nc: NatsConnection, stream: string): Promise<string | undefined> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).cluster?.leader;
}

/** The number of messages `stream` holds. */
export async function streamCount(nc: NatsConnection, stream: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(stream)).state.messages;
}

/** Waits until `stream` holds at least `count` messages, riding out a server restart or a leader election. */
export async function waitForCount(nc: NatsConnection, stream: string, count: number, timeoutMs = 30_000) {
  await waitUntil(
    async () => (await streamCount(nc, stream).catch(() => 0)) >= count,
    `${count} messages in ${stream}`,
    timeoutMs,
  );
}
