import { LogicalReplicationService } from 'pg-logical-replication';
import type { Database } from '../test/helpers/database.js';

/** pgoutput's Insert message tag. */
const INSERT = 0x49;

/**
 * A pg-logical-replication client on `slot` that only counts Insert messages, undecoded: the
 * ceiling for a Node consumer of the slot, and what reading the WAL costs the source without
 * walhook's own work.
 */
export function startCountingConsumer(db: Database, slot: string, publication: string) {
  // No acknowledgement per message (that would cost a reply each); a status update every 10 s is
  // enough to keep wal_sender_timeout from closing the connection.
  const service = new LogicalReplicationService(
    { connectionString: db.url },
    { acknowledge: { auto: false, timeoutSeconds: 10 } },
  );
  let inserts = 0;
  let firstAt = 0;
  let lastAt = 0;
  service.on('data', (_lsn: string, payload: Buffer) => {
    if (payload[0] !== INSERT) return;
    lastAt = performance.now();
    if (inserts++ === 0) firstAt = lastAt;
  });
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
  let failure: unknown;
  service.subscribe(plugin as never, slot).catch((error) => {
    failure = error;
  });
  return {
    inserts: () => inserts,
    /** `performance.now()` when the first and the latest Insert arrived. */
    firstAt: () => firstAt,
    lastAt: () => lastAt,
    /** Throws what ended the replication stream, if anything did. */
    assertAlive(): true {
      if (failure) throw failure;
      return true;
    },
    stop: async () => {
      await service.destroy();
    },
  };
}
