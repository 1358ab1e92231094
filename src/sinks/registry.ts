import { z } from 'zod';
import type { DeliveryTarget, OrderingMode, RetryPolicy } from '../core/delivery-event.js';
import { natsPlugin } from './nats/plugin.js';
import type { SinkPlugin } from './plugin.js';
import { rabbitmqPlugin } from './rabbitmq/plugin.js';
import { redisPlugin } from './redis/plugin.js';
import { webhookPlugin } from './webhook/plugin.js';

/** Every sink walhook has. Another is a folder beside webhook/ and nats/, and one line here. */
const PLUGINS = [webhookPlugin, natsPlugin, rabbitmqPlugin, redisPlugin] as const;

type Plugin = (typeof PLUGINS)[number];
type SettingsSchema = Plugin['settings'];

export const SINK_TYPES: readonly string[] = PLUGINS.map((plugin) => plugin.type);

/** A trigger's `sink:` mapping: one of the plugins' mappings, picked by its `type`. */
export const sinkSettings = z.discriminatedUnion(
  'type',
  PLUGINS.map((plugin) => plugin.settings) as unknown as [SettingsSchema, ...SettingsSchema[]],
  {
    error: (issue) => {
      if (issue.code !== 'invalid_union') return undefined;
      const types = SINK_TYPES.join(', ');
      return (issue.input as { type?: unknown }).type === undefined
        ? `required (one of ${types})`
        : `expected one of ${types}`;
    },
  },
);

export type SinkSettings = z.output<typeof sinkSettings>;

/** The plugin of a sink type; a type no plugin has is a bug, since the config admits none. */
export function sinkPlugin(type: string): SinkPlugin {
  const plugin = PLUGINS.find((p) => p.type === type);
  if (plugin === undefined) throw new Error(`no sink plugin of type ${type}`);
  return plugin as SinkPlugin;
}

/** A trigger's delivery settings as the config holds them (snake case, `retry` as written). */
export interface TriggerSink {
  name: string;
  ordering: OrderingMode;
  concurrency: number;
  retry?:
    | {
        num_retries: number;
        interval_sec: number;
        timeout_sec: number;
        backoff: RetryPolicy['backoff'];
        max_interval_sec: number;
        final_statuses: readonly (number | string)[];
        retry_after: RetryPolicy['retryAfter'];
      }
    | undefined;
  sink: SinkSettings;
}

/** Where and how a trigger's events are delivered, built by its sink's plugin. */
export function sinkTarget(trigger: TriggerSink): DeliveryTarget {
  const { retry } = trigger;
  return sinkPlugin(trigger.sink.type).target(
    {
      name: trigger.name,
      ordering: trigger.ordering,
      concurrency: trigger.concurrency,
      retry: retry && {
        numRetries: retry.num_retries,
        intervalSec: retry.interval_sec,
        timeoutSec: retry.timeout_sec,
        backoff: retry.backoff,
        maxIntervalSec: retry.max_interval_sec,
        finalStatuses: retry.final_statuses,
        retryAfter: retry.retry_after,
      },
    },
    trigger.sink,
  );
}
