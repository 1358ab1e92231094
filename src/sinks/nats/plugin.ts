import type { Delivery, SinkPlugin, Transport } from '../plugin.js';
import type { Message, PublishResult } from './client.js';
import { NatsConnections } from './connections.js';
import { type NatsSettings, natsSettings } from './settings.js';
import { type NatsTarget, natsTarget } from './target.js';

/**
 * NATS JetStream: each event is one message, delivered only once the stream acknowledged it (PubAck), with
 * the event id as the message id so that JetStream drops a replayed copy. See docs/sinks.md.
 */
export const natsPlugin: SinkPlugin<NatsTarget, NatsSettings> = {
  type: 'nats',
  settings: natsSettings,
  target: natsTarget,
  refusedRetryKeys: {
    timeout_sec: 'a publish waits sink.ack_timeout_sec for its acknowledgement',
    final_statuses: 'a broker answers with no HTTP status',
    retry_after: 'a broker sends no Retry-After header',
  },
  waitHoldsSlot: true,
  failureLog: 'once-a-minute',
  open: ({ logger }) => new NatsTransport(new NatsConnections(logger.child({ component: 'nats' }))),
  // Loaded with the first probe: it loads the NATS client, which only a NATS connection needs otherwise.
  probe: async (target, timeoutMs) => (await import('./probe.js')).probeNats(target, timeoutMs),
  probeKey: (target) => JSON.stringify(['nats', target.servers, target.stream]),
};

class NatsTransport implements Transport<NatsTarget> {
  readonly #connections: NatsConnections;

  constructor(connections: NatsConnections) {
    this.#connections = connections;
  }

  request(deliveries: readonly Delivery<NatsTarget>[], _currentRetry: number, traceparent: string): Message {
    const { event } = deliveries[0] as Delivery<NatsTarget>;
    const { target } = event;
    return {
      servers: target.servers,
      subject: target.subject.render(event.relation, event.op),
      // The event as a webhook receives it on its first attempt, whichever attempt stores it.
      body: event.body(0),
      id: event.id,
      trigger: target.trigger,
      traceparent,
      stream: target.stream,
      timeoutMs: target.ackTimeoutMs,
    };
  }

  async send(message: Message): Promise<PublishResult> {
    const started = performance.now();
    let result: PublishResult;
    try {
      const connection = await this.#connections.get(message.servers);
      result = await connection.publish(message);
    } catch (err) {
      const error = { type: 'connect' as const, message: err instanceof Error ? err.message : String(err) };
      result = { status: null, durationMs: 0, responseSnippet: '', error };
    }
    result.durationMs = performance.now() - started;
    return result;
  }

  logFields(message: Message, result: PublishResult): Record<string, unknown> {
    const { ack } = result;
    return {
      subject: message.subject,
      stream: ack?.stream,
      seq: ack?.seq,
      duplicate: ack?.duplicate || undefined,
    };
  }

  close(): Promise<void> {
    return this.#connections.close();
  }
}
