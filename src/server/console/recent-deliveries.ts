import type { DeliveryEvent } from '../../core/delivery-event.js';
import type { Lsn } from '../../core/lsn.js';
import type { DeliveryRecorder, SentAttempt } from '../../sinks/engine-hooks.js';
import type { ResponseHeaders, SentAs } from '../../sinks/plugin.js';
import type { WebhookTarget } from '../../sinks/webhook/target.js';

/** Characters of a request body kept; a larger body is cut with a note of its size. */
const MAX_BODY_CHARS = 64 * 1024;
/** The attempts kept per event: the latest ones (the count of all of them is kept apart). */
const MAX_ATTEMPTS_KEPT = 10;
/**
 * Characters of bodies and responses kept in all: events with large bodies that are retried often would
 * otherwise hold `recent` × attempts × 64 Ki characters. Past it the oldest events go first.
 */
const MAX_KEPT_CHARS = 32 * 1024 * 1024;

export type InvocationStatus = 'ok' | 'failed' | 'pending';

/** One attempt as kept: shared by the events of a batch, which were sent in one request. */
export interface KeptAttempt {
  /** 1 for the first attempt. */
  attempt: number;
  at: Date;
  status: number | null;
  durationMs: number;
  error: string | null;
  target: WebhookTarget;
  /** The attempt's own headers; the target's are worked out again when shown. */
  headers: Readonly<Record<string, string>>;
  /** Set where a request transform made the request. */
  sentAs: SentAs | undefined;
  body: string;
  responseHeaders: ResponseHeaders | null;
  responseBody: string;
  /** Characters of body and response counted per event of the request. */
  share: number;
}

export interface Invocation {
  readonly eventId: string;
  readonly trigger: string;
  readonly op: string;
  readonly table: string;
  readonly lsn: Lsn;
  status: InvocationStatus;
  /** Every attempt recorded, also those no longer kept. */
  attemptCount: number;
  firstAttemptAt: Date;
  /** When its latest attempt started: the list's order. */
  lastAttemptAt: Date;
  /**
   * The number of its latest attempt among all the ring recorded: of two attempts started in the same
   * millisecond (one after the other on a fast receiver), the one recorded later is the newer.
   */
  lastRecorded: number;
  /** The latest attempts, oldest first. */
  attempts: KeptAttempt[];
  /** Characters kept for it: its share of the bodies and responses of its attempts. */
  size: number;
}

export interface InvocationQuery {
  trigger?: string | undefined;
  status?: InvocationStatus | undefined;
  eventId?: string | undefined;
  limit: number;
}

const STATUS_OF: Record<SentAttempt['outcome'], InvocationStatus> = {
  delivered: 'ok',
  retry: 'pending',
  failed: 'failed',
};

/**
 * The last `capacity` events delivered to webhooks, with their attempts, listed by their latest attempt,
 * newest first. A ring: a new event takes the slot of the one first attempted longest ago. Bodies are
 * kept by reference (the string the request was sent with), cut only past MAX_BODY_CHARS.
 */
export class RecentDeliveries implements DeliveryRecorder {
  readonly #slots: (Invocation | undefined)[];
  readonly #byId = new Map<string, Invocation>();
  /** The slot the next new event takes: the oldest one once the ring is full. */
  #next = 0;
  #keptChars = 0;
  #recorded = 0;

  constructor(
    readonly capacity: number,
    private readonly maxKeptChars = MAX_KEPT_CHARS,
  ) {
    if (capacity < 1) throw new RangeError('RecentDeliveries needs a capacity of 1 or more');
    this.#slots = new Array(capacity);
  }

  get size(): number {
    return this.#byId.size;
  }

  attempt(events: readonly DeliveryEvent[], sent: SentAttempt): void {
    const target = events[0]?.target;
    // The console shows a webhook's requests (URL, headers); other sinks' attempts are not kept.
    if (target?.type !== 'webhook') return;
    const kept = keep(target as WebhookTarget, sent, events.length);
    const recorded = ++this.#recorded;
    const status = STATUS_OF[sent.outcome];
    for (const event of events) {
      const invocation = this.#byId.get(event.id);
      this.#keptChars += kept.share;
      if (invocation === undefined) {
        this.#add(event, sent.at, kept, recorded, status);
        continue;
      }
      invocation.attempts.push(kept);
      invocation.size += kept.share;
      if (invocation.attempts.length > MAX_ATTEMPTS_KEPT) {
        const dropped = invocation.attempts.shift() as KeptAttempt;
        invocation.size -= dropped.share;
        this.#keptChars -= dropped.share;
      }
      invocation.attemptCount++;
      invocation.lastAttemptAt = sent.at;
      invocation.lastRecorded = recorded;
      invocation.status = status;
    }
    this.#trim();
  }

