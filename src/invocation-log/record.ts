import type { DeliveryEvent, DeliveryTarget } from '../core/delivery-event.js';
import { formatLsn } from '../core/lsn.js';
import { maskSecrets } from '../core/redact.js';
import type { SentAttempt } from '../sinks/engine-hooks.js';
import { sinkPlugin } from '../sinks/registry.js';
import { safeUrl, shownTargetHeaders, withAttemptHeaders } from '../sinks/webhook/shown-request.js';
import type { WebhookTarget } from '../sinks/webhook/target.js';

/** One attempt as the engine reported it: kept as is until flushed, so the delivery path only appends. */
export interface PendingAttempt {
  readonly events: readonly DeliveryEvent[];
  readonly sent: SentAttempt;
}

/** One row of the log: one event's part in one attempt. */
export interface InvocationRecord {
  eventId: string;
  trigger: string;
  op: string;
  tableSchema: string;
  tableName: string;
  lsn: string;
  /** 1 for the first attempt: `delivery_info.current_retry` + 1. */
  attempt: number;
  /** Events in the request: 1, or the size of the batch the event went in. */
  batchSize: number;
  at: Date;
  durationMs: number;
  status: number | null;
  outcome: string;
  errorType: string | null;
  error: string | null;
  /** The webhook URL, credentials removed; null for a sink without URLs. */
  requestUrl: string | null;
  requestMethod: string | null;
  /** JSON of the request's headers, configured values and credentials masked. */
  requestHeaders: string;
  /** The event's own body: for an event of a batch, the body it alone would have had. */
  requestBody: string;
  /**
   * The event as walhook rendered it, before a request transform or a batch envelope, which a
   * redelivery sends again; '' when that is `requestBody`, so the usual row keeps its body once.
   */
  eventBody: string;
  /** The start of the response, at most `max_response_bytes`, echoed secrets masked. */
  responseBody: string;
}

/** What a target's requests are kept with, worked out once per target. */
interface ShownTarget {
  url: string | null;
  method: string | null;
  headers: Readonly<Record<string, string>>;
  secrets: readonly string[];
}

/** Renders pending attempts as rows, with what they carry that is secret masked. */
export class RecordRenderer {
  readonly #shown = new WeakMap<DeliveryTarget, ShownTarget>();

  constructor(
    private readonly userAgent: string,
    private readonly maxResponseBytes: number,
  ) {}

  records(pending: PendingAttempt): InvocationRecord[] {
    const { events, sent } = pending;
    const first = events[0];
    if (first === undefined) return [];
    const shown = this.#shownTarget(first.target);
    const { result } = sent;
    const { sentAs } = sent;
    const headers = JSON.stringify(withAttemptHeaders(sentAs?.headers ?? shown.headers, sent.headers));
    // Masked before cut, so no secret is kept in part where the cut falls inside it.
    const responseBody = withoutNul(this.#cut(maskSecrets(result.responseSnippet, shown.secrets)));
    const error = result.error === undefined ? null : withoutNul(result.error.message);
    return events.map((event) => ({
      eventId: event.id,
      trigger: event.target.trigger,
      op: event.op,
      tableSchema: event.relation.schema,
      tableName: event.relation.name,
      lsn: formatLsn(event.commitLsn),
      attempt: sent.currentRetry + 1,
      batchSize: events.length,
      at: sent.at,
      durationMs: result.durationMs,
      status: result.status,
      outcome: sent.outcome,
      errorType: result.error?.type ?? null,
      error,
      requestUrl: sentAs?.url ?? shown.url,
      requestMethod: sentAs?.method ?? shown.method,
      requestHeaders: headers,
      // A batch's body holds every event's: kept whole on each row it would grow with the square of the batch.
      requestBody: events.length === 1 ? sent.body : event.body(sent.currentRetry),
      eventBody: events.length === 1 ? this.#eventBody(event, sent) : '',
      responseBody,
    }));
  }

  #shownTarget(target: DeliveryTarget): ShownTarget {
    let shown = this.#shown.get(target);
    if (shown === undefined) {
      const secrets = sinkPlugin(target.type).secrets?.(target) ?? [];
      shown =
        target.type === 'webhook'
          ? {
              url: safeUrl((target as WebhookTarget).url),
              method: 'POST',
              headers: shownTargetHeaders(target as WebhookTarget, this.userAgent),
              secrets,
            }
          : { url: null, method: null, headers: {}, secrets };
      this.#shown.set(target, shown);
    }
    return shown;
  }

  /** A lone event's own body, where the request was not it: transformed, or a batch of one. */
  #eventBody(event: DeliveryEvent, sent: SentAttempt): string {
    if (sent.letterBody !== undefined) return sent.letterBody;
    const batched = (event.target.batch?.maxEvents ?? 1) > 1;
    return batched ? event.body(sent.currentRetry) : '';
  }

  /** The response's first `maxResponseBytes` bytes; a character cut in two becomes U+FFFD. */
  #cut(snippet: string): string {
    if (snippet.length * 3 <= this.maxResponseBytes) return snippet;
    const bytes = Buffer.from(snippet, 'utf8');
    return bytes.length <= this.maxResponseBytes
      ? snippet
      : bytes.subarray(0, this.maxResponseBytes).toString('utf8');
  }
}

/** Postgres text cannot hold U+0000, which a receiver's response may. */
function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}
