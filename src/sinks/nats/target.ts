import type { DeliveryEvent, DeliveryTarget, RetryPolicy } from '../../core/delivery-event.js';
import type { TableName } from '../../core/table-name.js';
import type { TriggerDelivery } from '../plugin.js';
import type { NatsSettings } from './settings.js';
import { SubjectTemplate } from './subject.js';

/** A JetStream stream fed through NATS; see docs/sinks.md. */
export interface NatsTarget extends DeliveryTarget {
  type: 'nats';
  servers: readonly string[];
  /** The subject of an event of a table and operation. */
  subject: { render(relation: TableName, op: DeliveryEvent['op']): string };
  /** When set, JetStream refuses a message that its subject would store in another stream. */
  stream: string | null;
  ackTimeoutMs: number;
}

/**
 * Without a `retry`, a publish is retried until the stream acknowledges it: quick at first, for a leader
 * election, then every few seconds at most, so a broker back from an outage is found soon and events
 * flow again without an operator. Meanwhile the in-flight limits pause reading the slot.
 */
const UNTIL_ACKNOWLEDGED: Omit<RetryPolicy, 'timeoutSec'> = {
  numRetries: Number.POSITIVE_INFINITY,
  intervalSec: 0.1,
  backoff: 'exponential',
  maxIntervalSec: 5,
  finalStatuses: [],
  retryAfter: 'throttling',
};

export function natsTarget(trigger: TriggerDelivery, settings: NatsSettings): NatsTarget {
  const timeoutSec = settings.ack_timeout_sec;
  return {
    type: 'nats',
    trigger: trigger.name,
    servers: settings.servers,
    subject: new SubjectTemplate(settings.subject),
    stream: settings.stream ?? null,
    ackTimeoutMs: timeoutSec * 1000,
    // An attempt lasts until its acknowledgement is due, whichever policy retries it.
    retry: { ...(trigger.retry ?? UNTIL_ACKNOWLEDGED), timeoutSec },
    ordering: trigger.ordering,
    concurrency: trigger.concurrency,
  };
}
