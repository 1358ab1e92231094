import { z } from 'zod';
import { strictObject } from '../core/strict-schema.js';
import { userAgent as defaultUserAgent } from '../core/version.js';
import { invocationLogSchema } from '../invocation-log/settings.js';
import { userAgent } from '../sinks/webhook/settings.js';
import { triggerSchema } from './trigger-schema.js';

export type { TableName } from '../core/table-name.js';

const fileSchema = z.string().min(1);

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  kB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
};

/** A byte count: a whole number, or a string with a unit (`512MiB`, `1.5 GB`); kB/MB/GB are powers of 1000. */
const byteSize = z.unknown().transform((value, ctx) => {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?) ?([A-Za-z]*)$/.exec(value.trim()) : null;
  const factor = SIZE_UNITS[match?.[2] || 'B'];
  if (!match || factor === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a byte count or a size such as 512MiB or 1GB (units ${Object.keys(SIZE_UNITS).join(', ')})`,
    });
    return z.NEVER;
  }
  return Math.floor(Number(match[1]) * factor);
});

const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

/**
 * The connection URL with the `ssl*` settings of the config added as query parameters, so every
 * connection walhook opens (setup, stream, lock, dead letters, monitor) gets them. `uselibpqcompat`
 * makes node-postgres read them as libpq does: without it, require and verify-ca verify the host name
 * too, which a server certificate made for verify-ca would fail.
 */
function withSslParameters(
  connection: string,
  settings: Record<string, string | undefined>,
  ctx: z.core.$RefinementCtx,
): string {
  if (!URL.canParse(connection)) return connection;
  const url = new URL(connection);
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    if (url.searchParams.has(key)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `also set in the connection URL: set ${key} in one place`,
      });
      return connection;
    }
    url.searchParams.set(key, value);
  }
  const mode = url.searchParams.get('sslmode');
  if (mode !== null && !(SSL_MODES as readonly string[]).includes(mode)) {
    ctx.addIssue({
      code: 'custom',
      path: ['connection'],
      message: `sslmode in the URL: expected one of ${SSL_MODES.join(', ')}`,
    });
    return connection;
  }
  if (mode === null || url.searchParams.has('uselibpqcompat')) {
    return Object.values(settings).some((v) => v !== undefined) ? url.toString() : connection;
  }
  url.searchParams.set('uselibpqcompat', 'true');
  return url.toString();
}

const sourceSchema = strictObject({
  connection: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// connection URL'),
  slot: z
    .string()
    .regex(/^[a-z0-9_]{1,63}$/, 'expected 1 to 63 characters among a-z, 0-9 and _')
    .default('walhook'),
  // Lower case only, so the name means the same whether or not a SQL statement quotes it.
  publication: z
    .string()
    .regex(
      /^[a-z_][a-z0-9_$]{0,62}$/,
      'expected a lower-case identifier: a-z, 0-9, _ and $, not starting with a digit or $, at most 63 characters',
    )
    .default('walhook'),
  // Re-creating a lost slot starts from now: changes in between are skipped, so only on request.
  on_slot_lost: z.enum(['fail', 'recreate']).default('fail'),
  // An unchanged TOASTed value is not in the WAL: read it by primary key, or leave it out and say so.
  toast: z.enum(['fetch', 'omit']).default('fetch'),
  // `full` runs ALTER TABLE … REPLICA IDENTITY FULL on the triggers' tables that need old values.
  replica_identity: z.enum(['keep', 'full']).default('keep'),
  // `hasura`: a statement trigger on each trigger table sends hasura.user and hasura.tracecontext along.
  session_variables: z.enum(['hasura', 'off']).default('off'),
  // A table dropped and re-created leaves the publication; this is how often walhook looks.
  publication_check_sec: z.number().positive().default(30),
  // A transactional message gives the slot something to confirm when only other databases write WAL.
  heartbeat_sec: z.number().min(0).default(30),
  // Retained WAL past this is logged as a warning, once per crossing.
  max_retained_wal: byteSize.default(2 ** 30),
  // false: an owner of the tables created the publication, and walhook only checks that it lists them.
  manage_publication: z.boolean().default(true),
  // libpq's names and meanings; they may also be written in the connection URL, but not both.
  sslmode: z.enum(SSL_MODES).optional(),
  sslrootcert: fileSchema.optional(),
  sslcert: fileSchema.optional(),
  sslkey: fileSchema.optional(),
}).transform(({ sslmode, sslrootcert, sslcert, sslkey, ...source }, ctx) => {
  const connection = withSslParameters(source.connection, { sslmode, sslrootcert, sslcert, sslkey }, ctx);
  return { ...source, connection };
});

const deadLetterSchema = strictObject({
  table: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, 'expected schema.table in lower case')
    .optional(),
  file: z.string().min(1).optional(),
})
  .refine((value) => !(value.table && value.file), 'set either table or file, not both')
  .transform((value) =>
    value.file ? { file: value.file } : { table: value.table ?? 'walhook.dead_letters' },
  )
  .prefault({});

/** The top-level keys that belong to one pipeline; with `pipelines` they are set in each one. */
export const PIPELINE_KEYS = [
  'source',
  'triggers',
  // Triggers from Hasura metadata; src/config/hasura/config-key.ts replaces it before validation.
  'hasura',
  'dead_letter',
  // Off unless set: every delivery attempt in a table (src/invocation-log/).
  'invocation_log',
  'max_in_flight_events',
  'max_in_flight_bytes',
] as const;

const pipelineShape = {
  // The cast is sound: prefault runs `{}` through the schema, which then reports source.connection as
  // required rather than source as missing.
  source: sourceSchema.prefault({} as z.input<typeof sourceSchema>),
  dead_letter: deadLetterSchema,
  invocation_log: invocationLogSchema.optional(),
  max_in_flight_events: z.number().int().min(1).default(10_000),
  max_in_flight_bytes: z
    .number()
    .int()
    .min(1024)
    .default(64 * 1024 * 1024),
  triggers: z
    .array(triggerSchema)
    .min(1)
    .superRefine((triggers, ctx) => {
      const firstIndex = new Map<string, number>();
      triggers.forEach(({ name }, index) => {
        const first = firstIndex.get(name);
        if (first === undefined) {
          firstIndex.set(name, index);
        } else {
          ctx.addIssue({
            code: 'custom',
            path: [index, 'name'],
            message: `duplicate trigger name "${name}" (also triggers[${first}].name)`,
          });
        }
      });
    }),
};

const sharedShape = {
  server: strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9187),
    // /readyz fails while the oldest unsettled transaction committed longer ago than this.
    ready_max_lag_sec: z.number().positive().default(60),
    // Required by every endpoint that changes state (redelivery, pause); without it they answer 401.
    admin_token: z.string().min(16).optional(),
    console: strictObject({
      // Deliveries kept in memory for /console, newest first; 0 keeps none.
      recent: z.number().int().min(0).max(100_000).default(1000),
      // Records why changes were filtered out, per trigger, for the console's trigger view.
      debug_filters: z.boolean().default(false),
    }).prefault({}),
  }).prefault({}),
  shutdown_grace_sec: z.number().min(0).default(10),
  // Where triggers created through /v1/metadata are kept; the loader makes it absolute (and sets it).
  metadata_store: z.string().min(1).optional(),
  // The User-Agent of every webhook request; a trigger's `user_agent` or User-Agent header wins over it.
  user_agent: userAgent.default(defaultUserAgent),
};

/** The single-pipeline form: one slot, its triggers, and the shared settings at the top level. */
export const configSchema = strictObject({
  source: pipelineShape.source,
  server: sharedShape.server,
  shutdown_grace_sec: sharedShape.shutdown_grace_sec,
  metadata_store: sharedShape.metadata_store,
  user_agent: sharedShape.user_agent,
  dead_letter: pipelineShape.dead_letter,
  invocation_log: pipelineShape.invocation_log,
  max_in_flight_events: pipelineShape.max_in_flight_events,
  max_in_flight_bytes: pipelineShape.max_in_flight_bytes,
  triggers: pipelineShape.triggers,
});

const pipelineSchema = strictObject({
  name: z
    .string()
    .regex(
      /^[a-z_][a-z0-9_]{0,62}$/,
      'expected a lower-case identifier: a-z, 0-9 and _, not starting with a digit, at most 63 characters',
    ),
  ...pipelineShape,
});

/** The form with several pipelines, each with its own slot, publication, triggers and checkpoint. */
export const pipelinesConfigSchema = strictObject({
  ...sharedShape,
  pipelines: z
    .array(pipelineSchema)
    .min(1)
    .superRefine((pipelines, ctx) => {
      // Names, slots and trigger names must not repeat across pipelines: two readers of one slot would
      // take it from each other, and trigger names name metric series and dead letters.
      const seen = new Map<string, string>();
      const once = (kind: string, value: string, path: (string | number)[], where: string) => {
        const first = seen.get(`${kind}:${value}`);
        if (first === undefined) {
          seen.set(`${kind}:${value}`, where);
        } else {
          ctx.addIssue({ code: 'custom', path, message: `duplicate ${kind} "${value}" (also ${first})` });
        }
      };
      pipelines.forEach((pipeline, i) => {
        once('pipeline name', pipeline.name, [i, 'name'], `pipelines[${i}].name`);
        once('slot', pipeline.source.slot, [i, 'source', 'slot'], `pipelines[${i}].source.slot`);
        pipeline.triggers.forEach((trigger, j) => {
          once(
            'trigger name',
            trigger.name,
            [i, 'triggers', j, 'name'],
            `pipelines[${i}].triggers[${j}].name`,
          );
        });
      });
    }),
});

/**
 * One pipeline's settings, with the shared ones (`server`, `shutdown_grace_sec`): what a Pipeline, the
 * dlq commands and validate work on. `pipeline` is its name, `default` in the single-pipeline form.
 */
export type Config = z.output<typeof configSchema> & { pipeline: string };
export type TriggerConfig = Config['triggers'][number];
