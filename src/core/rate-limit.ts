/** Keys tracked at most; past this, keys quiet for a whole interval are forgotten. */
const MAX_KEYS = 1024;

interface Window {
  openedAt: number;
  suppressed: number;
}

/**
 * Lets one occurrence of each key through per interval and counts the others, so a fault that repeats
 * (a receiver down, a database unreachable) says so once a minute instead of once per event, and the
 * next line it does write tells how many it held back.
 */
export class RepeatLimiter {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  constructor(intervalMs: number, now: () => number = Date.now) {
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /**
   * Null when this occurrence of `key` falls in the interval of an earlier one; otherwise it opens a new
   * interval, and the result is how many occurrences were held back since the last one let through.
   */
  take(key: string): number | null {
    const now = this.#now();
    const window = this.#windows.get(key);
    if (window !== undefined && now - window.openedAt < this.#intervalMs) {
      window.suppressed++;
      return null;
    }
    if (window === undefined && this.#windows.size >= MAX_KEYS) this.#forgetQuiet(now);
    this.#windows.set(key, { openedAt: now, suppressed: 0 });
    return window?.suppressed ?? 0;
  }

  #forgetQuiet(now: number): void {
    for (const [key, window] of this.#windows) {
      if (now - window.openedAt >= this.#intervalMs) this.#windows.delete(key);
    }
  }
}
