import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { openDeadLetterStore } from '../../dead-letters/open.js';
import type { DeadLetter } from '../../dead-letters/store.js';
import { StoreScope } from '../../dead-letters/store-scope.js';

/** The per-trigger counts the overview shows are this fresh at worst (every poll would list the store). */
const COUNTS_TTL_MS = 3_000;

interface PipelineLetters {
  pipeline: string;
  scope: StoreScope;
}

/**
 * Reads the dead-letter stores for the console. Each pipeline's store is opened once, on first use,
 * and kept (a pool of at most two idle-closing connections, or a file read per call); with several
 * pipelines each sees only its own triggers' letters, so a shared store is not listed twice.
 */
export class DeadLetterReader {
  readonly #pipelines: PipelineLetters[];
  #ready: Promise<void> | null = null;
  #counts: { at: number; byTrigger: Promise<Map<string, number>> } | null = null;

  constructor(configs: readonly Readonly<Config>[], logger: Logger) {
    const several = configs.length > 1;
    this.#pipelines = configs.map((config) => ({
      pipeline: config.pipeline,
      scope: new StoreScope(
        openDeadLetterStore(config, logger),
        several ? new Set(config.triggers.map((t) => t.name)) : null,
      ),
    }));
  }

  /** Newest dead-lettered first. */
  async list(
    trigger: string | undefined,
    limit: number,
  ): Promise<{ letter: DeadLetter; pipeline: string }[]> {
    const found = await this.#find(trigger === undefined ? {} : { trigger });
    found.sort((a, b) => b.letter.deadLetteredAt.getTime() - a.letter.deadLetteredAt.getTime());
    return found.slice(0, limit);
  }

  async get(id: string): Promise<{ letter: DeadLetter; pipeline: string } | undefined> {
    return (await this.#find({ id }))[0];
  }

  /** Letters per trigger, from a listing at most a few seconds old. */
  countsByTrigger(): Promise<Map<string, number>> {
    const now = Date.now();
    if (this.#counts === null || now - this.#counts.at > COUNTS_TTL_MS) {
      const byTrigger = this.#find({}).then((found) => {
        const counts = new Map<string, number>();
        for (const { letter } of found) counts.set(letter.trigger, (counts.get(letter.trigger) ?? 0) + 1);
        return counts;
      });
      // A failed listing is not kept: the next call tries again.
      byTrigger.catch(() => {
        this.#counts = null;
      });
      this.#counts = { at: now, byTrigger };
    }
    return this.#counts.byTrigger;
  }

  /** The stores changed (an admin action): the next counts are read anew. */
  changed(): void {
    this.#counts = null;
  }

  async close(): Promise<void> {
    for (const { scope } of this.#pipelines) await scope.store.close();
  }

  async #find(filter: { id?: string; trigger?: string }) {
    await this.#init();
    const found: { letter: DeadLetter; pipeline: string }[] = [];
    for (const { pipeline, scope } of this.#pipelines) {
      // Store order is commit order; reversed, the newest commits come first among equal times.
      for (const letter of (await scope.list(filter)).reverse()) found.push({ letter, pipeline });
    }
    return found;
  }

  #init(): Promise<void> {
    this.#ready ??= Promise.all(this.#pipelines.map(({ scope }) => scope.store.init())).then(
      () => {},
      (err: unknown) => {
        this.#ready = null;
        throw err;
      },
    );
    return this.#ready;
  }
}
