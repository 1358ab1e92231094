import type { Delivery, SinkPlugin, Transport } from '../plugin.js';
import type { AddResult, Entry } from './client.js';
import { RedisConnections } from './connections.js';
import { entryFields } from './fields.js';
import { type RedisSettings, redisSettings } from './settings.js';
import { endpointKey, endpointText, type RedisTarget, redisTarget } from './target.js';

/**
 * Redis Streams: each event is one entry (XADD) in its table's stream, delivered once Redis answered
 * with the entry id, and with `wait` only once that many replicas hold it. Redis has no idempotent XADD:
 * a replayed event is a second entry with the same id field, for the consumer to drop. See docs/sinks.md.
 */
export const redisPlugin: SinkPlugin<RedisTarget, RedisSettings> = {
  type: 'redis',
  settings: redisSettings,
  target: redisTarget,
  refusedRetryKeys: {
    timeout_sec: 'an XADD waits sink.ack_timeout_sec for its answer',
    final_statuses: 'a broker answers with no HTTP status',
    retry_after: 'a broker sends no Retry-After header',
  },
  waitHoldsSlot: true,
  failureLog: 'once-a-minute',
  // The URL's password, should an error message quote the URL.
  secrets: (target) => {
    if (!('url' in target.endpoint)) return [];
    const { password } = new URL(target.endpoint.url);
    return password === '' ? [] : [...new Set([password, decodeURIComponent(password)])];
  },
  open: ({ logger }) => new RedisTransport(new RedisConnections(logger.child({ component: 'redis' }))),
  // Loaded with the first probe: it loads the Redis client, which only a Redis connection needs otherwise.
  probe: async (target, timeoutMs) => (await import('./probe.js')).probeRedis(target, timeoutMs),
  probeKey: (target) => JSON.stringify([endpointKey(target.endpoint), target.wait?.replicas ?? 0]),
};

class RedisTransport implements Transport<RedisTarget> {
  readonly #connections: RedisConnections;

  constructor(connections: RedisConnections) {
    this.#connections = connections;
  }

  request(deliveries: readonly Delivery<RedisTarget>[], _currentRetry: number, _traceparent: string): Entry {
    const { event } = deliveries[0] as Delivery<RedisTarget>;
    const { target } = event;
    // What a dead letter and the console keep, and the payload field: the event as a webhook receives it.
    const body = event.body(0);
    return {
      endpoint: target.endpoint,
      stream: target.stream.render(event.relation),
      fields: entryFields(target.fields, event, body),
      body,
      maxlen: target.maxlen,
      wait: target.wait,
      timeoutMs: target.ackTimeoutMs,
    };
  }

  /** Connecting counts against the attempt's time: sentinels that name no reachable master never answer. */
  async send(entry: Entry): Promise<AddResult> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<AddResult>((resolve) => {
      timer = setTimeout(() => {
        const error = { type: 'timeout' as const, message: `no answer within ${entry.timeoutMs} ms` };
        resolve({ status: null, durationMs: 0, responseSnippet: '', error });
      }, entry.timeoutMs);
    });
    const result = await Promise.race([this.#send(entry), late]);
    clearTimeout(timer);
    return { ...result, durationMs: performance.now() - started };
  }

  async #send(entry: Entry): Promise<AddResult> {
    try {
      const connection = await this.#connections.get(entry.endpoint);
      return await connection.add(entry);
    } catch (err) {
      const error = { type: 'connect' as const, message: err instanceof Error ? err.message : String(err) };
      return { status: null, durationMs: 0, responseSnippet: '', error };
    }
  }

  logFields(entry: Entry, result: AddResult): Record<string, unknown> {
    return {
      redis: endpointText(entry.endpoint),
      stream: entry.stream,
      entry_id: result.entryId,
      replicas: result.replicas,
    };
  }

  close(): Promise<void> {
    return this.#connections.close();
  }
}
