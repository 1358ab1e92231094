import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { type Backfills, openBackfills } from '../backfill/open.js';
import { Acknowledger } from '../checkpoint/acknowledger.js';
import { CheckpointTracker } from '../checkpoint/tracker.js';
import { DEFAULT_PIPELINE } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { DeliveryEvent } from '../core/delivery-event.js';
import { isWalhookError } from '../core/errors.js';
import { formatLsn, type Lsn } from '../core/lsn.js';
import type { ErrorKind, Metrics, PipelineMetrics } from '../core/metrics/metrics.js';
import { secondsSinceCommit } from '../core/metrics/trigger-metrics.js';
import { deadLetterOf } from '../dead-letters/letter.js';
import { openDeadLetterStore } from '../dead-letters/open.js';
import type { DeadLetterStore } from '../dead-letters/store.js';
import type { InvocationLog } from '../invocation-log/log.js';
import { startChecks } from '../preflight/preflight.js';
import { DeliveryEngine } from '../sinks/engine.js';
import type { DeliveryRecorder, FinalFailure } from '../sinks/engine-hooks.js';
import { sinkTarget } from '../sinks/registry.js';
import { ChangeFeed } from '../source/change-feed.js';
import { errorLine, sourceLoginError } from '../source/login-error.js';
import { prepareReload, prepareSource, RELOAD_PREFIX, type SourceState } from '../source/setup.js';
import { LOCK_POLL_MS, type SlotLock } from '../source/slot-lock.js';
import type { Source } from '../source/source.js';
import type { TableInfo } from '../source/tables.js';
import { sourceTlsError } from '../source/tls-error.js';
import { identityNeeds } from '../triggers/identity-needs.js';
import { type TriggerDefinition, TriggerIndex } from '../triggers/matcher.js';
import { EventRouter, type FilteredChangeHook } from '../triggers/router.js';
import { TransactionSessions } from '../triggers/session.js';
import { anyChange, type TriggerChanges, triggerChanges } from '../triggers/trigger-changes.js';
import { bothRecorders, openInvocationLog } from './invocation-log.js';
import { Monitoring } from './monitoring.js';
import type { Snapshot, Status } from './status.js';

/** What the event console keeps of a pipeline's deliveries and filtered changes; absent parts cost nothing. */
export interface ConsoleHooks {
  recorder?: DeliveryRecorder | undefined;
  onFiltered?: FilteredChangeHook | undefined;
}

/** A reload accepted, whose triggers take effect where the stream reaches its marker. */
interface PendingReload {
  config: Readonly<Config>;
  index: TriggerIndex;
  tables: TableInfo[];
  changes: TriggerChanges;
  applied: () => void;
}

/** What a reload of a pipeline changes, and when it has taken effect. */
export interface PipelineReload {
  changes: TriggerChanges;
  /** Resolves once changes committed from now on meet the new triggers. */
  applied: Promise<void>;
}

/** The pause reasons `/status` shows; a lookup's pause is too short to be worth it. */
const PAUSE_REASONS_SHOWN = ['operator', 'backpressure'] as const;
const SETUP_RETRY_MIN_MS = 500;
const SETUP_RETRY_MAX_MS = 30_000;

/**
 * One slot's flow: source (stream, decoding) → triggers (matching) → sink (delivery) →
 * checkpoint (settled LSN, acknowledgement), with backpressure from the sink to the source.
 */
export class Pipeline {
  private readonly logger: Logger;
  private readonly sink: DeliveryEngine;
  private readonly tracker: CheckpointTracker;
  private readonly acknowledger: Acknowledger;
  private readonly source: Source;
  private readonly deadLetters: DeadLetterStore;
  /** Every delivery attempt, when `invocation_log` is set. */
  private readonly invocationLog: InvocationLog | null;
  private readonly monitoring: Monitoring;
  /** This pipeline's series (label `pipeline`) and the shared ones. */
  private readonly metrics: PipelineMetrics;
  private router: EventRouter | null = null;
  /** The triggers the router and the backfills match with; a reload swaps its content. */
  private triggers: TriggerIndex | null = null;
  /** The newest config accepted by a reload, in effect or waiting for its marker (see `reload`). */
  private accepted: Readonly<Config>;
  /** Its triggers, compiled with their targets: what the next reload compares with and reuses. */
  private acceptedIndex: TriggerIndex | null = null;
  /** Reloads waiting for their marker in the stream, by marker, in the order they were written. */
  private readonly pendingReloads = new Map<string, PendingReload>();
  /** The session each transaction's `walhook.session` messages set, for its changes' events. */
  private readonly sessions: TransactionSessions;
  /** What `stop` waits for at the moment, for the shutdown watchdog's message. */
  stoppingStep: string | null = null;
  /** Where delivery attempts are kept (console, invocation log): the engine's and redeliveries'. */
  readonly recorder: DeliveryRecorder | undefined;
  /** Backfills and manual invocations, once streaming. */
  backfills: Backfills | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;
  /** Another process holds the slot lock; this one waits to take over. */
  private standby = false;
  private holdsLock = false;
  /** The position last confirmed to Postgres (at start, the slot's). */
  private confirmed: Lsn = 0n;
  /** Why Postgres refuses walhook's login, while it does: what /readyz answers. */
  private refusedLogin: string | null = null;

