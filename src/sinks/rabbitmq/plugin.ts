import { formatLsn } from '../../core/lsn.js';
import type { AttemptResult, Delivery, SinkPlugin, Transport } from '../plugin.js';
import type { Publication } from './confirm-channel.js';
import { RabbitConnections } from './connections.js';
import { MAX_ROUTING_KEY_BYTES } from './routing-key.js';
import { type RabbitmqSettings, rabbitmqSettings } from './settings.js';
import { type RabbitmqTarget, rabbitmqTarget } from './target.js';

/** A publish's result, with the node that confirmed it (or failed it) for the attempt's log line. */
interface PublishResult extends AttemptResult {
  node?: string;
}

/**
 * RabbitMQ: each event is one persistent, mandatory message to a topic exchange, delivered only once
 * RabbitMQ confirmed it (publisher confirms) and no queue-less route returned it. The event id is the
 * message id, for consumers to drop a replayed copy. See docs/sinks.md.
 */
export const rabbitmqPlugin: SinkPlugin<RabbitmqTarget, RabbitmqSettings> = {
  type: 'rabbitmq',
  settings: rabbitmqSettings,
  target: rabbitmqTarget,
  refusedRetryKeys: {
    timeout_sec: 'a publish waits sink.ack_timeout_sec for its confirm',
    final_statuses: 'a broker answers with no HTTP status',
    retry_after: 'a broker sends no Retry-After header',
  },
  waitHoldsSlot: true,
  failureLog: 'once-a-minute',
  // A broker's error may quote a URL; its password must not reach a log line or a dead letter.
  secrets: (target) =>
    target.urls.map((url) => decodeURIComponent(new URL(url).password)).filter((password) => password !== ''),
  open: ({ logger, blocked }) =>
    new RabbitTransport(new RabbitConnections(logger.child({ component: 'rabbitmq' }), blocked)),
  // Loaded with the first probe: it loads amqplib, which only a RabbitMQ connection needs otherwise.
  probe: async (target, timeoutMs) => (await import('./probe.js')).probeRabbitmq(target, timeoutMs),
  probeKey: (target) =>
    JSON.stringify(['rabbitmq', target.urls, target.tls, target.declare ? null : target.exchange]),
};

class RabbitTransport implements Transport<RabbitmqTarget> {
  readonly #connections: RabbitConnections;

  constructor(connections: RabbitConnections) {
    this.#connections = connections;
  }

  request(
    deliveries: readonly Delivery<RabbitmqTarget>[],
    _currentRetry: number,
    traceparent: string,
  ): Publication {
    const { event } = deliveries[0] as Delivery<RabbitmqTarget>;
    const { target } = event;
    return {
      urls: target.urls,
      tls: target.tls,
      exchange: target.exchange,
      declare: target.declare,
      routingKey: target.routingKey.render(event.relation, event.op),
      // The event as a webhook receives it on its first attempt, whichever attempt publishes it.
      body: event.body(0),
      id: event.id,
      trigger: target.trigger,
      table: event.table,
      op: event.op,
      lsn: formatLsn(event.commitLsn),
      traceparent,
      timeoutMs: target.ackTimeoutMs,
    };
  }

  async send(publication: Publication): Promise<PublishResult> {
    const started = performance.now();
    const result: PublishResult = { status: null, durationMs: 0, responseSnippet: '' };
    if (Buffer.byteLength(publication.routingKey) > MAX_ROUTING_KEY_BYTES) {
      // The same names give the same key every time: no retry can help.
      result.error = {
        type: 'network',
        message: `routing key ${publication.routingKey.slice(0, 40)}… is longer than ${MAX_ROUTING_KEY_BYTES} bytes; shorten sink.routing_key`,
      };
      result.final = true;
      return result;
    }
    try {
      const connection = await this.#connections.get(publication);
      result.node = connection.node;
      const error = await connection.publish(publication);
      if (error !== undefined) result.error = error;
    } catch (err) {
      result.error = { type: 'connect', message: err instanceof Error ? err.message : String(err) };
    }
    result.durationMs = performance.now() - started;
    return result;
  }

  logFields(publication: Publication, result: PublishResult): Record<string, unknown> {
    return { exchange: publication.exchange, routing_key: publication.routingKey, node: result.node };
  }

  close(): Promise<void> {
    return this.#connections.close();
  }
}
