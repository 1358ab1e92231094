import { z } from 'zod';
import { strictObject, uniqueList } from '../core/strict-schema.js';
import { type TableName, tableLine } from '../core/table-name.js';
import { sinkPlugin, sinkSettings } from '../sinks/registry.js';
import { DEFAULT_RETRY } from '../sinks/retry-policy.js';
import {
  tlsProblem,
  transformProblem,
  WEBHOOK_OPTION_KEYS,
  webhookOptions,
  webhookSink,
  webhookUrl,
} from '../sinks/webhook/settings.js';
import { whereSchema } from '../triggers/where-schema.js';

const OPERATIONS = ['insert', 'update', 'delete', 'truncate'] as const;

/** Postgres truncates longer names (NAMEDATALEN - 1), so a longer one could never match a relation. */
const MAX_IDENTIFIER_BYTES = 63;

/*
 * Mirrors the Postgres lexer: an unquoted identifier is letters (any non-ASCII character counts),
 * digits, `_` and `$`, not starting with a digit or `$`; a quoted one is anything, with `""` for `"`.
 */
const IDENTIFIER = /"((?:[^"]|"")+)"|([A-Za-z_\u{80}-\u{10FFFF}][A-Za-z0-9_$\u{80}-\u{10FFFF}]*)/uy;

function parseTableName(text: string): TableName | string {
  const parts: string[] = [];
  let pos = 0;
  for (;;) {
    IDENTIFIER.lastIndex = pos;
    const match = IDENTIFIER.exec(text);
    if (!match) break;
    // Unquoted identifiers fold to lower case as in SQL; Postgres folds only ASCII letters.
    const part =
      match[1]?.replaceAll('""', '"') ?? (match[2] ?? '').replace(/[A-Z]+/g, (s) => s.toLowerCase());
    if (Buffer.byteLength(part) > MAX_IDENTIFIER_BYTES) {
      return `identifier longer than ${MAX_IDENTIFIER_BYTES} bytes`;
    }
    parts.push(part);
    pos = IDENTIFIER.lastIndex;
    if (pos === text.length || text[pos] !== '.') break;
    pos += 1;
  }
  const [first, second] = parts;
  if (pos !== text.length || first === undefined || parts.length > 2) return unparsedTable(text);
  return second === undefined ? { schema: 'public', name: first } : { schema: first, name: second };
}

/**
 * The usual cause is `table: "Order Events"`: YAML takes the double quotes as its own and walhook gets
 * `Order Events`. The message gives the line that keeps them, when the text says what was meant.
 */
function unparsedTable(text: string): string {
  const expected =
    'expected schema.table or table (identifiers, "double-quoted" for other characters or upper case)';
  const parts = text.split('.');
  if (text.includes('"') || parts.length > 2 || parts.some((part) => part === '')) return expected;
  const [schema, name] = parts.length === 2 ? parts : ['public', text];
  const line = tableLine({ schema: schema as string, name: name as string });
  return `${expected}; YAML drops the double quotes of a value written "…", so write the line as ${line}`;
}

const tableSchema = z.string().transform((text, ctx) => {
  const parsed = parseTableName(text);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return { ...parsed, text };
});

/** An HTTP status (410) or a class of them ("4xx"). */
const statusPattern = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^[1-5]xx$/, 'expected a status code such as 410 or a class such as "4xx"'),
]);

// Defaults are filled in by the trigger's transform, so that a sink refusing a key can tell it was set.
const retrySchema = strictObject({
  num_retries: z.number().int().min(0).optional(),
  interval_sec: z.number().min(0).optional(),
  timeout_sec: z.number().positive().optional(),
  backoff: z.enum(['exponential', 'fixed']).optional(),
  max_interval_sec: z.number().min(0).optional(),
  // Answers not worth repeating (410 Gone, a 4xx validation error): dead-lettered at once.
  final_statuses: z.array(statusPattern).optional(),
  // Hasura honours a Retry-After on any non-2xx answer; by default only 429 and 503 carry one for us.
  retry_after: z.enum(['throttling', 'any_status']).optional(),
});

type RetryKey = keyof z.output<typeof retrySchema>;