  constructor(
    /** The config in effect: a reload replaces it once the stream reaches its marker. */
    private config: Readonly<Config>,
    metrics: Metrics,
    logger: Logger,
    /** An error the pipeline cannot continue after; nothing unsettled has been confirmed. */
    private readonly onFatal: (err: unknown) => void,
    /** Decides which process reads the slot (see docs/scaling.md). */
    private readonly lock: SlotLock,
    /** What the event console keeps of deliveries and filtered changes. */
    private readonly consoleHooks: ConsoleHooks,
    /** The lock was lost after this pipeline took it: another process may read the slot now. */
    private readonly onLockLost: () => void,
  ) {
    this.accepted = config;
    this.metrics = metrics.pipeline(config.pipeline);
    // The single-pipeline form logs as it always did; with several, each line names its pipeline.
    this.logger = logger.child(
      config.pipeline === DEFAULT_PIPELINE
        ? { slot: config.source.slot }
        : { pipeline: config.pipeline, slot: config.source.slot },
    );
    this.sessions = new TransactionSessions(this.logger.child({ stage: 'triggers' }), () =>
      this.metrics.error('sessionMessage'),
    );
    this.deadLetters = openDeadLetterStore(config, this.logger.child({ stage: 'dead-letters' }));
    this.invocationLog = openInvocationLog(config, metrics, this.logger.child({ stage: 'sink' }));
    this.recorder = bothRecorders(consoleHooks.recorder, this.invocationLog?.recorder);
    this.sink = new DeliveryEngine({
      logger: this.logger.child({ stage: 'sink' }),
      userAgent: config.user_agent,
      deadLetter: (event, failure) => this.deadLetter(event, failure),
      onAttempt: (info) => this.metrics.trigger(info.trigger).attempt(info),
      onBlocked: () => this.applyBackpressure(),
      recorder: this.recorder,
    });
    this.tracker = new CheckpointTracker(0n, () => this.acknowledger.advanced());
    this.acknowledger = new Acknowledger(
      this.tracker,
      (lsn) => this.source.acknowledge(lsn),
      this.logger.child({ stage: 'checkpoint' }),
      (lsn) => this.confirm(lsn),
    );
    this.source = new ChangeFeed({
      ...config.source,
      logger: this.logger.child({ stage: 'source' }),
      events: {
        // The checkpoint learns of each transaction from here, never from the source itself.
        begin: (finalLsn) => this.tracker.begin(finalLsn),
        commit: (txn, endLsn) => this.tracker.commit(txn.tracked, endLsn),
        change: (change) => {
          const { txn } = change;
          txn.tracked.commitTime ??= txn.commitTime;
          this.backfills?.observe(change);
          this.router?.route(change, this.sessions.of(txn));
          this.applyBackpressure();
        },
        message: (message) => {
          if (message.prefix === RELOAD_PREFIX) this.reloadReached(message.content.toString('utf8'));
          this.sessions.message(message);
          this.backfills?.message(message);
        },
        keepalive: (walEnd, reply) => this.acknowledger.keepalive(walEnd, reply),
        connected: () => {
          this.refusedLogin = null;
          this.metrics.replicationConnected.set(1);
        },
        retrying: (err) => {
          if (sourceLoginError(err, config.source.connection)) this.loginRefused(err);
        },
        publicationChecked: (count) => this.metrics.unpublishedTables.set(count),
        disconnected: () => {
          this.metrics.replicationConnected.set(0);
          this.metrics.replicationReconnects.inc();
          this.metrics.error('connection');
        },
        fatal: (err) => {
          this.metrics.error(fatalKind(err));
          this.stopping = true;
          this.onFatal(err);
        },
      },
    });
    this.monitoring = new Monitoring(
      config,
      this.metrics,
      this.deadLetters,
      this.logger.child({ stage: 'monitor' }),
      () => this.snapshot(),
    );
    for (const trigger of config.triggers) this.metrics.triggerPaused(trigger.name, false);
    this.metrics.track({
      inFlightEvents: () => this.sink.inFlight,
      inFlightBytes: () => this.sink.inFlightBytes,
      lagBytes: () => Number(this.lagBytes()),
      lagSeconds: () => this.lagSeconds(),
    });
  }

