import type { DeliveryTarget, RetryPolicy } from '../../core/delivery-event.js';
import type { TableName } from '../../core/table-name.js';
import type { TriggerDelivery } from '../plugin.js';
import type { Field } from './fields.js';
import type { RedisSettings } from './settings.js';
import { StreamTemplate } from './stream-name.js';

/** Where a connection goes: one server's URL, or the master the sentinels name. */
export type RedisEndpoint =
  | { readonly url: string }
  | { readonly sentinels: readonly string[]; readonly masterName: string };

/** `WAIT replicas timeout_ms` after each entry: delivered only once that many replicas hold it. */
export interface ReplicaWait {
  readonly replicas: number;
  readonly timeoutMs: number;
}

/** Redis Streams; see docs/sinks.md. */
export interface RedisTarget extends DeliveryTarget {
  type: 'redis';
  endpoint: RedisEndpoint;
  /** The stream (key) of an event's table. */
  stream: { render(relation: TableName): string };
  /** `MAXLEN ~ n` on each XADD; null keeps every entry. */
  maxlen: number | null;
  fields: readonly Field[];
  wait: ReplicaWait | null;
  ackTimeoutMs: number;
}

/**
 * Without a `retry`, an entry is retried until Redis takes it (as for NATS): quick at first, for a
 * failover, then every few seconds at most, so a server back from an outage is found soon. Meanwhile the
 * in-flight limits pause reading the slot.
 */
const UNTIL_ACKNOWLEDGED: Omit<RetryPolicy, 'timeoutSec'> = {
  numRetries: Number.POSITIVE_INFINITY,
  intervalSec: 0.1,
  backoff: 'exponential',
  maxIntervalSec: 5,
  finalStatuses: [],
  retryAfter: 'throttling',
};

/** The key of an endpoint: triggers with the same one share a connection. */
export function endpointKey(endpoint: RedisEndpoint): string {
  return 'url' in endpoint
    ? JSON.stringify([endpoint.url])
    : JSON.stringify([endpoint.sentinels, endpoint.masterName]);
}

/** The endpoint as logs and probes show it: a URL without its credentials. */
export function endpointText(endpoint: RedisEndpoint): string {
  if (!('url' in endpoint)) return `${endpoint.masterName} via ${endpoint.sentinels.join(', ')}`;
  const url = new URL(endpoint.url);
  url.username = '';
  url.password = '';
  return url.toString().replace(/\/$/, '');
}

export function redisTarget(trigger: TriggerDelivery, settings: RedisSettings): RedisTarget {
  const timeoutSec = settings.ack_timeout_sec;
  const { url, sentinels, master_name: masterName, wait } = settings;
  return {
    type: 'redis',
    trigger: trigger.name,
    // The settings schema admits exactly one of the two.
    endpoint: url !== undefined ? { url } : { sentinels: sentinels ?? [], masterName: masterName ?? '' },
    stream: new StreamTemplate(settings.stream),
    maxlen: settings.maxlen ?? null,
    fields: settings.fields,
    wait: wait === undefined ? null : { replicas: wait.replicas, timeoutMs: wait.timeout_ms },
    ackTimeoutMs: timeoutSec * 1000,
    // An attempt lasts until its answer is due, whichever policy retries it.
    retry: { ...(trigger.retry ?? UNTIL_ACKNOWLEDGED), timeoutSec },
    ordering: trigger.ordering,
    concurrency: trigger.concurrency,
  };
}
