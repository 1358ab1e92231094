import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Channel, type ChannelModel, connect } from 'amqplib';
import { freePort } from './embedded-postgres.js';
import { waitUntil } from './receiver.js';

const run = promisify(execFile);

/**
 * Debian's scripts themselves: /usr/sbin's wrappers switch to the rabbitmq user when run as root, which
 * drops the environment that gives each test node its own name, ports and folders.
 */
const SBIN = existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') ? '/usr/lib/rabbitmq/bin/' : '';

/** A folder with the Erlang cookie every node and rabbitmqctl of one test file share (as their HOME). */
export async function rabbitHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'walhook-rabbitmq-'));
  await writeFile(join(home, '.erlang.cookie'), randomBytes(20).toString('hex'), { mode: 0o400 });
  return home;
}

/**
 * A real `rabbitmq-server` (Debian's package) on 127.0.0.1 with its own node name, AMQP and distribution
 * ports and data folder under `home`, none of the system's config or plugins. Logs to its stdout.
 */
export class RabbitNode {
  #child: ChildProcess | null = null;
  log = '';

  private constructor(
    readonly home: string,
    readonly name: string,
    readonly port: number,
    readonly distPort: number,
    /** The amqps:// listener's port, when started with `tls`. */
    readonly tlsPort: number | null,
  ) {}

  /** With `tls`, an amqps:// listener too, which asks every client for a certificate signed by `caFile`. */
  static async start(
    home: string,
    shortName = 'rabbit',
    tls?: { caFile: string; certFile: string; keyFile: string },
  ): Promise<RabbitNode> {
    const suffix = randomBytes(3).toString('hex');
    const ports = [await freePort(), await freePort(), tls ? await freePort() : null] as const;
    const node = new RabbitNode(home, `${shortName}-${suffix}@localhost`, ...ports);
    await mkdir(node.dir, { recursive: true });
    await writeFile(join(node.dir, 'enabled_plugins'), '[].\n');
    const conf = ['loopback_users = none'];
    if (tls) {
      conf.push(
        `listeners.ssl.default = 127.0.0.1:${node.tlsPort}`,
        `ssl_options.cacertfile = ${tls.caFile}`,
        `ssl_options.certfile = ${tls.certFile}`,
        `ssl_options.keyfile = ${tls.keyFile}`,
        'ssl_options.verify = verify_peer',
        'ssl_options.fail_if_no_peer_cert = true',
      );
    }
    await writeFile(join(node.dir, 'rabbitmq.conf'), `${conf.join('\n')}\n`);
    await writeFile(join(node.dir, 'rabbitmq-env.conf'), '');
    await node.restart();
    return node;
  }

  get dir(): string {
    return join(this.home, this.name.replace('@', '_'));
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      HOME: this.home,
      RABBITMQ_NODENAME: this.name,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_BASE: this.dir,
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_LOGS: '-',
      RABBITMQ_PID_FILE: join(this.dir, 'pid'),
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(this.dir, 'advanced.config'),
      RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
    };
  }

  /** Starts the node again (or the first time) and waits until it takes AMQP connections. */
  async restart(): Promise<void> {
    const child = spawn(`${SBIN}rabbitmq-server`, [], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const from = this.log.length;
    const append = (chunk: Buffer) => {
      this.log += chunk.toString('utf8');
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    child.once('exit', () => {
      if (this.#child === child) this.#child = null;
    });
    await waitUntil(
      () => {
        if (this.#child !== child)
          throw new Error(`rabbitmq-server ${this.name} exited: ${this.log.slice(from)}`);
        return /Server startup complete|completed with \d+ plugins/.test(this.log.slice(from));
      },
      `rabbitmq-server ${this.name} to start`,
      120_000,
    );
  }

  /** `rabbitmqctl -n NODE ARGS…`, its stdout. */
  async ctl(...args: string[]): Promise<string> {
    const { stdout } = await run(`${SBIN}rabbitmqctl`, ['-n', this.name, ...args], {
      env: this.env,
      timeout: 120_000,
    });
    return stdout;
  }

  /** Joins the cluster of `other` (this node's data is reset). */
  async join(other: RabbitNode): Promise<void> {
    await this.ctl('stop_app');
    await this.ctl('join_cluster', other.name);
    await this.ctl('start_app');
    await this.ctl('await_startup');
  }

  /** SIGKILLs the Erlang VM (a crash, not a shutdown) and waits for its script to end. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    const exited = once(child, 'exit');
    const pid = Number((await readFile(join(this.dir, 'pid'), 'utf8').catch(() => '')).trim());
    if (pid > 0) process.kill(pid, 'SIGKILL');
    else child.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.kill().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Three nodes on 127.0.0.1 joined into one cluster with rabbitmqctl. */
export async function startCluster(home: string, size = 3): Promise<RabbitNode[]> {
  const nodes = await Promise.all(
    Array.from({ length: size }, (_, i) => RabbitNode.start(home, `n${i + 1}`)),
  );
  const [first, ...others] = nodes as [RabbitNode, ...RabbitNode[]];
  for (const node of others) await node.join(first);
  return nodes;
}

/** A client of the test's own, for declaring queues and reading them; the first node that answers. */
export async function connectTo(
  nodes: readonly RabbitNode[],
): Promise<{ model: ChannelModel; channel: Channel }> {
  let last: unknown;
  for (const node of nodes) {
    try {
      const model = await connect(node.url);
      model.on('error', () => {});
      const channel = await model.createChannel();
      channel.on('error', () => {});
      return { model, channel };
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** A durable queue (classic, or quorum) bound to the exchange with `#`: it takes every routing key. */
export async function bindQueue(
  channel: Channel,
  options: { exchange: string; queue: string; quorum?: boolean },
): Promise<void> {
  await channel.assertExchange(options.exchange, 'topic', { durable: true });
  await channel.assertQueue(options.queue, {
    durable: true,
    ...(options.quorum && { arguments: { 'x-queue-type': 'quorum' } }),
  });
  await channel.bindQueue(options.queue, options.exchange, '#');
}

export interface Received {
  id: string | undefined;
  routingKey: string;
  persistent: boolean;
  contentType: string | undefined;
  timestamp: number | undefined;
  headers: Record<string, unknown>;
  body: string;
}

/** Consumes `queue` into an array, in queue order, acknowledging each message; stop with `cancel`. */
export async function consume(channel: Channel, queue: string) {
  const messages: Received[] = [];
  await channel.prefetch(1000);
  const { consumerTag } = await channel.consume(queue, (message) => {
    if (message === null) return;
    const { properties } = message;
    messages.push({
      id: properties.messageId,
      routingKey: message.fields.routingKey,
      persistent: properties.deliveryMode === 2,
      contentType: properties.contentType,
      timestamp: properties.timestamp,
      headers: properties.headers ?? {},
      body: message.content.toString('utf8'),
    });
    channel.ack(message);
  });
  return { messages, cancel: () => channel.cancel(consumerTag) };
}