  /**
   * Ready: streaming, and the oldest unsettled transaction committed at most `ready_max_lag_sec` ago.
   * An operator's pause keeps it ready, like a standby: nothing is wrong that a probe should act on.
   */
  readiness(): { ready: boolean; reason: string } {
    if (this.refusedLogin !== null) return { ready: false, reason: this.refusedLogin };
    if (this.standby) return { ready: true, reason: 'standby: another walhook process reads the slot' };
    if (!this.source.connected) return { ready: false, reason: 'replication stream not connected' };
    const lag = this.lagSeconds();
    const max = this.config.server.ready_max_lag_sec;
    if (lag > max) {
      return {
        ready: false,
        reason: `lagging: the oldest unsettled transaction committed ${lag.toFixed(1)} s ago (server.ready_max_lag_sec ${max})`,
      };
    }
    if (this.source.isPaused('operator')) return { ready: true, reason: 'paused by operator' };
    return { ready: true, reason: 'streaming' };
  }

  /**
   * Stops reading the slot until `resume` (POST /pause): deliveries in flight go on, and the slot is
   * confirmed up to the work they settle, so what is written meanwhile waits in the WAL.
   */
  pause(): void {
    if (this.source.isPaused('operator')) return;
    this.source.pause('operator');
    this.metrics.operatorPaused.set(1);
    this.logger.info(this.inFlight(), 'paused by an operator; deliveries in flight go on');
  }

  resume(): void {
    if (!this.source.isPaused('operator')) return;
    this.source.resume('operator');
    this.metrics.operatorPaused.set(0);
    this.logger.info('resumed by an operator; reading the slot again');
  }

  /**
   * Starts no new delivery attempt of the trigger until `resumeTrigger` (POST /triggers/:name/pause):
   * its events wait queued, in order and in flight, so a long pause ends in backpressure.
   */
  pauseTrigger(name: string): void {
    if (!this.sink.pauseTrigger(name)) return;
    this.metrics.triggerPaused(name, true);
    this.logger.info(
      { trigger: name, in_flight_events: this.sink.inFlightOf(name).events },
      'trigger paused by an operator; its events wait queued',
    );
  }

  resumeTrigger(name: string, why = 'by an operator'): void {
    if (!this.sink.resumeTrigger(name)) return;
    this.metrics.triggerPaused(name, false);
    this.logger.info(
      { trigger: name, in_flight_events: this.sink.inFlightOf(name).events },
      `trigger resumed ${why}; its queued events are delivered in order`,
    );
  }

  /** The dead-letter store changed elsewhere (an admin action): its count is refreshed soon. */
  deadLettersChanged(): void {
    this.monitoring.deadLetters.added();
  }

  /** The key columns of a manual trigger's table, for the console's hint; null when not known (yet). */
  async keyColumns(trigger: string): Promise<string[] | null> {
    return (await this.backfills?.keyColumns(trigger).catch(() => null)) ?? null;
  }

  status(): Status {
    return { ...this.monitoring.status.report(), backfills: this.backfills?.reports() ?? [] };
  }

  /** Prepares slot and publication, retrying while Postgres is unreachable, then starts streaming. */
  async start(): Promise<void> {
    await startChecks(this.config, this.logger);
    const state = await this.prepare();
    if (!state) return;
    const triggers = compiledTriggers(this.config, null);
    this.triggers = triggers;
    this.acceptedIndex = triggers;
    const router = new EventRouter(
      triggers,
      state.systemId,
      this.tracker,
      this.metrics,
      (event) => this.sink.submit(event),
      () => this.applyBackpressure(),
      this.consoleHooks.onFiltered,
    );
    this.router = router;
    this.confirm(state.confirmedLsn);
    this.acknowledger.adaptTo(state.walSenderTimeoutMs);
    this.monitoring.start(() => this.source.connected);
    this.backfills = openBackfills(
      this.config,
      triggers,
      router,
      this.source.types,
      this.metrics,
      this.logger,
    );
    await this.source.start(state);
    this.backfills.resume().catch((err: unknown) => {
      this.logger.error({ err }, 'cannot continue the interrupted backfills; start them again');
    });
  }

