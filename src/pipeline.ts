import type { Logger } from 'pino';
import { Acknowledger } from './checkpoint/acknowledger.js';
import { CheckpointTracker } from './checkpoint/tracker.js';
import type { Config } from './config/schema.js';
import { type DeadLetterStore, openDeadLetterStore } from './dead-letters/store.js';
import { isWalhookError, WalhookError } from './errors.js';
import type { Metrics } from './observability/metrics.js';
import type { DeliveryEvent } from './sink/delivery-event.js';
import { eventId } from './sink/event-id.js';
import { hasuraBody, type RenderedRows } from './sink/payload.js';
import { type AttemptInfo, type FinalFailure, WebhookSink } from './sink/webhook-sink.js';
import { formatLsn } from './source/change.js';
import { decodePgoutput } from './source/pgoutput-decoder.js';
import { ReplicationStream } from './source/replication-stream.js';
import { rowImages, rowKey, rowToJson } from './source/row-images.js';
import { prepareSource, type SourceState } from './source/setup.js';
import { type Change, TransactionReader } from './source/transaction-reader.js';
import { filterReason, TriggerIndex } from './triggers/matcher.js';
import { userAgent } from './version.js';

const SETUP_RETRY_MIN_MS = 500;
const SETUP_RETRY_MAX_MS = 30_000;

/**
 * One slot's flow: source (stream, decoding) → triggers (matching) → sink (delivery) →
 * checkpoint (settled LSN, acknowledgement).
 */
