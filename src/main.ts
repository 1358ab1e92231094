import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { isWalhookError } from './errors.js';
import { startHttpServer } from './observability/http-server.js';
import { Metrics } from './observability/metrics.js';
import { redactText } from './observability/redact.js';
import { Pipeline } from './pipeline.js';
import { SlotLock } from './source/slot-lock.js';
import { version } from './version.js';

/**
 * Runs the service until SIGTERM/SIGINT (exit 0 after a graceful stop) or a fatal error.
 * Resolves with the process exit code.
 */
export async function runService(config: Readonly<Config>, logger: Logger): Promise<number> {
  const metrics = new Metrics();
  let pipeline: Pipeline | null = null;
  const http = await startHttpServer(
    config.server,
    metrics,
    {
      readiness: () => pipeline?.readiness() ?? { ready: false, reason: 'starting' },
      status: () => pipeline?.status() ?? null,
    },
    logger,
  );
  const lock = new SlotLock({ connection: config.source.connection, slot: config.source.slot, logger });
  logger.info({ version: version(), triggers: config.triggers.length }, 'walhook starting');

  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  let stopping = false;
  const shutdown = async (code: number, reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason, grace_sec: config.shutdown_grace_sec }, 'shutting down');
    const drained = (await pipeline?.stop(config.shutdown_grace_sec)) ?? true;
    await lock.close();
    if (!drained) {
      logger.warn(
        { code: 'WALHOOK_ERR_SHUTDOWN_TIMEOUT' },
        'shutdown grace period ended with deliveries in flight; they will be replayed on restart',
      );
    }
    await http.close();
    resolveExit(code);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal; exiting without waiting for deliveries');
      resolveExit(1);
      return;
    }
    void shutdown(0, signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const fail = (err: unknown) => {
    const code = isWalhookError(err) ? err.exitCode : 1;
    // Problems an operator must act on (config-like, slot lost) also go to stderr as one line.
    if (isWalhookError(err)) process.stderr.write(`walhook: ${redactText(err.message)}\n`);
    logger.error({ err, code: isWalhookError(err) ? err.code : undefined }, 'fatal error; stopping');
    void shutdown(code, 'fatal error');
  };
  const lead = (): void => {
    const current = new Pipeline(config, metrics, logger, fail, lock, () => {
      // Another process may hold the lock already: stop at once, leaving what is unsettled to the WAL,
      // and wait for the lock again as a standby.
      logger.warn(
        { slot: config.source.slot },
        'lost the slot lock; stopping reading until it is held again',
      );
      pipeline = null;
      void current.stop(0).then(() => {
        if (!stopping) lead();
      }, fail);
    });
    pipeline = current;
    current.start().catch(fail);
  };
  metrics.role('standby');
  lead();

  const code = await exited;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  return code;
}