  /**
   * Takes a new config's triggers (and in-flight limits) without reconnecting: prepares the tables
   * new triggers need (replica identity, publication), then writes a `walhook.reload` message. The
   * router switches to the new triggers when the stream reaches it, between two transactions, so
   * every transaction committed after the message meets them and every one before it the old ones.
   * Events in flight finish under the definition they were made with. Throws, changing nothing, when
   * the tables cannot be prepared. `next` must differ from the running config only in live keys.
   */
  async reload(next: Readonly<Config>): Promise<PipelineReload> {
    const changes = triggerChanges(this.accepted.triggers, next.triggers);
    const previous = this.acceptedIndex;
    if (previous === null || !anyChange(changes)) {
      // Not streaming yet (or a standby): start() and prepare() read the config as it is then. The
      // same triggers: the limits apply now, or with the reload still waiting for its marker.
      this.accepted = next;
      const waiting = [...this.pendingReloads.values()].at(-1);
      if (previous !== null && waiting !== undefined) waiting.config = next;
      else this.config = next;
      return { changes, applied: Promise.resolve() };
    }
    const index = compiledTriggers(next, previous);
    const marker = `${this.config.pipeline}:${randomUUID()}`;
    const { triggers } = next;
    let applied: Promise<void> = Promise.resolve();
    try {
      await prepareReload(
        {
          ...next.source,
          tables: triggers.map((trigger) => trigger.table),
          triggerNames: triggers.map((trigger) => trigger.name),
          identityNeeds: (described) => identityNeeds(triggers, described),
          marker,
        },
        this.logger,
        // Waiting before the marker is written: the stream may reach it before the write returns.
        (tables) => {
          applied = new Promise<void>((resolve) => {
            this.pendingReloads.set(marker, { config: next, index, tables, changes, applied: resolve });
          });
        },
      );
    } catch (err) {
      this.pendingReloads.delete(marker);
      throw err;
    }
    this.accepted = next;
    this.acceptedIndex = index;
    this.logger.info(
      { added: changes.added, removed: changes.removed, changed: changes.changed },
      'reload accepted; the new triggers take effect where the stream reaches its marker',
    );
    return { changes, applied };
  }

  /** The stream reached a reload's marker: its triggers (and any older pending reload's) take effect. */
  private reloadReached(marker: string): void {
    if (!this.pendingReloads.has(marker)) return;
    for (const [key, reload] of this.pendingReloads) {
      this.pendingReloads.delete(key);
      this.applyReload(reload);
      if (key === marker) break;
    }
  }

  private applyReload(reload: PendingReload): void {
    const { config, index, tables, changes } = reload;
    this.triggers?.adopt(index);
    for (const name of [...changes.changed, ...changes.removed]) this.sink.retire(name);
    // Nothing could resume a removed trigger any more: its waiting events go now.
    for (const name of changes.removed) this.resumeTrigger(name, 'as a reload removed it');
    for (const name of changes.added) this.metrics.triggerPaused(name, this.sink.isPaused(name));
    this.config = config;
    this.source.tablesChanged(
      tables,
      config.triggers.map((trigger) => trigger.name),
    );
    this.monitoring.status.triggersChanged(statusTriggers(config, this.metrics));
    this.logger.info(
      { added: changes.added, removed: changes.removed, changed: changes.changed },
      'reload in effect: changes committed from here on meet the new triggers',
    );
    reload.applied();
  }

