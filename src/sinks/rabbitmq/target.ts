import type { DeliveryEvent, DeliveryTarget, RetryPolicy } from '../../core/delivery-event.js';
import type { TableName } from '../../core/table-name.js';
import type { TriggerDelivery } from '../plugin.js';
import { RoutingKeyTemplate } from './routing-key.js';
import type { RabbitmqSettings } from './settings.js';

/** Files for amqps:// nodes, named as the webhook sink's `tls` names them. */
export interface RabbitmqTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** A RabbitMQ exchange fed through the nodes of one cluster; see docs/sinks.md. */
export interface RabbitmqTarget extends DeliveryTarget {
  type: 'rabbitmq';
  /** The nodes, tried in turn on connect and on reconnect. */
  urls: readonly string[];
  exchange: string;
  /** Declare the exchange (durable, topic) before the first publish. */
  declare: boolean;
  /** The routing key of an event of a table and operation. */
  routingKey: { render(relation: TableName, op: DeliveryEvent['op']): string };
  tls: RabbitmqTls | null;
  ackTimeoutMs: number;
}

/**
 * Without a `retry`, a publish is retried until RabbitMQ confirms it: quick at first, for a node that
 * restarts or a queue leader election, then every few seconds at most, so a broker back from an outage
 * is found soon. Meanwhile the in-flight limits pause reading the slot.
 */
const UNTIL_CONFIRMED: Omit<RetryPolicy, 'timeoutSec'> = {
  numRetries: Number.POSITIVE_INFINITY,
  intervalSec: 0.1,
  backoff: 'exponential',
  maxIntervalSec: 5,
  finalStatuses: [],
  retryAfter: 'throttling',
};

export function rabbitmqTarget(trigger: TriggerDelivery, settings: RabbitmqSettings): RabbitmqTarget {
  const timeoutSec = settings.ack_timeout_sec;
  const { tls } = settings;
  return {
    type: 'rabbitmq',
    trigger: trigger.name,
    urls: settings.urls,
    exchange: settings.exchange,
    declare: settings.declare,
    routingKey: new RoutingKeyTemplate(settings.routing_key),
    tls:
      tls === undefined
        ? null
        : {
            ...(tls.ca_file !== undefined && { caFile: tls.ca_file }),
            ...(tls.cert_file !== undefined && { certFile: tls.cert_file }),
            ...(tls.key_file !== undefined && { keyFile: tls.key_file }),
          },
    ackTimeoutMs: timeoutSec * 1000,
    // An attempt lasts until its confirm is due, whichever policy retries it.
    retry: { ...(trigger.retry ?? UNTIL_CONFIRMED), timeoutSec },
    ordering: trigger.ordering,
    concurrency: trigger.concurrency,
  };
}
