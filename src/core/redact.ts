import pino from 'pino';

/** What a secret is replaced with. */
export const CENSOR = '***';

/**
 * Keys whose values are secrets wherever they appear. `headers` is among them as a whole: a webhook's
 * headers exist to carry credentials, and no header value is worth the risk of logging the wrong one.
 */
const SECRET_KEY =
  /passw(?:or)?d|pwd|secret|token|api[-_]?key|authori[sz]ation|cookie|credential|^headers?$/i;

/** Password-like `name=value` pairs: libpq keyword/value strings, URL query parameters, env dumps. */
const SECRET_PAIR =
  /\b(\w*(?:passw(?:or)?d|pwd|secret|token|api[-_]?key))(\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;,'"]+)/gi;

/**
 * A URL's userinfo. The greedy class runs to the last `@` before the host, so a password holding a raw
 * `@` is covered whole.
 */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*):\/\/([^\s/?#"'<>]*)@/gi;

/**
 * A Standard Webhooks signing secret, recognisable by its prefix wherever it turns up (an error
 * quoting a value, a receiver echoing its config).
 */
const SIGNING_SECRET = /whsec_[A-Za-z0-9+/=_-]{8,}/g;

/**
 * A bearer token after its scheme, as in an echoed or logged `Authorization` header; eight characters
 * at least, so prose such as "bearer token" stays.
 */
const BEARER_TOKEN = /\b(Bearer\s+)[A-Za-z0-9._~+/-]{8,}=*/gi;

/** Nesting followed before giving up; log objects are shallow, and this also stops at cycles. */
const MAX_DEPTH = 8;

/** Verdicts of `SECRET_KEY` by key: log lines reuse a few dozen names, and a lookup beats the regex. */
const secretKeys = new Map<string, boolean>();
const MAX_CACHED_KEYS = 1024;

function isSecretKey(key: string): boolean {
  let secret = secretKeys.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY.test(key);
    if (secretKeys.size < MAX_CACHED_KEYS) secretKeys.set(key, secret);
  }
  return secret;
}

/**
 * Replaces the secrets a text may carry: passwords in URLs and in `password=…` pairs, signing
 * secrets (`whsec_…`) and bearer tokens. A Postgres URL keeps its user name, the role an operator
 * needs to check; any other URL loses its whole userinfo, since a webhook URL's user part is often
 * itself a token.
 */
export function redactText(text: string): string {
  // Every log line passes here, and almost none holds a URL, a `=` or a token: skip the regexes for those.
  let redacted = text;
  if (redacted.includes('whsec_')) redacted = redacted.replace(SIGNING_SECRET, CENSOR);
  if (/bearer/i.test(redacted)) redacted = redacted.replace(BEARER_TOKEN, `$1${CENSOR}`);
  if (redacted.includes('://')) {
    redacted = redacted.replace(URL_USERINFO, (match, scheme: string, userinfo: string) => {
      if (!/^postgres(?:ql)?$/i.test(scheme)) return `${scheme}://${CENSOR}@`;
      const colon = userinfo.indexOf(':');
      return colon < 0 ? match : `${scheme}://${userinfo.slice(0, colon)}:${CENSOR}@`;
    });
  }
  return redacted.includes('=') ? redacted.replace(SECRET_PAIR, `$1$2${CENSOR}`) : redacted;
}

/**
 * A copy of `value` with the value of every secret key (at any depth) replaced by the censor; the value
 * itself when nothing needed replacing, so the common log object costs no copy.
 */
export function redactKeys<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, index) => {
      const redacted = redactKeys(item, depth + 1);
      if (redacted !== item) {
        copy ??= [...value];
        copy[index] = redacted;
      }
    });
    return (copy ?? value) as T;
  }
  // Class instances (dates, buffers, errors outside `err`) are left to their own JSON form. Serialized
  // errors inherit from a plain object, so they count as plain.
  const maker = (value as object).constructor;
  if (maker !== undefined && maker !== Object) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item: unknown = value[key];
    const redacted = isSecretKey(key) && item != null ? CENSOR : redactKeys(item, depth + 1);
    if (redacted !== item) {
      copy ??= { ...(value as Record<string, unknown>) };
      copy[key] = redacted;
    }
  }
  return (copy ?? value) as T;
}

/**
 * pino's error serializer with secret keys removed: driver errors copy their own properties into the
 * log, and some (a URL error's `input`, a client's config) hold the connection string.
 */
export function redactError(err: Error): Record<string, unknown> {
  return redactKeys(pino.stdSerializers.err(err) as unknown as Record<string, unknown>);
}

/**
 * The strings to mask in what comes back from a receiver: each header value, and the longer words of
 * it, since a receiver may echo a bearer token without its scheme. Short values are left alone: masking
 * a `1` would garble the excerpt and hides nothing.
 */
export function headerSecrets(headers: Readonly<Record<string, string>>): string[] {
  const secrets = new Set<string>();
  for (const value of Object.values(headers)) {
    if (value.length >= 4) secrets.add(value);
    for (const word of value.split(/\s+/)) if (word.length >= 8) secrets.add(word);
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}

/**
 * `text` with `secrets` (from `headerSecrets`) and password-like text replaced: what a receiver's
 * response may be kept as, since a receiver may echo the request's headers.
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let masked = text;
  for (const secret of secrets) masked = masked.replaceAll(secret, CENSOR);
  return redactText(masked);
}

/** A short single-line excerpt of a receiver's response for a log line, masked as by `maskSecrets`. */
export function logExcerpt(text: string, maxChars: number, secrets: readonly string[] = []): string {
  const flat = maskSecrets(text, secrets).replace(/\s+/g, ' ').trim();
  return flat.length > maxChars ? `${flat.slice(0, maxChars - 1)}…` : flat;
}
