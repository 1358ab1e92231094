import type { Logger } from 'pino';
import type { PipelineMetrics } from '../core/metrics/metrics.js';
import type { DeadLetterStore } from '../dead-letters/store.js';

/** After a letter is added, the count is refreshed this soon (once for a burst). */
const AFTER_ADD_MS = 500;

/**
 * Counts the letters in the dead-letter store for `walhook_dead_letters` and `/status`: periodically,
 * since `walhook dlq` changes the store from another process, and shortly after walhook adds one.
 */
export class DeadLetterCount {
  private known: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Timeout | null = null;
  private failing = false;

  constructor(
    private readonly store: Pick<DeadLetterStore, 'count'>,
    private readonly everyMs: number,
    private readonly metrics: PipelineMetrics,
    private readonly logger: Logger,
  ) {}

  /** The last count; null before the first one succeeded. */
  get value(): number | null {
    return this.known;
  }

  start(): void {
    if (this.timer) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.everyMs);
    this.timer.unref();
  }

  added(): void {
    if (!this.timer || this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = null;
      void this.refresh();
    }, AFTER_ADD_MS);
    this.soon.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = null;
    this.soon = null;
  }

  private async refresh(): Promise<void> {
    try {
      this.known = await this.store.count();
      this.metrics.deadLetters.set(this.known);
      this.failing = false;
    } catch (err) {
      // The store closes at shutdown, possibly under a count in progress.
      if (!this.timer) return;
      this.metrics.error('deadLetterCount');
      if (!this.failing) this.logger.warn({ err }, 'cannot count the dead letters; retrying');
      this.failing = true;
    }
  }
}
