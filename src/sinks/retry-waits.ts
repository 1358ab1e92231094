import { MAX_TIMER_MS } from './retry-policy.js';

/** Waits between attempts that a closing sink can end at once instead of sitting out the interval. */
export class RetryWaits {
  readonly #waiting = new Set<() => void>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.min(ms, MAX_TIMER_MS));
      this.#waiting.add(wake);
    });
  }

  /** Ends every wait now. */
  wakeAll(): void {
    for (const wake of this.#waiting) wake();
  }
}
