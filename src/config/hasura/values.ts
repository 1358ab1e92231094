/**
 * Hasura's own values pass through walhook's `${VAR}` interpolation (src/config/interpolate.ts) once
 * they are in a walhook config. A literal `${` in them is written `$${` so it stays literal, and only
 * the references this import makes on purpose (`webhook_from_env`, `value_from_env`, `{{VAR}}`) resolve.
 */
export function literal(text: string): string {
  // A function, since in a replacement string `$$` would stand for a single `$`.
  return text.replaceAll('${', () => '$${');
}

/** A reference to an environment variable, resolved when walhook starts. */
export function envReference(name: string): string {
  return `\${${name}}`;
}

/** Hasura's URL templates: `{{NAME}}`, spaces allowed inside the braces. */
const TEMPLATE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** A webhook URL with Hasura's `{{BASE_URL}}` templates as `${BASE_URL}` and the rest literal. */
export function webhookTemplate(url: string): string {
  let out = '';
  let last = 0;
  for (const match of url.matchAll(TEMPLATE)) {
    out += literal(url.slice(last, match.index)) + envReference(match[1] as string);
    last = match.index + match[0].length;
  }
  return out + literal(url.slice(last));
}

/** Hasura's source kinds that are Postgres (and speak its replication protocol). */
const POSTGRES_KINDS = new Set(['postgres', 'pg']);

export function isPostgresKind(kind: string): boolean {
  return POSTGRES_KINDS.has(kind);
}

export type ConnectionResult = { connection: string } | { problem: string };

function mapping(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** A `connection_parameters` mapping (username, password, database, host, port) as a connection URL. */
function parametersUrl(parameters: Record<string, unknown>): ConnectionResult {
  const { username, password, database, host, port } = parameters;
  if (typeof host !== 'string' || typeof database !== 'string' || typeof username !== 'string') {
    return { problem: 'connection_parameters: expected username, database and host' };
  }
  if (port !== undefined && !Number.isInteger(port)) {
    return { problem: 'connection_parameters.port: expected a port number' };
  }
  const user = encodeURIComponent(username);
  const secret = typeof password === 'string' ? `:${encodeURIComponent(password)}` : '';
  const at = `${host}${port === undefined ? '' : `:${port}`}`;
  return { connection: literal(`postgresql://${user}${secret}@${at}/${encodeURIComponent(database)}`) };
}

/**
 * The walhook `source.connection` for a Hasura source's `configuration.connection_info.database_url`:
 * a URL as it is, `{from_env: VAR}` as `${VAR}` (resolved when walhook starts, as Hasura resolves it),
 * `{connection_parameters: {...}}` as the URL they make up.
 */
export function sourceConnection(configuration: unknown): ConnectionResult {
  const databaseUrl = mapping(mapping(configuration)?.connection_info)?.database_url;
  if (typeof databaseUrl === 'string') return { connection: literal(databaseUrl) };
  const form = mapping(databaseUrl);
  if (typeof form?.from_env === 'string') return { connection: envReference(form.from_env) };
  const parameters = mapping(form?.connection_parameters);
  if (parameters !== null) return parametersUrl(parameters);
  return {
    problem:
      'configuration.connection_info.database_url: expected a URL, {from_env: VAR} or {connection_parameters: {...}}',
  };
}