  get(eventId: string): Invocation | undefined {
    return this.#byId.get(eventId);
  }

  /**
   * By latest attempt, newest first: an event retried after others were delivered comes back to the
   * top. The order depends only on what was recorded, so a list read again without new attempts is
   * the same list.
   */
  list(query: InvocationQuery): Invocation[] {
    if (query.eventId !== undefined) {
      const one = this.#byId.get(query.eventId);
      return one !== undefined && matches(one, query) ? [one] : [];
    }
    const found: Invocation[] = [];
    // Read newest first attempt first, which is nearly the order wanted (only events retried since are
    // out of place), so the sort mostly walks runs already in order.
    for (let i = 1; i <= this.capacity; i++) {
      const invocation = this.#slots[(this.#next - i + this.capacity) % this.capacity];
      if (invocation !== undefined && matches(invocation, query)) found.push(invocation);
    }
    // A stable sort: the events of one batch, which share their attempts, stay in the ring's order.
    found.sort(newestFirst);
    if (found.length > query.limit) found.length = query.limit;
    return found;
  }

  /** A first attempt: most events have no other, so it is made whole at once (one array of one). */
  #add(event: DeliveryEvent, at: Date, kept: KeptAttempt, recorded: number, status: InvocationStatus): void {
    this.#evict(this.#next);
    const invocation: Invocation = {
      eventId: event.id,
      trigger: event.target.trigger,
      op: event.op,
      table: event.table,
      lsn: event.commitLsn,
      status,
      attemptCount: 1,
      firstAttemptAt: at,
      lastAttemptAt: at,
      lastRecorded: recorded,
      attempts: [kept],
      size: kept.share,
    };
    this.#slots[this.#next] = invocation;
    this.#byId.set(event.id, invocation);
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** Drops the oldest events while over the character budget, always keeping the newest one. */
  #trim(): void {
    for (let i = 0; this.#keptChars > this.maxKeptChars && i < this.capacity - 1; i++) {
      this.#evict((this.#next + i) % this.capacity);
    }
  }

  #evict(slot: number): void {
    const invocation = this.#slots[slot];
    if (invocation === undefined) return;
    this.#slots[slot] = undefined;
    this.#byId.delete(invocation.eventId);
    this.#keptChars -= invocation.size;
  }
}

function matches(invocation: Invocation, query: InvocationQuery): boolean {
  return (
    (query.trigger === undefined || invocation.trigger === query.trigger) &&
    (query.status === undefined || invocation.status === query.status)
  );
}

function newestFirst(a: Invocation, b: Invocation): number {
  return b.lastAttemptAt.getTime() - a.lastAttemptAt.getTime() || b.lastRecorded - a.lastRecorded;
}

/** `events`: how many events the request carried, which share what is kept of it. */
function keep(target: WebhookTarget, sent: SentAttempt, events: number): KeptAttempt {
  const { result } = sent;
  const body = sent.body.length > MAX_BODY_CHARS ? cut(sent.body) : sent.body;
  return {
    attempt: sent.currentRetry + 1,
    at: sent.at,
    status: result.status,
    durationMs: result.durationMs,
    error: result.error ? `${result.error.type}: ${result.error.message}` : null,
    target,
    headers: sent.headers,
    sentAs: sent.sentAs,
    body,
    responseHeaders: result.responseHeaders ?? null,
    responseBody: result.responseSnippet,
    share: Math.ceil((body.length + result.responseSnippet.length) / events),
  };
}

/**
 * The start of a large body and its size. Copied through a buffer: a slice of a string may keep the
 * whole string alive in V8, and the point is to let the large one go.
 */
function cut(body: string): string {
  const start = Buffer.from(body.slice(0, MAX_BODY_CHARS), 'utf8').toString('utf8');
  return `${start}\n… (truncated, ${Buffer.byteLength(body, 'utf8')} bytes)`;
}
