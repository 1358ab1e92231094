import type { BatchLimits } from '../core/delivery-event.js';

interface OpenBatch<T> {
  items: T[];
  timer: NodeJS.Timeout;
}

/**
 * Gathers items into batches, one open batch per lane: a batch leaves when it holds `maxEvents` items or
 * when its first item has waited `maxWaitMs`. A lane's batches leave in the order their items came, so
 * sending each lane's batches one at a time keeps the order of its items.
 */
export class Batcher<T> {
  readonly #limits: BatchLimits;
  readonly #emit: (lane: string, items: T[]) => void;
  readonly #open = new Map<string, OpenBatch<T>>();

  constructor(limits: BatchLimits, emit: (lane: string, items: T[]) => void) {
    this.#limits = limits;
    this.#emit = emit;
  }

  add(lane: string, item: T): void {
    let batch = this.#open.get(lane);
    if (batch === undefined) {
      // A zero wait still gathers every item added in the same turn of the event loop (one network read).
      batch = { items: [], timer: setTimeout(() => this.#flush(lane), this.#limits.maxWaitMs) };
      this.#open.set(lane, batch);
    }
    batch.items.push(item);
    if (batch.items.length >= this.#limits.maxEvents) this.#flush(lane);
  }

  /** Forgets the open batches without emitting them. */
  clear(): void {
    for (const batch of this.#open.values()) clearTimeout(batch.timer);
    this.#open.clear();
  }

  #flush(lane: string): void {
    const batch = this.#open.get(lane);
    if (batch === undefined) return;
    this.#open.delete(lane);
    clearTimeout(batch.timer);
    this.#emit(lane, batch.items);
  }
}

/** Lane names by number, made once: a lane is looked up for every event. */
const LANE_NAMES: string[] = [];

/**
 * The lane of a row's events among `lanes`: FNV-1a of its ordering key, so every event of a row goes to
 * the same lane and lanes fill evenly.
 */
export function laneOf(orderingKey: string, lanes: number): string {
  while (LANE_NAMES.length < lanes) LANE_NAMES.push(String(LANE_NAMES.length));
  let hash = 0x811c9dc5;
  for (let i = 0; i < orderingKey.length; i++) {
    hash ^= orderingKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return LANE_NAMES[(hash >>> 0) % lanes] as string;
}
