import type { Logger } from 'pino';
import { loadConfigs } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { isWalhookError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { Metrics } from '../core/metrics/metrics.js';
import { redactText } from '../core/redact.js';
import { version } from '../core/version.js';
import { AdminApi } from '../server/admin/admin-api.js';
import { addBackfillRoutes } from '../server/admin/backfill-routes.js';
import { addAdminRoutes } from '../server/admin/routes.js';
import { EventConsole } from '../server/console/console.js';
import { startHttpServer } from '../server/http-server.js';
import { MetadataApi } from '../server/metadata-api/metadata-api.js';
import { Pipeline } from '../service/pipeline.js';
import type { Status } from '../service/status.js';
import { SlotLock } from '../source/slot-lock.js';
import { configOption } from './args.js';
import { type ReadConfigs, Reloader } from './reloader.js';

/** How long shutdown may take past the grace period for deliveries: closing connections. */
const SHUTDOWN_SLACK_SEC = 15;

/** One pipeline of the process: its config, its slot lock, and the Pipeline reading while it leads. */
interface Lane {
  config: Readonly<Config>;
  lock: SlotLock;
  pipeline: Pipeline | null;
  /**
   * An operator paused the pipeline (POST /pause). The lane keeps it, so a Pipeline made anew after a
   * lost slot lock starts paused; a restarted process starts reading.
   */
  paused: boolean;
  /** The triggers an operator paused (POST /triggers/:name/pause), kept the same way. */
  pausedTriggers: Set<string>;
}

/** `walhook run --config FILE`: the service, logging to stdout. */
export async function runCommand(args: string[]): Promise<number> {
  const path = configOption(args);
  const configs = await loadConfigs(path);
  return runService(configs, createLogger(), {
    reload: (storeText) => loadConfigs(path, process.env, storeText),
  });
}

/** What the service may do besides running its configs. */
export interface ServiceOptions {
  /** Reads the config anew for a reload (SIGHUP, POST /reload); without it, reloads are refused. */
  reload?: ReadConfigs;
}

/**
 * Runs the service until SIGTERM/SIGINT (exit 0 after a graceful stop) or a fatal error.
 * Resolves with the process exit code. Each config is one pipeline with its own slot, lock and
 * checkpoint; the server settings are shared (every config carries the same ones).
 */
export async function runService(
  configs: Readonly<Config> | readonly Readonly<Config>[],
  logger: Logger,
  options: ServiceOptions = {},
): Promise<number> {
  // The configs in effect: a reload replaces the content, so whoever was handed the array sees it.
  const all: Readonly<Config>[] = Array.isArray(configs) ? [...configs] : [configs as Readonly<Config>];
  const [first] = all;
  if (first === undefined) throw new Error('runService needs at least one pipeline');
  const several = all.length > 1;
  const metrics = new Metrics();
  const lanes: Lane[] = all.map((config) => {
    metrics.pipeline(config.pipeline);
    return {
      config,
      lock: new SlotLock({ connection: config.source.connection, slot: config.source.slot, logger }),
      pipeline: null,
      paused: false,
      pausedTriggers: new Set<string>(),
    };
  });
  const reloader = new Reloader(all, lanes, options.reload, metrics, logger);
  const laneOf = (name: string) => lanes.find((lane) => lane.config.pipeline === name);
  const eventConsole = new EventConsole({
    configs: all,
    metrics,
    probe: (name) => laneOf(name)?.pipeline ?? null,
    logger,
  });
  const admin = new AdminApi(first.server.admin_token, logger.child({ stage: 'admin' }));
  const eventRedelivery = addAdminRoutes(
    admin,
    {
      configs: all,
      setPaused: (name, paused) => {
        const lane = laneOf(name);
        if (!lane) return;
        lane.paused = paused;
        if (paused) lane.pipeline?.pause();
        else lane.pipeline?.resume();
      },
      setTriggerPaused: (trigger, paused) => {
        const lane = lanes.find((l) => l.config.triggers.some((t) => t.name === trigger));
        if (!lane) return;
        if (paused) {
          lane.pausedTriggers.add(trigger);
          lane.pipeline?.pauseTrigger(trigger);
        } else {
          lane.pausedTriggers.delete(trigger);
          lane.pipeline?.resumeTrigger(trigger);
        }
      },
      deadLettersChanged: (name) => {
        laneOf(name)?.pipeline?.deadLettersChanged();
        eventConsole.deadLettersChanged();
      },
      reload: () => reloader.reload('POST /reload'),
      recorderOf: (trigger) =>
        lanes.find((l) => l.config.triggers.some((t) => t.name === trigger))?.pipeline?.recorder,
    },
    logger.child({ stage: 'dead-letters' }),
  );
  const backfillsOf = (trigger: string) => {
    const lane = lanes.find((l) => l.config.triggers.some((t) => t.name === trigger));
    return lane?.pipeline?.backfills ?? null;
  };
  addBackfillRoutes(admin, backfillsOf);
  const metadataApi = new MetadataApi(
    first.server.admin_token,
    {
      configs: all,
      backfillsOf,
      redeliver: (id, selected) => eventRedelivery.redeliver(id, selected),
      changeStore: (why, edit) => reloader.changeStore(why, edit),
    },
    logger.child({ stage: 'metadata' }),
  );
  const http = await startHttpServer(
    first.server,
    metrics,
    {
      readiness: () => readiness(lanes, several),
      status: () => {
        const report = status(lanes, several);
        return report && reloader.last ? { ...report, last_reload: reloader.last } : report;
      },
    },
    admin,
    logger,
    eventConsole,
    metadataApi,
  );
  logger.info(
    several
      ? {
          version: version(),
          pipelines: lanes.map((l) => l.config.pipeline),
          triggers: all.reduce((n, c) => n + c.triggers.length, 0),
        }
      : { version: version(), triggers: first.triggers.length },
    'walhook starting',
  );

  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  let stopping = false;
  const shutdown = async (code: number, reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason, grace_sec: first.shutdown_grace_sec }, 'shutting down');
    // The settled position is confirmed once deliveries drain; a close that never completes after
    // that (a connection that does not end) must not keep the process from exiting.
    const watchdog = setTimeout(
      () => {
        const waiting = lanes.map((lane) => lane.pipeline?.stoppingStep).filter(Boolean);
        logger.warn(
          { waiting_for: waiting.length > 0 ? waiting : 'closing connections' },
          'shutdown did not finish in time; exiting without waiting further',
        );
        resolveExit(code);
      },
      (first.shutdown_grace_sec + SHUTDOWN_SLACK_SEC) * 1000,
    );
    watchdog.unref();
    // The pipelines drain side by side, so the grace period holds for the process as a whole.
    const results = await Promise.all(
      lanes.map(async (lane) => {
        const drained = (await lane.pipeline?.stop(first.shutdown_grace_sec)) ?? true;
        logger.debug({ step: 'slot lock' }, 'stopping');
        await lane.lock.close();
        return drained;
      }),
    );
    if (!results.every(Boolean)) {
      logger.warn(
        { code: 'WALHOOK_ERR_SHUTDOWN_TIMEOUT' },
        'shutdown grace period ended with deliveries in flight; they will be replayed on restart',
      );
    }
    logger.debug({ step: 'http server' }, 'stopping');
    await http.close();
    logger.debug({ step: 'console' }, 'stopping');
    await eventConsole.close();
    await metadataApi.close();
    await eventRedelivery.close();
    clearTimeout(watchdog);
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
  const onHangup = () => {
    if (!stopping) void reloader.reload('SIGHUP');
  };
  process.on('SIGHUP', onHangup);

  // A fatal error in any pipeline stops the process: the others stop gracefully with it.
  const fail = (err: unknown) => {
    const code = isWalhookError(err) ? err.exitCode : 1;
    // Problems an operator must act on (config-like, slot lost) also go to stderr as one line.
    if (isWalhookError(err)) process.stderr.write(`walhook: ${redactText(err.message)}\n`);
    // A usage or config error's stack says nothing its one line does not (exit 2 means a fix is named).
    const usage = isWalhookError(err) && err.exitCode === 2;
    logger.error(
      { ...(usage ? { error: err.message } : { err }), code: isWalhookError(err) ? err.code : undefined },
      'fatal error; stopping',
    );
    void shutdown(code, 'fatal error');
  };
  const lead = (lane: Lane): void => {
    const { config, lock } = lane;
    const current = new Pipeline(config, metrics, logger, fail, lock, eventConsole.hooks, () => {
      // Another process may hold the lock already: stop at once, leaving what is unsettled to the WAL,
      // and wait for the lock again as a standby.
      logger.warn(
        several ? { pipeline: config.pipeline, slot: config.source.slot } : { slot: config.source.slot },
        'lost the slot lock; stopping reading until it is held again',
      );
      lane.pipeline = null;
      void current.stop(0).then(() => {
        if (!stopping) lead(lane);
      }, fail);
    });
    lane.pipeline = current;
    if (lane.paused) current.pause();
    for (const trigger of lane.pausedTriggers) current.pauseTrigger(trigger);
    current.start().catch(fail);
  };
  for (const lane of lanes) lead(lane);

  const code = await exited;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  process.off('SIGHUP', onHangup);
  return code;
}

