import type { z } from 'zod';

/**
 * An answer other than success, in Hasura's shape: `{"path": "$.args.name", "error": "...", "code":
 * "not-exists"}`. The codes are Hasura's, so clients that branch on them keep working; the status is
 * 400 unless said otherwise, as Hasura answers most metadata errors.
 */
export class MetadataError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly path = '$',
    readonly status = 400,
  ) {
    super(message);
  }

  /** The same error under `prefix` (a bulk step's `$.args[2]`). */
  under(prefix: string): MetadataError {
    return new MetadataError(this.code, this.message, prefix + this.path.slice(1), this.status);
  }

  json(): { path: string; error: string; code: string } {
    return { path: this.path, error: this.message, code: this.code };
  }
}

/** `args` checked against `schema`; the first problem as Hasura's `parse-failed`, at its path. */
export function parseArgs<T>(schema: z.ZodType<T, unknown>, args: unknown): T {
  const result = schema.safeParse(args);
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  const path = (issue?.path ?? []).map((part) =>
    typeof part === 'number' ? `[${part}]` : `.${String(part)}`,
  );
  const where = `$.args${path.join('')}`;
  const missing = issue?.code === 'invalid_type' && /received undefined/.test(issue.message);
  throw new MetadataError(
    'parse-failed',
    missing ? `key "${String(issue?.path.at(-1))}" not found` : (issue?.message ?? 'invalid arguments'),
    where,
  );
}

export function notExists(message: string, path = '$.args'): MetadataError {
  return new MetadataError('not-exists', message, path);
}