function withDefaults(retry: z.output<typeof retrySchema>) {
  return {
    num_retries: retry.num_retries ?? DEFAULT_RETRY.numRetries,
    interval_sec: retry.interval_sec ?? DEFAULT_RETRY.intervalSec,
    timeout_sec: retry.timeout_sec ?? DEFAULT_RETRY.timeoutSec,
    backoff: retry.backoff ?? DEFAULT_RETRY.backoff,
    max_interval_sec: retry.max_interval_sec ?? DEFAULT_RETRY.maxIntervalSec,
    final_statuses: retry.final_statuses ?? DEFAULT_RETRY.finalStatuses,
    retry_after: retry.retry_after ?? DEFAULT_RETRY.retryAfter,
  };
}

/**
 * A trigger: which changes (table, operations, columns, where) go where (`sink`, or Hasura's shorthand
 * `webhook: URL` with the webhook's keys beside it), and how (`retry`, `ordering`, `concurrency`, which
 * mean the same for every sink). The shorthand comes out as a webhook `sink` like any other.
 */
export const triggerSchema = strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, _ and - only'),
  table: tableSchema,
  operations: uniqueList(z.enum(OPERATIONS), 'operation', 'operations'),
  columns: uniqueList(z.string().min(1), 'column', 'columns').optional(),
  where: whereSchema.optional(),
  // Hasura's per-operation `payload` columns: `old` and `new` carry only these and the key.
  payload_columns: uniqueList(z.string().min(1), 'column', 'payload_columns').optional(),
  // As in Hasura, a trigger is invoked by hand (and backfilled) only when it says so.
  enable_manual: z.boolean().default(false),
  // As in Hasura: an UPDATE that leaves every update column as it was does not fire (needs FULL).
  skip_unchanged_updates: z.boolean().default(false),
  // false (Hasura's default): changes applied by logical replication from another server do not fire.
  trigger_on_replication: z.boolean().default(true),
  // hasura: the body Hasura sends, to the key (no `source`, no TOAST lists, payload_columns as listed).
  payload_format: z.enum(['walhook', 'hasura']).default('walhook'),
  // Exactly one of webhook and sink (see the superRefine below).
  webhook: webhookUrl.optional(),
  sink: sinkSettings.optional(),
  headers: webhookOptions.headers,
  secret: webhookOptions.secret,
  tls: webhookOptions.tls,
  user_agent: webhookOptions.user_agent,
  retry: retrySchema.optional(),
  ordering: z.enum(['row', 'trigger', 'none']).default('row'),
  concurrency: z.number().int().min(1).max(10_000).default(64),
  batch: webhookOptions.batch,
  request_transform: webhookOptions.request_transform,
})
  .superRefine((trigger, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message });
    const { sink } = trigger;
    if (sink === undefined) {
      if (trigger.webhook === undefined) return issue(['webhook'], 'required (or a sink)');
      const problem = tlsProblem(trigger.webhook, trigger.tls);
      if (problem !== null) issue(['tls'], problem);
      const conflict = transformProblem(trigger);
      if (conflict !== null) issue(['request_transform'], conflict);
      return;
    }
    if (trigger.webhook !== undefined) issue(['sink'], 'set either webhook or sink, not both');
    for (const key of WEBHOOK_OPTION_KEYS) {
      if (trigger[key] === undefined) continue;
      issue(
        [key],
        sink.type === 'webhook' ? `set it in the sink (sink.${key})` : 'only for webhook triggers',
      );
    }
    const refused = sinkPlugin(sink.type).refusedRetryKeys ?? {};
    for (const [key, why] of Object.entries(refused)) {
      if (trigger.retry?.[key as RetryKey] !== undefined) {
        issue(['retry', key], `not for a ${sink.type} sink: ${why}`);
      }
    }
  })
  .transform(
    ({
      table: { text, ...table },
      webhook,
      headers,
      secret,
      tls,
      user_agent,
      batch,
      request_transform,
      sink,
      retry,
      ...trigger
    }) => ({
      ...trigger,
      table,
      tableText: text,
      // Absent when not set: each sink has its default (see its plugin's target).
      ...(retry !== undefined && { retry: withDefaults(retry) }),
      sink:
        sink ??
        webhookSink(webhook as string, { headers, secret, tls, user_agent, batch, request_transform }),
    }),
  );
