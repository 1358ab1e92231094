import pg from 'pg';
import type { Logger } from 'pino';
import type { Lsn } from '../core/lsn.js';
import type { PgoutputMessage } from './change.js';
import { decodePgoutput } from './pgoutput-decoder.js';
import { watchPublication } from './publication.js';
import { OUTPUT_SETTINGS, type PauseReason, ReplicationStream } from './replication-stream.js';
import type { SourceState } from './setup.js';
import type { Source, SourceEvents } from './source.js';
import { fetchUnchangedToast } from './toast.js';
import { type Change, TransactionReader } from './transaction-reader.js';
import { TypeCatalog } from './type-catalog.js';

export interface ChangeFeedOptions {
  connection: string;
  slot: string;
  publication: string;
  /** false: the publication is an owner's; a table that left it is reported, not added back. */
  manage_publication: boolean;
  toast: 'fetch' | 'omit';
  publication_check_sec: number;
  logger: Logger;
  /** Where transactions, complete changes (in commit order) and the stream's news go. */
  events: SourceEvents;
}

/**
 * The source stage: the replication stream decoded into complete changes, strictly in order. Some
 * changes need the database before they can go on — a relation using types not yet in the catalog, an
 * update whose unchanged TOASTed values are to be fetched — so the feed can hold: it stops reading,
 * queues what already arrived, does the lookup, then carries on with the queue.
 */
export class ChangeFeed implements Source {
  private readonly stream: ReplicationStream;
  private readonly events: SourceEvents;
  private readonly reader: TransactionReader;
  /** Shared with the table reader, so rows read from tables render as streamed ones do. */
  readonly types = new TypeCatalog();
  /** Raw text values in the replication session's formats, for catalog reads and TOAST fetches. */
  private readonly queries: pg.Pool;
  private source: SourceState | null = null;
  /** While holding: what arrived meanwhile, and where the connection broke. */
  private held: (Buffer | 'reconnected')[] | null = null;
  private failed = false;
  private stopWatching: () => void = () => {};

  constructor(private readonly options: ChangeFeedOptions) {
    const { events } = options;
    this.events = events;
    this.queries = new pg.Pool({
      connectionString: options.connection,
      application_name: 'walhook-lookups',
      max: 2,
      options: OUTPUT_SETTINGS,
      types: { getTypeParser: () => (value: string) => value },
    });
    this.queries.on('error', (err) => options.logger.warn({ err }, 'lookup connection error'));
    this.reader = new TransactionReader(
      {
        begin: (finalLsn) => events.begin(finalLsn),
        change: (change) => this.complete(change),
        message: (message) => events.message(message),
        commit: (txn, endLsn) => events.commit(txn, endLsn),
      },
      options.logger,
      this.types,
      (schema, name) => this.source?.tables.find((t) => t.schema === schema && t.name === name)?.primaryKey,
    );
    this.stream = new ReplicationStream({
      connection: options.connection,
      slot: options.slot,
      publication: options.publication,
      logger: options.logger,
      onData: (payload) => this.receive(payload),
      onKeepalive: (walEnd, replyRequested) => events.keepalive(walEnd, replyRequested),
      onConnected: () => events.connected(),
      onDisconnected: () => {
        // While holding, the reset must come after the held messages from before the break.
        if (this.held) this.held.push('reconnected');
        else this.reader.reset();
        events.disconnected();
      },
      onRetry: (err) => events.retrying(err),
      onSlotLost: (err) => this.fail(err),
    });
  }

  async start(source: SourceState): Promise<void> {
    this.source = source;
    await this.types.load((sql, params) => this.queries.query(sql, params));
    this.watch(source);
    this.stream.start();
  }

  tablesChanged(tables: SourceState['tables'], triggerNames: readonly string[]): void {
    if (this.source === null || this.failed) return;
    this.source = { ...this.source, tables, triggerNames };
    this.stopWatching();
    this.watch(this.source);
  }

  /** Checks every period that the publication still lists the triggers' tables. */
  private watch(source: SourceState): void {
    this.stopWatching = watchPublication(
      (sql, params) => this.queries.query(sql, params),
      {
        publication: this.options.publication,
        manage: this.options.manage_publication,
        tables: source.tables,
        triggers: source.triggerNames,
        everyMs: this.options.publication_check_sec * 1000,
      },
      this.options.logger,
      (unpublished) => this.events.publicationChecked(unpublished),
    );
  }

  get connected(): boolean {
    return this.stream.isConnected;
  }

  acknowledge(lsn: Lsn): boolean {
    return this.stream.acknowledge(lsn);
  }

  pause(reason: PauseReason): void {
    this.stream.pause(reason);
  }

  resume(reason: PauseReason): void {
    this.stream.resume(reason);
  }

  isPaused(reason: PauseReason): boolean {
    return this.stream.isPaused(reason);
  }

  finishTransaction(): Promise<void> {
    return this.reader.finishTransaction();
  }

  async close(): Promise<void> {
    this.failed = true;
    this.stopWatching();
    await this.stream.stop();
    await this.queries.end();
  }

  private receive(payload: Buffer | 'reconnected'): void {
    if (this.failed) return;
    if (this.held) {
      this.held.push(payload);
      return;
    }
    if (payload === 'reconnected') {
      this.reader.reset();
      return;
    }
    try {
      const message = decodePgoutput(payload);
      const missing =
        message.tag === 'relation' ? this.types.missing(message.relation.columns.map((c) => c.typeOid)) : [];
      if (missing.length > 0) {
        this.hold(
          this.types.load((sql, params) => this.queries.query(sql, params), missing),
          message,
        );
        return;
      }
      this.reader.handle(message);
    } catch (err) {
      this.fail(err);
    }
  }

  /** A change is complete once the values pgoutput left out are filled in (toast: fetch). */
  private complete(change: Change): void {
    const needsToast =
      this.options.toast === 'fetch' &&
      change.op === 'UPDATE' &&
      !change.oldTuple &&
      change.relation.keyIndexes.length > 0 &&
      change.newTuple?.includes(undefined);
    if (!needsToast) {
      this.events.change(change);
      return;
    }
    this.hold(
      fetchUnchangedToast((sql, params) => this.queries.query(sql, params), change).then(() =>
        this.events.change(change),
      ),
    );
  }

  /** Holds the stream until `work` is done, then handles `message` (if any) and what arrived meanwhile. */
  private hold(work: Promise<void>, message?: PgoutputMessage): void {
    const held: (Buffer | 'reconnected')[] = [];
    this.held = held;
    this.stream.pause('lookup');
    work.then(
      () => {
        if (this.failed) return;
        this.held = null;
        try {
          if (message) this.reader.handle(message);
        } catch (err) {
          this.fail(err);
          return;
        }
        for (const payload of held) this.receive(payload);
        if (!this.held) this.stream.resume('lookup');
      },
      (err: unknown) => this.fail(err),
    );
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.events.fatal(err);
  }
}
