import { z } from 'zod';
import { DURATION_EXAMPLES, parseDuration } from '../core/duration.js';
import { strictObject } from '../core/strict-schema.js';

/** The response start kept when `max_response_bytes` is not set: what the webhook client keeps of it. */
const DEFAULT_RESPONSE_BYTES = 4096;

/**
 * `invocation_log:` of a pipeline: where every delivery attempt is kept, for how long, and how much of
 * each response. Absent, nothing is kept and the delivery path pays nothing.
 */
export const invocationLogSchema = strictObject({
  // Lower case, so the name means the same quoted or not, as dead_letter.table.
  table: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, 'expected schema.table in lower case')
    .default('walhook.invocation_log'),
  retention: z
    .string()
    .default('7d')
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null || ms === 0) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as ${DURATION_EXAMPLES}` });
        return z.NEVER;
      }
      return ms;
    }),
  // The webhook client reads 4 KiB of each response (src/sinks/webhook/client.ts): more cannot be kept.
  max_response_bytes: z.number().int().min(0).max(DEFAULT_RESPONSE_BYTES).default(DEFAULT_RESPONSE_BYTES),
});

/** A pipeline's log as the config gives it; `retention` in milliseconds. */
export type InvocationLogConfig = z.output<typeof invocationLogSchema>;

/** What opening a pipeline's log reads of its config. */
export interface InvocationLogSettings {
  readonly invocation_log?: InvocationLogConfig | undefined;
  readonly source: { readonly connection: string };
  readonly user_agent: string;
}
