import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import type { Database } from '../test/helpers/database.js';

/** pgoutput's Insert message tag. */
const INSERT = 0x49;

/** A Node consumer of a slot that counts the inserts it reads. */
export interface SlotConsumer {
  inserts(): number;
  /** `performance.now()` when the first and the latest Insert arrived. */
  firstAt(): number;
  lastAt(): number;
  /**
   * Resolves once `count` inserts have arrived; rejects when the stream fails or after `timeoutMs`. No
   * timer polls meanwhile, so the process does nothing but consume while a drain's CPU is measured.
   */
  drained(count: number, timeoutMs: number): Promise<void>;
  /** Throws what ended the replication stream, if anything did. */
  assertAlive(): true;
  stop(): Promise<void>;
}

/**
 * A pg-logical-replication client on `slot` that only counts Insert messages, undecoded: the
 * ceiling for a Node consumer of the slot, and what reading the WAL costs the source without
 * walhook's own work.
 */
export function startCountingConsumer(db: Database, slot: string, publication: string): SlotConsumer {
  // The plugin's parser hands the raw message on: counting needs only its first byte.
  const plugin = {
    options: {},
    name: 'pgoutput',
    parse: (payload: Buffer) => payload,
    start: (client: { query(sql: string): Promise<unknown> }, slotName: string, lsn: string) =>
      client.query(
        `START_REPLICATION SLOT ${slotName} LOGICAL ${lsn} (proto_version '1', publication_names '${publication}')`,
      ),
  };
  return startConsumer(db, slot, plugin, (payload: Buffer) => payload[0] === INSERT);
}

/**
 * What a naive Node consumer costs: pg-logical-replication's own pgoutput parsing (each column
 * through its type's parser into a row object) and `JSON.stringify` of each inserted row.
 */
export function startDecodingConsumer(db: Database, slot: string, publication: string): SlotConsumer {
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] });
  return startConsumer(db, slot, plugin, (message: { tag: string; new?: unknown }) => {
    if (message.tag !== 'insert') return false;
    // Rendered as a consumer would to send it on, then dropped: the rendering is what is priced.
    JSON.stringify(message.new);
    return true;
  });
}

function startConsumer<M>(
  db: Database,
  slot: string,
  plugin: unknown,
  isInsert: (message: M) => boolean,
): SlotConsumer {
  // No acknowledgement per message (that would cost a reply each); a status update every 10 s is
  // enough to keep wal_sender_timeout from closing the connection.
  const service = new LogicalReplicationService(
    { connectionString: db.url },
    { acknowledge: { auto: false, timeoutSeconds: 10 } },
  );
  let inserts = 0;
  let firstAt = 0;
  let lastAt = 0;
  let failure: unknown;
  let waiting: { count: number; resolve(): void; reject(error: unknown): void } | null = null;
  service.on('data', (_lsn: string, message: M) => {
    if (!isInsert(message)) return;
    lastAt = performance.now();
    if (inserts++ === 0) firstAt = lastAt;
    if (waiting !== null && inserts >= waiting.count) waiting.resolve();
  });
  service.subscribe(plugin as never, slot).catch((error) => {
    failure = error;
    waiting?.reject(error);
  });
  return {
    inserts: () => inserts,
    firstAt: () => firstAt,
    lastAt: () => lastAt,
    drained(count, timeoutMs) {
      if (failure) return Promise.reject(failure);
      if (inserts >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count} inserts`)),
          timeoutMs,
        );
        const settle = (then: () => void) => () => {
          clearTimeout(timer);
          waiting = null;
          then();
        };
        waiting = { count, resolve: settle(resolve), reject: (error) => settle(() => reject(error))() };
      });
    },
    assertAlive(): true {
      if (failure) throw failure;
      return true;
    },
    stop: async () => {
      await service.destroy();
    },
  };
}