  private async prepare(): Promise<SourceState | null> {
    let delay = SETUP_RETRY_MIN_MS;
    while (!this.stopping) {
      try {
        if (!(await this.takeLock())) {
          await this.sleep(LOCK_POLL_MS);
          continue;
        }
        const { config } = this;
        const { triggers } = config;
        const state = await prepareSource(
          {
            ...this.config.source,
            tables: triggers.map((trigger) => trigger.table),
            triggerNames: triggers.map((trigger) => trigger.name),
            identityNeeds: (tables) => identityNeeds(triggers, tables),
          },
          this.logger,
        );
        await this.deadLetters.init();
        await this.invocationLog?.init();
        this.refusedLogin = null;
        // A reload meanwhile may need other tables: prepare them too before streaming.
        if (this.config !== config) continue;
        return state;
      } catch (err) {
        if (isWalhookError(err)) throw err;
        const { connection } = this.config.source;
        const tls = sourceTlsError(err, connection);
        if (tls) throw tls;
        const login = sourceLoginError(err, connection);
        // Refused before the credentials ever worked, the connection string is wrong: stop and say so.
        // Once they worked, the server changed (a new password, a dropped role) and may change back.
        if (login && !this.lock.loggedIn) throw login;
        if (login) this.loginRefused(err);
        else this.metrics.error('setup');
        this.logger.error(
          { code: login?.code, error: login?.message ?? errorLine(err), retry_in_ms: delay },
          'cannot prepare the source database; retrying',
        );
        await this.sleep(delay);
        delay = Math.min(delay * 2, SETUP_RETRY_MAX_MS);
      }
    }
    return null;
  }

  /** Postgres refused the login after it had been accepted: counted, and named by /readyz until it accepts again. */
  private loginRefused(err: unknown): void {
    this.metrics.error('login');
    const login = sourceLoginError(err, this.config.source.connection);
    this.refusedLogin = `cannot log in to the source database: ${login?.message ?? errorLine(err)}`;
  }

