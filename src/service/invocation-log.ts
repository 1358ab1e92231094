import type { Logger } from 'pino';
import type { DeliveryEvent } from '../core/delivery-event.js';
import type { Metrics } from '../core/metrics/metrics.js';
import { InvocationLog } from '../invocation-log/log.js';
import type { InvocationLogSettings } from '../invocation-log/settings.js';
import type { DeliveryRecorder, SentAttempt } from '../sinks/engine-hooks.js';

/** The pipeline's invocation log with its metrics, or null when `invocation_log` is not set. */
export function openInvocationLog(
  config: InvocationLogSettings & { readonly pipeline: string },
  metrics: Metrics,
  logger: Logger,
): InvocationLog | null {
  if (config.invocation_log === undefined) return null;
  const written = metrics.invocationLogRecords.labels(config.pipeline, 'written');
  const dropped = metrics.invocationLogRecords.labels(config.pipeline, 'dropped');
  const errors = metrics.errorSeries('invocationLog');
  return new InvocationLog({
    connection: config.source.connection,
    config: config.invocation_log,
    userAgent: config.user_agent,
    counters: {
      written: (n) => written.inc(n),
      dropped: (n) => dropped.inc(n),
      writeFailed: () => errors.inc(),
    },
    logger,
  });
}

/** The engine takes one recorder: the console's ring and the log share it; absent when neither is. */
export function bothRecorders(
  console: DeliveryRecorder | undefined,
  log: DeliveryRecorder | undefined,
): DeliveryRecorder | undefined {
  if (console === undefined || log === undefined) return console ?? log;
  return {
    attempt(events: readonly DeliveryEvent[], sent: SentAttempt): void {
      console.attempt(events, sent);
      log.attempt(events, sent);
    },
  };
}
