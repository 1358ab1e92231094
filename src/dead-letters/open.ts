import type { Logger } from 'pino';
import { FileDeadLetterStore } from './file-store.js';
import { PostgresDeadLetterStore } from './postgres-store.js';
import type { DeadLetterStore } from './store.js';

/** Where a pipeline keeps its dead letters: its `dead_letter` setting and the source it reads. */
export interface DeadLetterSettings {
  readonly dead_letter: { file: string; table?: undefined } | { table: string; file?: undefined };
  readonly source: { readonly connection: string };
}

/** The store `config.dead_letter` names: a table in the source database, or a JSON lines file. */
export function openDeadLetterStore(config: DeadLetterSettings, logger?: Logger): DeadLetterStore {
  const target = config.dead_letter;
  if (target.file !== undefined) return new FileDeadLetterStore(target.file, { logger });
  return new PostgresDeadLetterStore(config.source.connection, target.table, { logger });
}
