import type { Logger } from 'pino';
import {
  readStoreText,
  type StoredTrigger,
  storedTriggers,
  storeText,
  writeStore,
} from '../config/hasura/trigger-store.js';
import { restartKey } from '../config/live-keys.js';
import type { Config } from '../config/schema.js';
import { isWalhookError, WalhookError } from '../core/errors.js';
import type { Metrics } from '../core/metrics/metrics.js';
import { redactText } from '../core/redact.js';
import type { Pipeline, PipelineReload } from '../service/pipeline.js';
import type { ReloadReport } from '../service/status.js';
import { errorLine } from '../source/login-error.js';

/** How long a reload's answer waits for the stream to reach its marker before it says "pending". */
const RELOAD_WAIT_MS = 10_000;

/** Reads the configs anew; `storeText` stands for the metadata store's content when given. */
export type ReadConfigs = (storeText?: string) => Promise<readonly Readonly<Config>[]>;

/** The pipelines of the process as the reloader sees them: each one's config and running Pipeline. */
export interface ReloadLane {
  config: Readonly<Config>;
  readonly pipeline: Pipeline | null;
  /** Triggers an operator paused; a removed one is forgotten (its pipeline resumes its events). */
  readonly pausedTriggers: Set<string>;
}

/**
 * Applies new configs to a running service, one change at a time: a re-read of the files (SIGHUP,
 * POST /reload) or a change of the metadata store (pg_create_event_trigger, pg_delete_event_trigger),
 * which is written only once the running pipelines took it.
 */
export class Reloader {
  #queue: Promise<unknown> = Promise.resolve();
  /** The last reload's outcome, for /status; null until one. */
  last: ReloadReport | null = null;

  constructor(
    /** The configs in effect, which whoever was handed the array sees replaced. */
    private readonly all: Readonly<Config>[],
    private readonly lanes: readonly ReloadLane[],
    private readonly read: ReadConfigs | undefined,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    metrics.configReloads.inc({ result: 'ok' }, 0);
    metrics.configReloads.inc({ result: 'failed' }, 0);
  }

  /** Reads the config again and applies what changed; a refusal is reported, never thrown. */
  reload(why: string): Promise<ReloadReport> {
    return this.#inTurn(async () => {
      try {
        return await this.#apply(why, await this.#readConfigs());
      } catch (err) {
        return this.#refused(why, err);
      }
    });
  }

  /**
   * Changes the triggers the metadata store keeps: `change` gets them and returns the new list (or
   * throws, changing nothing). The configs with the new store must load and the pipelines take them
   * before the store file is replaced; otherwise the error is thrown and the file stays as it was.
   */
  changeStore(why: string, change: (stored: StoredTrigger[]) => StoredTrigger[]): Promise<ReloadReport> {
    return this.#inTurn(async () => {
      const path = this.all[0]?.metadata_store;
      if (path === undefined) {
        throw new WalhookError(
          'WALHOOK_ERR_CONFIG_RELOAD',
          'this walhook has no metadata_store to keep triggers in',
        );
      }
      const next = storeText(change(storedTriggers(readStoreText(path), path)));
      const configs = await this.#readConfigs(next);
      let report: ReloadReport;
      try {
        report = await this.#apply(why, configs);
      } catch (err) {
        this.#refused(why, err);
        throw err;
      }
      await writeStore(path, next);
      return report;
    });
  }

  #inTurn<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(step);
    this.#queue = run.catch(() => {});
    return run;
  }

  #readConfigs(storeText?: string): Promise<readonly Readonly<Config>[]> {
    if (this.read === undefined) {
      throw new WalhookError('WALHOOK_ERR_CONFIG_RELOAD', 'this walhook was not started from a config file');
    }
    return this.read(storeText);
  }

  async #apply(why: string, next: readonly Readonly<Config>[]): Promise<ReloadReport> {
    const at = new Date().toISOString();
    const key = restartKey(this.all, next);
    if (key !== null) throw new WalhookError('WALHOOK_ERR_CONFIG_RELOAD', `restart to change ${key}`);
    const reloads: PipelineReload[] = [];
    for (const [i, lane] of this.lanes.entries()) {
      const config = next[i] as Readonly<Config>;
      const result = await lane.pipeline?.reload(config);
      if (result) reloads.push(result);
      lane.config = config;
      this.all[i] = config;
      for (const name of lane.pausedTriggers) {
        if (!config.triggers.some((t) => t.name === name)) lane.pausedTriggers.delete(name);
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const inEffect = await Promise.race([
      Promise.all(reloads.map((r) => r.applied)).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), RELOAD_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    const names = (pick: (r: PipelineReload) => string[]) => reloads.flatMap((r) => pick(r));
    const report: ReloadReport = {
      at,
      result: 'ok',
      error: null,
      in_effect: inEffect,
      added: names((r) => r.changes.added),
      removed: names((r) => r.changes.removed),
      changed: names((r) => r.changes.changed),
    };
    this.metrics.configReloads.inc({ result: 'ok' });
    const { added, removed, changed } = report;
    this.logger.info({ reason: why, added, removed, changed, in_effect: inEffect }, 'config reloaded');
    this.last = report;
    return report;
  }

  #refused(why: string, err: unknown): ReloadReport {
    const error = redactText(errorLine(err));
    const report: ReloadReport = { at: new Date().toISOString(), result: 'failed', error };
    this.metrics.configReloads.inc({ result: 'failed' });
    this.logger.error(
      { reason: why, code: isWalhookError(err) ? err.code : undefined },
      `config reload refused, the running config stays: ${error}`,
    );
    this.last = report;
    return report;
  }
}
