import { rm } from 'node:fs/promises';
import { bindQueue, connectTo, consume, RabbitNode, rabbitHome } from '../test/helpers/rabbitmq.js';
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
  const { db } = bench;
  const { channel } = rabbit.client;
  await channel.purgeQueue(QUEUE);
  const { messages, cancel } = await consume(channel, QUEUE);
  let firstAt = 0;
  let lastAt = 0;
  const count = () => {
    if (messages.length > 0 && firstAt === 0) firstAt = performance.now();
    if (messages.length >= backlog && lastAt === 0) lastAt = performance.now();
    return messages.length;
  };
  try {
    await fillBacklog(db, slot, backlog);
    const walhook = await Walhook.start(
      bench,
      {
        slot,
        publication: PUBLICATIONS.backlog,
        table: TABLES.backlog,
        webhook: '',
        sink: `{ type: rabbitmq, urls: ["${rabbit.node.url}"] }`,
      },
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
      await walhook.whileRunning(() => count() >= backlog, `${backlog} messages`, 60_000 + backlog * 5);
      const cpuSec = processCpuSec(pid) - cpuBefore;
      const start = Math.min(acquiredAt, firstAt);
      return {
        rate: messages.length / ((lastAt - start) / 1000),
        events: messages.length,
        firstSec: (firstAt - start) / 1000,
        cpuSec,
      };
    } finally {
      await walhook.stop();
    }
  } finally {
    await cancel();
    await dropSlot(db, slot);
  }
}