/** Ready when every pipeline is; otherwise the first reason, naming its pipeline when there are several. */
function readiness(lanes: readonly Lane[], several: boolean): { ready: boolean; reason: string } {
  const reasons: string[] = [];
  for (const { config, pipeline } of lanes) {
    const { ready, reason } = pipeline?.readiness() ?? { ready: false, reason: 'starting' };
    if (ready && lanes.length === 1) return { ready, reason };
    if (!ready) reasons.push(several ? `pipeline ${config.pipeline}: ${reason}` : reason);
  }
  return reasons.length === 0
    ? { ready: true, reason: 'streaming' }
    : { ready: false, reason: reasons.join('; ') };
}

/**
 * One pipeline: its report as it always was. Several: the first pipeline's report at the top (so
 * readers of the single form keep working) and every pipeline's report, named, in `pipelines`.
 */
function status(lanes: readonly Lane[], several: boolean): Status | null {
  const reports: Status[] = [];
  for (const { config, pipeline } of lanes) {
    const report = pipeline?.status();
    if (!report) return null;
    reports.push(several ? { ...report, pipeline: config.pipeline } : report);
  }
  const [head] = reports;
  if (!head || !several) return head ?? null;
  return {
    ...head,
    connected: reports.every((r) => r.connected),
    ready: reports.every((r) => r.ready),
    paused: reports.some((r) => r.paused),
    paused_by: [...new Set(reports.flatMap((r) => r.paused_by ?? []))],
    pipelines: reports,
  };
}
