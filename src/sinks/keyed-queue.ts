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

/** A key's backlog. It exists only while it has an item queued or started, so idle keys cost nothing. */
interface Lane<T> {
  key: string;
  items: Fifo<T>;
}

/**
 * A started item's hold on its key and on a slot. The key stays held until `done`; the slot can be given
 * back while the item waits for something other than a request, such as a retry interval.
 */
export interface Run {
  /** Gives the slot back; the key stays blocked. */
  pause(): void;
  /** Asks for a slot again; `onSlot` runs once it is held. Paused items go ahead of items not yet started. */
  resume(onSlot: () => void): void;
  /** Frees the key and the slot if held. Only the first call counts. */
  done(): void;
}

/** Starts one item; `run.done()` must be called once when it finishes, synchronously or later. */
export type StartItem<T> = (item: T, run: Run) => void;

/**
 * Runs items with the same key one at a time in submission order, different keys in parallel, and at most
 * `concurrency` items at once. Keys waiting for a free slot are served round-robin: a key whose item
 * finishes goes behind the keys already waiting, so a busy key cannot starve the others.
 */
export class KeyedQueue<T> {
  readonly #start: StartItem<T>;
  readonly #concurrency: number;
  readonly #lanes = new Map<string, Lane<T>>();
  /** Lanes with a queued item and nothing started: exactly the lanes that may start next. */
  #ready = new Fifo<Lane<T>>();
  /** Paused items asking for a slot back; a grant does nothing if its item finished meanwhile. */
  #resuming = new Fifo<() => void>();
  #running = 0;
  #pending = 0;
  /** Bumped by `clear()` so calls on runs started before it change nothing. */
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

  /** Items holding a slot. */
  get running(): number {
    return this.#running;
  }

  /** Items waiting for their key or for a first slot. */
  get pending(): number {
    return this.#pending;
  }

  /** Keys with an item queued or started. */
  get keyCount(): number {
    return this.#lanes.size;
  }

  push(key: string, item: T): void {
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = { key, items: new Fifo() };
      this.#lanes.set(key, lane);
      this.#ready.push(lane);
    }
    lane.items.push(item);
    this.#pending++;
    this.#pump();
  }

  /** Forgets every queued item without starting it; calls on runs already started become no-ops. */
  clear(): void {
    this.#generation++;
    this.#lanes.clear();
    this.#ready = new Fifo();
    this.#resuming = new Fifo();
    this.#running = 0;
    this.#pending = 0;
  }

  #pump(): void {
    // A run method called synchronously from `start` lands here again; the outer loop picks up its work.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#running < this.#concurrency) {
        const grant = this.#resuming.shift();
        if (grant !== undefined) {
          grant();
          continue;
        }
        const lane = this.#ready.shift();
        if (lane === undefined) break;
        const item = lane.items.shift() as T;
        this.#pending--;
        this.#running++;
        this.#start(item, this.#runFor(lane));
      }
    } finally {
      this.#pumping = false;
    }
  }

  #runFor(lane: Lane<T>): Run {
    const generation = this.#generation;
    let holdsSlot = true;
    let askedForSlot = false;
    let finished = false;
    const live = (): boolean => !finished && generation === this.#generation;
    return {
      pause: () => {
        if (!live() || !holdsSlot) return;
        holdsSlot = false;
        this.#running--;
        this.#pump();
      },
      resume: (onSlot) => {
        if (!live() || holdsSlot || askedForSlot) return;
        askedForSlot = true;
        this.#resuming.push(() => {
          askedForSlot = false;
          if (!live()) return;
          holdsSlot = true;
          this.#running++;
          onSlot();
        });
        this.#pump();
      },
      done: () => {
        if (!live()) return;
        finished = true;
        if (holdsSlot) this.#running--;
        if (lane.items.length > 0) this.#ready.push(lane);
        else this.#lanes.delete(lane.key);
        this.#pump();
      },
    };
  }
}
