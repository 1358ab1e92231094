/** The width of a throughput bucket and how many make the window the overview shows (10 minutes). */
export const BUCKET_MS = 5_000;
const WINDOW_BUCKETS = 120;

export interface ThroughputPoint {
  /** The start of the bucket, ISO. */
  at: string;
  delivered: number;
  failed: number;
}

/**
 * One trigger's settled events per 5 s bucket over the last 10 minutes, from its cumulative counters
 * (delivered, dead-lettered) read now and then: the hot path counts nothing for it. What settled
 * between two readings lands in the bucket of the later one.
 */
export class Throughput {
  /** Per slot (bucket number modulo the window): the bucket it holds, and its counts. */
  readonly #bucketOf = new Float64Array(WINDOW_BUCKETS).fill(-1);
  readonly #delivered = new Float64Array(WINDOW_BUCKETS);
  readonly #failed = new Float64Array(WINDOW_BUCKETS);
  readonly #firstBucket: number;
  #lastDelivered: number;
  #lastFailed: number;

  /** `delivered`, `failed`: the counters' values at `nowMs`, counted before the window starts. */
  constructor(nowMs: number, delivered: number, failed: number) {
    this.#firstBucket = Math.floor(nowMs / BUCKET_MS);
    this.#lastDelivered = delivered;
    this.#lastFailed = failed;
  }

  /** Reads the counters' values at `nowMs` (never earlier than the previous reading). */
  observe(nowMs: number, delivered: number, failed: number): void {
    const newDelivered = delivered - this.#lastDelivered;
    const newFailed = failed - this.#lastFailed;
    this.#lastDelivered = delivered;
    this.#lastFailed = failed;
    if (newDelivered === 0 && newFailed === 0) return;
    const slot = this.#slot(Math.floor(nowMs / BUCKET_MS));
    this.#delivered[slot] = (this.#delivered[slot] as number) + newDelivered;
    this.#failed[slot] = (this.#failed[slot] as number) + newFailed;
  }

  /** Oldest first: every bucket of the window since the series began, empty ones as zeros. */
  points(nowMs: number): ThroughputPoint[] {
    const current = Math.floor(nowMs / BUCKET_MS);
    const points: ThroughputPoint[] = [];
    for (
      let bucket = Math.max(current - WINDOW_BUCKETS + 1, this.#firstBucket);
      bucket <= current;
      bucket++
    ) {
      const slot = bucket % WINDOW_BUCKETS;
      const held = this.#bucketOf[slot] === bucket;
      points.push({
        at: new Date(bucket * BUCKET_MS).toISOString(),
        delivered: held ? (this.#delivered[slot] as number) : 0,
        failed: held ? (this.#failed[slot] as number) : 0,
      });
    }
    return points;
  }

  #slot(bucket: number): number {
    const slot = bucket % WINDOW_BUCKETS;
    if (this.#bucketOf[slot] !== bucket) {
      this.#bucketOf[slot] = bucket;
      this.#delivered[slot] = 0;
      this.#failed[slot] = 0;
    }
    return slot;
  }
}

/** Failed among settled events over `points`, 0 when none settled. */
export function windowTotals(points: readonly ThroughputPoint[]) {
  let delivered = 0;
  let failed = 0;
  for (const point of points) {
    delivered += point.delivered;
    failed += point.failed;
  }
  const settled = delivered + failed;
  return { delivered, failed, failureRatio: settled === 0 ? 0 : failed / settled };
}