export class Pipeline {
  private readonly logger: Logger;
  private readonly triggers: TriggerIndex;
  private readonly sink: WebhookSink;
  private readonly tracker: CheckpointTracker;
  private readonly acknowledger: Acknowledger;
  private readonly reader: TransactionReader;
  private readonly stream: ReplicationStream;
  private readonly deadLetters: DeadLetterStore;
  private source: SourceState | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly config: Readonly<Config>,
    private readonly metrics: Metrics,
    logger: Logger,
    /** An error the pipeline cannot continue after; nothing unsettled has been confirmed. */
    private readonly onFatal: (err: unknown) => void,
  ) {
    this.logger = logger.child({ slot: config.source.slot });
    this.triggers = new TriggerIndex(config.triggers);
    this.deadLetters = openDeadLetterStore(config, this.logger.child({ stage: 'dead-letters' }));
    this.sink = new WebhookSink({
      logger: this.logger.child({ stage: 'sink' }),
      userAgent: userAgent(),
      deadLetter: (event, failure) => this.deadLetter(event, failure),
      onAttempt: (info) => this.countAttempt(info),
    });
    this.tracker = new CheckpointTracker(0n, () => this.acknowledger.advanced());
    this.acknowledger = new Acknowledger(
      this.tracker,
      (lsn) => this.stream.acknowledge(lsn),
      this.logger.child({ stage: 'checkpoint' }),
      (lsn) => this.metrics.confirmedLsn.set(Number(lsn)),
    );
    this.reader = new TransactionReader(
      this.tracker,
      (change) => this.route(change),
      this.logger,
      (schema, name) => this.source?.tables.find((t) => t.schema === schema && t.name === name)?.primaryKey,
    );
    this.stream = new ReplicationStream({
      connection: config.source.connection,
      slot: config.source.slot,
      publication: config.source.publication,
      logger: this.logger.child({ stage: 'source' }),
      onData: (payload) => this.receive(payload),
      onKeepalive: (walEnd, reply) => this.acknowledger.keepalive(walEnd, reply),
      onConnected: () => this.metrics.replicationConnected.set(1),
      onDisconnected: () => {
        this.metrics.replicationConnected.set(0);
        this.metrics.replicationReconnects.inc();
        this.reader.reset();
      },
      onSlotLost: (err) => {
        this.stopping = true;
        this.onFatal(err);
      },
    });
  }

  ready(): boolean {
    return this.stream.isConnected;
  }

  /** Prepares slot and publication, retrying while Postgres is unreachable, then starts streaming. */
  async start(): Promise<void> {
    const source = this.config.source;
    const tables = this.config.triggers.map((t) => t.table);
    let delay = SETUP_RETRY_MIN_MS;
    while (!this.stopping) {
      try {
        this.source = await prepareSource({ ...source, tables }, this.logger);
        await this.deadLetters.init();
        break;
      } catch (err) {
        if (isWalhookError(err)) throw err;
        this.logger.error({ err, retry_in_ms: delay }, 'cannot prepare the source database; retrying');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        delay = Math.min(delay * 2, SETUP_RETRY_MAX_MS);
      }
    }
    if (this.stopping || !this.source) return;
    this.metrics.confirmedLsn.set(Number(this.source.confirmedLsn));
    this.acknowledger.adaptTo(this.source.walSenderTimeoutMs);
    this.stream.start();
  }

  /**
   * Stops reading, lets deliveries in flight finish within the grace period, confirms what is
   * settled and closes. Returns false when events were still unsettled (they replay on restart).
   */
  async stop(graceSec: number): Promise<boolean> {
    this.stopping = true;
    this.wake?.();
    const drained = await this.sink.drain(graceSec * 1000);
    const lsn = this.acknowledger.flush(false);
    this.acknowledger.stop();
    await this.stream.stop();
    await this.sink.close();
    await this.deadLetters.close();
    this.logger.info(
      {
        confirmed_lsn: lsn === null ? null : formatLsn(lsn),
        unsettled_events: this.tracker.inFlightEvents,
      },
      drained ? 'pipeline stopped' : 'pipeline stopped with events in flight; they will be replayed',
    );
    return drained;
  }

  /** Stores a finally failed event; the sink settles it once this resolved. */
  private async deadLetter(event: DeliveryEvent, failure: FinalFailure): Promise<void> {
    await this.deadLetters.add({
      id: event.id,
      trigger: event.target.trigger,
      table: event.table,
      op: event.op,
      lsn: formatLsn(event.commitLsn),
      body: failure.body,
      attempts: failure.attempts,
      lastStatus: failure.lastStatus,
      lastError: failure.lastError ? `${failure.lastError.type}: ${failure.lastError.message}` : null,
      responseSnippet: failure.responseSnippet || null,
      firstAttemptAt: failure.firstAttemptAt,
      lastAttemptAt: failure.lastAttemptAt,
      deadLetteredAt: new Date(),
    });
    this.metrics.eventsDeadLettered.inc({ trigger: event.target.trigger });
  }

  private countAttempt(info: AttemptInfo): void {
    const statusClass = info.status === null ? 'none' : `${Math.floor(info.status / 100)}xx`;
    this.metrics.deliveryAttempts.inc({
      trigger: info.trigger,
      outcome: info.outcome,
      status_class: statusClass,
    });
  }

  private receive(payload: Buffer): void {
    // Messages after stop are dropped unconfirmed; Postgres sends them again on the next start.
    if (this.stopping) return;
    try {
      this.reader.handle(decodePgoutput(payload));
    } catch (err) {
      this.stopping = true;
      this.onFatal(err);
    }
  }

  private route(change: Change): void {
    const { relation, txn } = change;
    const table = `${relation.schema}.${relation.name}`;
    this.metrics.changesReceived.inc({ table, op: change.op });
    const triggers = this.triggers.forRelation(relation);
    if (triggers.length === 0) return;
    const source = this.source;
    if (!source)
      throw new WalhookError('WALHOOK_ERR_PROTOCOL', 'change received before the source was ready');
    const images = rowImages(change);
    let rows: RenderedRows | null = null;
    let key: string | null = null;
    for (const trigger of triggers) {
      const reason = filterReason(trigger, change, images);
      if (reason) {
        this.metrics.eventsFiltered.inc({ trigger: trigger.name, reason });
        continue;
      }
      rows ??= {
        newJson: images.new ? rowToJson(relation, images.new) : 'null',
        oldJson: images.old ? rowToJson(relation, images.old) : 'null',
        unchangedToast: images.unchangedToast,
      };
      key ??= rowKey(change, images);
      const id = eventId(source.systemId, txn.finalLsn, change.index, trigger.name);
      const settleTransaction = this.tracker.track(txn.tracked);
      const payload = hasuraBody(change, rows, trigger, id);
      this.metrics.eventsMatched.inc({ trigger: trigger.name });
      this.metrics.inFlightEvents.inc();
      this.sink.submit({
        id,
        target: trigger.target,
        orderingKey: key,
        op: change.op,
        table,
        commitLsn: txn.finalLsn,
        ...payload,
        settle: (outcome) => {
          this.metrics.inFlightEvents.dec();
          this.metrics.eventsSettled.inc({ trigger: trigger.name, outcome });
          settleTransaction();
          if (this.stream.isPaused) this.maybeResume();
        },
      });
    }
    if (!this.stream.isPaused && this.overLimit(1)) {
      this.stream.pause();
      this.metrics.replicationPaused.set(1);
      this.logger.info(this.inFlight(), 'in-flight limit reached; pausing replication');
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

  /** Resumes below 90% of both limits, so a flapping receiver does not toggle reading per event. */
  private maybeResume(): void {
    if (this.stopping || this.overLimit(0.9)) return;
    this.stream.resume();
    this.metrics.replicationPaused.set(0);
    this.logger.info(this.inFlight(), 'below the in-flight limits; resuming replication');
  }
}
