import type { ChannelModel } from 'amqplib';
import type { ProbeResult } from '../plugin.js';
import { readTls } from '../webhook/tls-files.js';
import { connectNode, shownUrl } from './client.js';
import type { RabbitmqTarget } from './target.js';

const PROBE_TIMEOUT_MS = 3_000;

/**
 * Whether a node of a RabbitMQ sink takes a connection (the nodes tried in turn, as publishing does),
 * and, when walhook does not declare the exchange, whether it exists. Publishes nothing. Bounded by
 * `timeoutMs` as a whole.
 */
export async function probeRabbitmq(
  target: Pick<RabbitmqTarget, 'urls' | 'tls' | 'trigger' | 'exchange' | 'declare'>,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<ProbeResult> {
  const where = `RabbitMQ ${target.urls.map(shownUrl).join(', ')}`;
  const deadline = Date.now() + timeoutMs;
  let model: ChannelModel | undefined;
  const errors: string[] = [];
  try {
    const tls = target.tls === null ? null : readTls(target.trigger, target.tls);
    for (const url of target.urls) {
      const opening = connectNode(url, tls);
      try {
        model = await beforeDeadline(opening, deadline, timeoutMs);
        // Without a listener an 'error' event (the node going away meanwhile) would throw.
        model.on('error', () => {});
        break;
      } catch (err) {
        // A connection that opens after the deadline must not stay open.
        opening.then((late) => late.close()).catch(() => {});
        errors.push(`${shownUrl(url)}: ${(err as Error).message}`);
        if (Date.now() >= deadline) break;
      }
    }
  } catch (err) {
    return { level: 'warn', message: (err as Error).message, fix: 'fix sink.tls' };
  }
  if (model === undefined) {
    return {
      level: 'warn',
      message: `${where} not reachable: ${errors.join('; ')}`,
      fix: 'start the RabbitMQ nodes or correct sink.urls (user, password, virtual host); until one answers, walhook retries each publish',
    };
  }
  try {
    if (target.declare)
      return {
        level: 'ok',
        message: `${where} reachable; exchange ${target.exchange} is declared on the first publish`,
      };
    const channel = await beforeDeadline(model.createChannel(), deadline, timeoutMs);
    channel.on('error', () => {});
    await beforeDeadline(channel.checkExchange(target.exchange), deadline, timeoutMs);
    return { level: 'ok', message: `${where} reachable, exchange ${target.exchange} exists` };
  } catch (err) {
    return {
      level: 'warn',
      message: `${where}: exchange ${target.exchange}: ${(err as Error).message}`,
      fix: 'declare the exchange (a topic exchange), set sink.declare: true, or correct sink.exchange; until then every publish is retried',
    };
  } finally {
    await model.close().catch(() => {});
  }
}

/** `work`, or a rejection once `deadline` passed: the nodes are tried one after another. */
function beforeDeadline<T>(work: Promise<T>, deadline: number, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${timeoutMs} ms`)),
      Math.max(1, deadline - Date.now()),
    );
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
