/**
 * A FIFO bounded by a count and a weight (characters kept), which makes room by dropping its oldest
 * items: what the invocation log holds while its database is slow or away, so deliveries never wait
 * for it. Items come off the front in order and may be put back there after a failed write.
 */
export class DropOldestBuffer<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #weight = 0;

  constructor(
    private readonly maxItems: number,
    private readonly maxWeight: number,
    private readonly weigh: (item: T) => number,
    /** Told of each item dropped to make room. */
    private readonly dropped: (item: T) => void,
  ) {}

  get length(): number {
    return this.#items.length - this.#head;
  }

  get weight(): number {
    return this.#weight;
  }

  push(item: T): void {
    this.#items.push(item);
    this.#weight += this.weigh(item);
    this.#makeRoom();
  }

  /** The oldest items, up to `maxCount`, removed from the buffer. */
  take(maxCount: number): T[] {
    const taken: T[] = [];
    while (taken.length < maxCount && this.#head < this.#items.length) {
      taken.push(this.#shift());
    }
    this.#compact();
    return taken;
  }

  /** Puts items taken back in front, in their order: they are older than anything pushed since. */
  putBack(items: readonly T[]): void {
    this.#compact();
    this.#items = [...items, ...this.#items.slice(this.#head)];
    this.#head = 0;
    for (const item of items) this.#weight += this.weigh(item);
    this.#makeRoom();
  }

  #makeRoom(): void {
    while (this.length > this.maxItems || (this.#weight > this.maxWeight && this.length > 1)) {
      this.dropped(this.#shift());
    }
  }

  #shift(): T {
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined;
    this.#head++;
    this.#weight -= this.weigh(item);
    return item;
  }

  /** Lets go of the emptied front once it is half the array, so shifting stays O(1) on average. */
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
