interface DrainWaiter {
  /** Waits for events with a submission number below this. */
  upTo: number;
  remaining: number;
  finish(drained: boolean): void;
}

/**
 * A sink's count of submitted and not yet settled events and their bytes, numbered in submission
 * order so that `drain` waits for exactly the events submitted before it.
 */
export class InFlight {
  #events = 0;
  #bytes = 0;
  #nextSeq = 0;
  readonly #drains = new Set<DrainWaiter>();

  get events(): number {
    return this.#events;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Counts a submitted event; returns its submission number, for `settled`. */
  submitted(bytes: number): number {
    this.#events++;
    this.#bytes += bytes;
    return this.#nextSeq++;
  }

  settled(seq: number, bytes: number): void {
    this.#events--;
    this.#bytes -= bytes;
    if (this.#drains.size === 0) return;
    for (const waiter of this.#drains) {
      if (seq < waiter.upTo && --waiter.remaining === 0) waiter.finish(true);
    }
  }

  /** Resolves true once every event submitted so far is settled, false if `timeoutMs` passes first. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#events === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: DrainWaiter = {
        upTo: this.#nextSeq,
        remaining: this.#events,
        finish: (drained) => {
          clearTimeout(timer);
          this.#drains.delete(waiter);
          resolve(drained);
        },
      };
      const timer = setTimeout(() => waiter.finish(false), timeoutMs);
      this.#drains.add(waiter);
    });
  }

  /** Ends every drain still waiting with false: the sink is closing with events unsettled. */
  abandon(): void {
    for (const waiter of this.#drains) waiter.finish(false);
  }
}
