import { rm } from 'node:fs/promises';
import { bindQueue, connectTo, consume, RabbitNode, rabbitHome } from '../test/helpers/rabbitmq.js';
import { sleep } from '../test/helpers/receiver.js';
import { RedisServer } from '../test/helpers/redis.js';
import { processCpuSec } from './cpu.js';
import type { Throughput } from './throughput.js';
import { type Bench, Walhook } from './walhook.js';
import { dropSlot, fillBacklog, PUBLICATIONS, slotActive, TABLES } from './workload.js';

const QUEUE = 'bench';

/** A RabbitMQ node of the bench's own (Debian's rabbitmq-server), with a queue taking every routing key. */
export async function startRabbit() {
  const home = await rabbitHome();
  const node = await RabbitNode.start(home, 'bench');
  const client = await connectTo([node]);
  await bindQueue(client.channel, { exchange: 'walhook', queue: QUEUE });
  return {
    node,
    client,
    async stop() {
      await client.model.close().catch(() => {});
      await node.destroy();
      await rm(home, { recursive: true, force: true });
    },
  };
}

export type Rabbit = Awaited<ReturnType<typeof startRabbit>>;

/**
 * walhook publishing a backlog to RabbitMQ with confirms (one persistent message per event), timed from
 * the slot taken to the last message consumed from the queue. The broker shares this machine's cores.
 */
export async function rabbitmqThroughput(
  bench: Bench,
  rabbit: Rabbit,
  backlog: number,
  slot: string,
): Promise<Throughput> {
  const { channel } = rabbit.client;
  await channel.purgeQueue(QUEUE);
  const { messages, cancel } = await consume(channel, QUEUE);
  try {
    const sink = `{ type: rabbitmq, urls: ["${rabbit.node.url}"] }`;
    return await brokerThroughput(bench, backlog, slot, sink, () => messages.length);
  } finally {
    await cancel();
  }
}

/** A Redis (Debian's redis-server, no persistence) of the bench's own. */
export async function startRedis() {
  const server = await RedisServer.start();
  const client = server.client();
  return {
    server,
    client,
    async stop() {
      client.disconnect();
      await server.destroy();
    },
  };
}

export type RedisBench = Awaited<ReturnType<typeof startRedis>>;

/**
 * walhook appending a backlog to a Redis stream (one XADD per event, the sink's defaults), timed from the
 * slot taken to the stream's length reaching the backlog, read every 10 ms. Redis shares the cores.
 */
export async function redisThroughput(
  bench: Bench,
  redis: RedisBench,
  backlog: number,
  slot: string,
): Promise<Throughput> {
  const stream = `walhook:public.${TABLES.backlog}`;
  await redis.client.del(stream);
  let length = 0;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      length = await redis.client.xlen(stream);
      await sleep(10);
    }
  })();
  try {
    return await brokerThroughput(
      bench,
      backlog,
      slot,
      `{ type: redis, url: "${redis.server.url}" }`,
      () => length,
    );
  } finally {
    polling = false;
    await poller;
  }
}

/** walhook draining a backlog into a broker `sink`, with `received` counting what the broker has. */
async function brokerThroughput(
  bench: Bench,
  backlog: number,
  slot: string,
  sink: string,
  received: () => number,
): Promise<Throughput> {
  const { db } = bench;
  let firstAt = 0;
  let lastAt = 0;
  const count = () => {
    const n = received();
    if (n > 0 && firstAt === 0) firstAt = performance.now();
    if (n >= backlog && lastAt === 0) lastAt = performance.now();
    return n;
  };
  try {
    await fillBacklog(db, slot, backlog);
    const walhook = await Walhook.start(
      bench,
      { slot, publication: PUBLICATIONS.backlog, table: TABLES.backlog, webhook: '', sink },
      { waitReady: false },
    );
    try {
      const acquiredAt = await walhook.whileRunning(
        async () => count() > 0 || (await slotActive(db, slot)),
        'walhook to read its slot',
        60_000,
      );
      const pid = walhook.child.pid as number;
      const cpuBefore = processCpuSec(pid);
      await walhook.whileRunning(
        () => count() >= backlog,
        `${backlog} events at the broker`,
        60_000 + backlog * 5,
      );
      const cpuSec = processCpuSec(pid) - cpuBefore;
      const start = Math.min(acquiredAt, firstAt);
      return {
        rate: received() / ((lastAt - start) / 1000),
        events: received(),
        firstSec: (firstAt - start) / 1000,
        cpuSec,
      };
    } finally {
      await walhook.stop();
    }
  } finally {
    await dropSlot(db, slot);
  }
}
