import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { type DeadLetterSettings, openDeadLetterStore } from './open.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterStore } from './store.js';

/**
 * One dead-letter store and the letters of it a command works on: pipelines that name the same table
 * (on the same database) or file share a store, which is then opened once. When only some pipelines
 * are selected, a store shared with others is narrowed to the letters of the selected pipelines'
 * triggers (trigger names are unique across pipelines).
 */
export class StoreScope {
  constructor(
    readonly store: DeadLetterStore,
    /** The triggers whose letters count here; null for all of the store's letters. */
    private readonly only: ReadonlySet<string> | null,
  ) {}

  async list(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const letters = await this.store.list(filter);
    const { only } = this;
    return only === null ? letters : letters.filter((l) => only.has(l.trigger));
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    if (this.only === null) return this.store.purge(filter);
    return this.store.remove((await this.list(filter)).map((l) => l.id));
  }
}

/** A pipeline as the dead-letter commands see it: where its letters are and whose they are. */
export interface ScopedPipeline extends DeadLetterSettings {
  readonly triggers: readonly { readonly name: string }[];
}

/**
 * Opens the stores of the `selected` pipelines (of all `configs`), runs `work` on them and closes them,
 * whatever `work` does.
 */
export async function withStoreScopes<T>(
  configs: readonly ScopedPipeline[],
  selected: readonly ScopedPipeline[],
  logger: Logger,
  work: (scopes: StoreScope[]) => Promise<T>,
): Promise<T> {
  const groups = new Map<string, ScopedPipeline>();
  for (const config of selected) if (!groups.has(storeKey(config))) groups.set(storeKey(config), config);
  const scopes: StoreScope[] = [];
  try {
    for (const [key, config] of groups) {
      const shared = configs.some((c) => !selected.includes(c) && storeKey(c) === key);
      const mine = selected.filter((c) => storeKey(c) === key).flatMap((c) => c.triggers.map((t) => t.name));
      const store = openDeadLetterStore(config, logger);
      scopes.push(new StoreScope(store, shared ? new Set(mine) : null));
      await store.init();
    }
    return await work(scopes);
  } finally {
    for (const scope of scopes) await scope.store.close();
  }
}

function storeKey(config: DeadLetterSettings): string {
  const target = config.dead_letter;
  return target.file !== undefined
    ? `file ${resolve(target.file)}`
    : `table ${config.source.connection} ${target.table}`;
}
