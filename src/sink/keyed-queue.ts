/** Array-backed FIFO: `Array#shift` copies the whole array, which turns a long backlog quadratic. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    // Drop the reference so a consumed item can be collected before the array is compacted.
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/** A key's backlog. It exists only while it has an item queued or running, so idle keys cost nothing. */
interface Lane<T> {
  key: string;
  items: Fifo<T>;
  running: boolean;
}

/** Starts one item; `done` must be called once when it finishes, synchronously or later. */
export type StartItem<T> = (item: T, done: () => void) => void;

/**
 * Runs items with the same key one at a time in submission order, different keys in parallel, and at most
 * `concurrency` items at once. Keys waiting for a free slot are served round-robin: a key whose item
 * finishes goes behind the keys already waiting, so a busy key cannot starve the others.
 */
export class KeyedQueue<T> {
  readonly #start: StartItem<T>;
  readonly #concurrency: number;
  readonly #lanes = new Map<string, Lane<T>>();
  /** Lanes with a queued item and nothing running: exactly the lanes that may start next. */
  #ready = new Fifo<Lane<T>>();
  #running = 0;
  #pending = 0;
  /** Bumped by `clear()` so `done` callbacks of items started before it change nothing. */
  #generation = 0;
  #pumping = false;

  constructor(start: StartItem<T>, options: { concurrency?: number } = {}) {
    const concurrency = options.concurrency ?? 64;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    }
    this.#start = start;
    this.#concurrency = concurrency;
  }

  /** Items started and not yet done. */
  get running(): number {
    return this.#running;
  }

  /** Items waiting for their key or for a free slot. */
  get pending(): number {
    return this.#pending;
  }

  /** Keys with an item queued or running. */
  get keyCount(): number {
    return this.#lanes.size;
  }

  push(key: string, item: T): void {
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = { key, items: new Fifo(), running: false };
      this.#lanes.set(key, lane);
      this.#ready.push(lane);
    }
    lane.items.push(item);
    this.#pending++;
    this.#pump();
  }

  /** Forgets every queued item without starting it; `done` of items already running becomes a no-op. */
  clear(): void {
    this.#generation++;
    this.#lanes.clear();
    this.#ready = new Fifo();
    this.#running = 0;
    this.#pending = 0;
  }

  #pump(): void {
    // A `done` called synchronously from `start` lands here again; the outer loop picks up its work.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#running < this.#concurrency) {
        const lane = this.#ready.shift();
        if (lane === undefined) break;
        const item = lane.items.shift() as T;
        this.#pending--;
        this.#running++;
        lane.running = true;
        this.#start(item, this.#doneFor(lane));
      }
    } finally {
      this.#pumping = false;
    }
  }

  #doneFor(lane: Lane<T>): () => void {
    const generation = this.#generation;
    let called = false;
    return () => {
      if (called || generation !== this.#generation) return;
      called = true;
      this.#running--;
      lane.running = false;
      if (lane.items.length > 0) this.#ready.push(lane);
      else this.#lanes.delete(lane.key);
      this.#pump();
    };
  }
}
