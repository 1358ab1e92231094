import { WalhookError } from '../core/errors.js';

const SSL_FILES = ['sslrootcert', 'sslcert', 'sslkey'] as const;

/**
 * A failure to set up TLS to Postgres that no retry can fix — the server's certificate does not
 * verify, the server has TLS off, a certificate file cannot be read — as a one-line error naming
 * the problem (exit 2); null for anything else, such as a server that is down. Names the host and
 * port only: the connection URL may hold a password.
 */
export function sourceTlsError(err: unknown, connection: string): WalhookError | null {
  const problem = describe(err as NodeJS.ErrnoException, connection);
  if (!problem) return null;
  const url = URL.canParse(connection) ? new URL(connection) : null;
  const mode = url?.searchParams.get('sslmode') ?? 'prefer';
  const where = url ? `${url.hostname}:${url.port || '5432'}` : 'the source database';
  return new WalhookError('WALHOOK_ERR_SOURCE_TLS', `Postgres at ${where} (sslmode=${mode}): ${problem}`, {
    cause: err,
  });
}

function describe(err: NodeJS.ErrnoException | null | undefined, connection: string): string | null {
  if (!err || typeof err !== 'object') return null;
  const code = typeof err.code === 'string' ? err.code : '';
  const message = String(err.message ?? '');
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the server's certificate is not for this host (${message}); connect with a host name the certificate lists, or use sslmode=verify-ca`;
  }
  if (/CERT|UNABLE_TO_(GET|VERIFY)|SELF_SIGNED/.test(code)) {
    return `the server's certificate does not verify: ${message} (${code}); set source.sslrootcert to the CA certificate that signed it`;
  }
  if (code.startsWith('ERR_OSSL_') || code.startsWith('ERR_SSL_')) {
    return `TLS setup failed: ${message} (${code}); check source.sslcert, source.sslkey and source.sslrootcert`;
  }
  if (message === 'The server does not support SSL connections') {
    return 'the server does not accept TLS connections; turn ssl on in postgresql.conf, or change sslmode';
  }
  if (message.startsWith('SECURITY WARNING: Using sslmode=verify-ca')) {
    return 'sslmode=verify-ca needs the CA: set source.sslrootcert (or use verify-full)';
  }
  if (typeof err.path === 'string' && err.syscall === 'open') {
    const params = URL.canParse(connection) ? new URL(connection).searchParams : new URLSearchParams();
    const key = SSL_FILES.find((name) => params.get(name) === err.path);
    if (key) return `cannot read source.${key} ${err.path}: ${code || message}`;
  }
  return null;
}