  /** True once this process holds the slot lock; false while another one does (standby). */
  private async takeLock(): Promise<boolean> {
    if (this.holdsLock) return true;
    const held = await this.lock.tryAcquire();
    if (held === null) {
      if (!this.standby) {
        this.standby = true;
        this.metrics.role('standby');
        this.logger.info('another walhook process reads this slot; standing by to take over');
      }
      return false;
    }
    this.holdsLock = true;
    this.standby = false;
    this.metrics.role('active');
    this.logger.info('holding the slot lock; this process reads the slot');
    void held.lost.then(() => {
      if (!this.stopping) this.onLockLost();
    });
    return true;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /**
   * Stops reading, lets deliveries in flight finish within the grace period, confirms what is
   * settled and closes. Returns false when events were still unsettled (they replay on restart).
   */
  async stop(graceSec: number): Promise<boolean> {
    this.stopping = true;
    this.wake?.();
    const deadline = Date.now() + graceSec * 1000;
    // Each step is logged at debug level, so a stop that takes long shows where it waits.
    const step = <T>(what: string, work: () => Promise<T>): Promise<T> => {
      this.stoppingStep = what;
      this.logger.debug({ step: what }, 'stopping');
      return work();
    };
    // Transactions after the one being read are dropped unconfirmed; Postgres sends them again on the
    // next start. The one being read is finished, so that none is delivered in part and then again.
    const finished = this.source.finishTransaction();
    if (this.source.connected) {
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
      await step('transaction', () => Promise.race([finished, graceOver]));
      clearTimeout(timer);
    }
    this.source.pause('backpressure');
    await step('backfills', async () => this.backfills?.close());
    const drained = await step('deliveries', () => this.sink.drain(Math.max(0, deadline - Date.now())));
    const lsn = this.acknowledger.flush(false);
    this.acknowledger.stop();
    await step('replication', () => this.source.close());
    await step('sink', () => this.sink.close());
    await step('monitoring', () => this.monitoring.stop());
    await step('dead letters', () => this.deadLetters.close());
    await step('invocation log', async () => this.invocationLog?.close());
    this.stoppingStep = null;
    this.logger.info(
      { confirmed_lsn: lsn === null ? null : formatLsn(lsn), unsettled_events: this.tracker.inFlightEvents },
      drained ? 'pipeline stopped' : 'pipeline stopped with events in flight; they will be replayed',
    );
    return drained;
  }

  /**
   * Stops reading at either in-flight limit, or while a sink's broker blocks publishers, and reads
   * again below 90% of both limits once no broker blocks, so a flapping receiver does not toggle the
   * socket per event.
   */
  private applyBackpressure(): void {
    const { source } = this;
    const paused = source.isPaused('backpressure');
    const blockedBy = this.sink.blockedBy;
    if (!paused && (this.overLimit(1) || blockedBy !== null)) {
      source.pause('backpressure');
      this.metrics.replicationPaused.set(1);
      if (blockedBy === null)
        this.logger.info(this.inFlight(), 'in-flight limit reached; pausing replication');
      else
        this.logger.info(
          { ...this.inFlight(), reason: blockedBy },
          "a sink's broker blocks publishing; pausing replication",
        );
    } else if (paused && !this.stopping && blockedBy === null && !this.overLimit(0.9)) {
      source.resume('backpressure');
      this.metrics.replicationPaused.set(0);
      this.logger.info(this.inFlight(), 'below the in-flight limits; resuming replication');
    }
  }

  private inFlight() {
    return { in_flight_events: this.sink.inFlight, in_flight_bytes: this.sink.inFlightBytes };
  }

  private overLimit(fraction: number): boolean {
    return (
      this.sink.inFlight >= this.config.max_in_flight_events * fraction ||
      this.sink.inFlightBytes >= this.config.max_in_flight_bytes * fraction
    );
  }

  private confirm(lsn: Lsn): void {
    this.confirmed = lsn;
    this.metrics.confirmedLsn.set(Number(lsn));
  }

  /** The newest WAL position known: keepalives, or the slot check while reading is paused. */
  private serverWalEnd(): Lsn {
    const checked = this.monitoring.slot.state?.walLsn ?? 0n;
    const reported = this.acknowledger.serverWalEnd;
    return checked > reported ? checked : reported;
  }

  private lagBytes(): Lsn {
    const end = this.serverWalEnd();
    return end > this.confirmed ? end - this.confirmed : 0n;
  }

  private lagSeconds(): number {
    const commitTime = this.tracker.oldestUnsettledCommitTime;
    return commitTime === null ? 0 : secondsSinceCommit(commitTime);
  }

  private snapshot(): Snapshot {
    return {
      connected: this.source.connected,
      ready: this.readiness().ready,
      pausedBy: PAUSE_REASONS_SHOWN.filter((reason) => this.source.isPaused(reason)),
      confirmedLsn: this.confirmed,
      serverWalEnd: this.serverWalEnd(),
      lagSeconds: this.lagSeconds(),
      inFlightEvents: this.sink.inFlight,
      inFlightBytes: this.sink.inFlightBytes,
      triggerInFlight: (trigger) => this.sink.inFlightOf(trigger).events,
      triggerPaused: (trigger) => this.sink.isPaused(trigger),
      slot: this.monitoring.slot.state,
      deadLetters: this.monitoring.deadLetters.value,
    };
  }

  /** Stores a finally failed event; the sink settles it once this resolved. */
  private async deadLetter(event: DeliveryEvent, failure: FinalFailure): Promise<void> {
    try {
      await this.deadLetters.add(deadLetterOf(event, failure));
    } catch (err) {
      this.metrics.error('deadLetterStore');
      throw err;
    }
    this.monitoring.deadLetters.added();
  }
}

/** Which error stopped the stream, for `walhook_errors_total`. */
function fatalKind(err: unknown): ErrorKind {
  if (isWalhookError(err, 'WALHOOK_ERR_SLOT_LOST')) return 'slotLost';
  if (isWalhookError(err, 'WALHOOK_ERR_CHECKPOINT_REGRESSION')) return 'checkpoint';
  if (isWalhookError(err)) return 'decode';
  // Lookups fail with a database or connection error, which carries a code; a decoding bug does not.
  return typeof (err as { code?: unknown })?.code === 'string' ? 'lookup' : 'decode';
}

/**
 * A config's triggers with their targets. A trigger whose settings are those of `previous`'s trigger of
 * that name keeps its target, so its events stay in the engine's line they were in (and in order).
 */
function compiledTriggers(config: Readonly<Config>, previous: TriggerIndex | null): TriggerIndex {
  const unchanged = new Set(
    previous === null ? [] : triggerChanges(settingsOf.get(previous) ?? [], config.triggers).unchanged,
  );
  const definitions: TriggerDefinition[] = config.triggers.map((trigger) => {
    const kept = unchanged.has(trigger.name) ? previous?.named(trigger.name)?.target : undefined;
    return { ...trigger, target: kept ?? sinkTarget(trigger) };
  });
  const index = new TriggerIndex(definitions);
  settingsOf.set(index, config.triggers);
  return index;
}

/** The trigger settings each compiled index was made from, for the next comparison. */
const settingsOf = new WeakMap<TriggerIndex, Config['triggers']>();

/** The triggers `/status` lists, with their metrics. */
function statusTriggers(config: Readonly<Config>, metrics: PipelineMetrics) {
  return config.triggers.map((t) => ({
    metrics: metrics.trigger(t.name),
    table: `${t.table.schema}.${t.table.name}`,
  }));
}
