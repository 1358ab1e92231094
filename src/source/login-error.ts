import { WalhookError } from '../core/errors.js';

/**
 * SQLSTATEs with which Postgres refuses a login, and what the operator does about each. Reconnecting
 * cannot fix them: someone has to change the connection string or the server.
 */
const REFUSALS = {
  '28P01': {
    code: 'WALHOOK_ERR_SOURCE_AUTH',
    fix: 'set the role and its password in source.connection (DATABASE_URL) to ones the server accepts',
  },
  '28000': {
    code: 'WALHOOK_ERR_SOURCE_AUTH',
    fix: "check the role in source.connection, and that the server's pg_hba.conf lets it connect",
  },
  '3D000': {
    code: 'WALHOOK_ERR_SOURCE_DATABASE',
    fix: 'create the database or fix its name in source.connection',
  },
} as const;

/**
 * A refused login to the source database (wrong password, unknown role, no pg_hba.conf entry, missing
 * database) as a one-line error naming the server, the refusal and what to do; null for anything else,
 * such as a server that is down. Names the host and port only: the connection URL may hold a password.
 */
export function sourceLoginError(err: unknown, connection: string): WalhookError | null {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || !Object.hasOwn(REFUSALS, code)) return null;
  const refusal = REFUSALS[code as keyof typeof REFUSALS];
  const url = URL.canParse(connection) ? new URL(connection) : null;
  const where = url ? `Postgres at ${url.hostname}:${url.port || '5432'}` : 'the source database';
  const reason = String(message ?? '').split('\n', 1)[0];
  return new WalhookError(
    refusal.code,
    `${where} refused the connection: ${reason} (${code}); ${refusal.fix}`,
    {
      cause: err,
    },
  );
}

/** The first line of a failure's message: what a retry's log line needs, instead of a stack trace. */
export function errorLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n', 1)[0] ?? '';
}
