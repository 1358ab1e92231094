/**
 * Built-in scalar types as json.c's datum_to_json renders them: whether a type's text output is
 * embedded raw, quoted, or reformatted.
 */

/** OIDs of the built-in types walhook knows by name (pg_type.dat). */
export const TypeOid = {
  bool: 16,
  int8: 20,
  int2: 21,
  int4: 23,
  json: 114,
  float4: 700,
  float8: 701,
  bpchar: 1042,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

/** Turns one non-NULL column text into its JSON fragment. */
export type ValueRenderer = (text: string) => string;

/**
 * Postgres's escape_json escapes `"`, `\` and the C0 controls (as \b \f \n \r \t or lowercase \u00xx)
 * and nothing else, which is exactly what JSON.stringify does for text that came from valid UTF-8
 * (it would also escape lone surrogates, which UTF-8 cannot carry). Most text needs no escaping at
 * all, and quoting it directly is about twice as fast.
 */
export function jsonString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it looks for.
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

/** Thrown by a parser given text that its type's output function cannot have produced. */
export class MalformedText extends Error {}

/**
 * For renderers that parse their text: text that does not parse, which only a catalog out of step
 * with the server can produce (a composite altered since it was read), stays readable as a string
 * rather than stopping the stream.
 */
export function orString(render: ValueRenderer): ValueRenderer {
  return (text) => {
    try {
      return render(text);
    } catch (error) {
      if (error instanceof MalformedText) return jsonString(text);
      throw error;
    }
  };
}

/**
 * The renderer for a built-in scalar type. Types json.c has no category for (text, uuid, time,
 * interval, money, ranges, ...) are quoted text.
 */
export function scalarRenderer(typeOid: number): ValueRenderer {
  switch (typeOid) {
    // Integer output is always a valid JSON number; json and jsonb output is JSON already.
    case TypeOid.int2:
    case TypeOid.int4:
    case TypeOid.int8:
    case TypeOid.json:
    case TypeOid.jsonb:
      return raw;
    case TypeOid.numeric:
    case TypeOid.float4:
    case TypeOid.float8:
      return numberOrString;
    case TypeOid.bool:
      return bool;
    // XSD dates print exactly like ISO dates, including the ` BC` suffix and `infinity`.
    case TypeOid.date:
      return quoted;
    case TypeOid.timestamp:
      return timestampToXsd;
    case TypeOid.timestamptz:
      return timestamptzToXsd;
    default:
      return jsonString;
  }
}

function raw(text: string): string {
  return text;
}

/** For text that never needs escaping. */
function quoted(text: string): string {
  return `"${text}"`;
}

function bool(text: string): string {
  return text === 't' ? 'true' : 'false';
}

/** json.c embeds a numeric type's output when IsValidJsonNumber accepts it, else quotes it (NaN, Infinity). */
function numberOrString(text: string): string {
  return isJsonNumber(text) ? text : `"${text}"`;
}

/** IsValidJsonNumber: an optional `-`, then the JSON number grammar (no leading zeros, no `+`, no bare `.`). */
function isJsonNumber(text: string): boolean {
  const end = text.length;
  let i = codeAt(text, 0) === 45 ? 1 : 0;
  if (codeAt(text, i) === 48) i++;
  else if (isDigit(codeAt(text, i))) i = skipDigits(text, i);
  else return false;
  if (codeAt(text, i) === 46) {
    if (!isDigit(codeAt(text, i + 1))) return false;
    i = skipDigits(text, i + 1);
  }
  const e = codeAt(text, i);
  if (e === 101 || e === 69) {
    i++;
    const sign = codeAt(text, i);
    if (sign === 43 || sign === 45) i++;
    if (!isDigit(codeAt(text, i))) return false;
    i = skipDigits(text, i);
  }
  return i === end;
}

/** charCodeAt past the end returns NaN, and V8 deoptimizes on the out-of-bounds read. */
function codeAt(text: string, index: number): number {
  return index < text.length ? text.charCodeAt(index) : -1;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function skipDigits(text: string, from: number): number {
  let i = from;
  while (isDigit(codeAt(text, i))) i++;
  return i;
}

/**
 * json.c prints timestamps with USE_XSD_DATES whatever the DateStyle: ISO output with a `T` between
 * date and time. `infinity` and `-infinity` have no space and pass through.
 */
function timestampToXsd(text: string): string {
  const space = text.indexOf(' ');
  if (space === -1) return `"${text}"`;
  return `"${text.slice(0, space)}T${text.slice(space + 1)}"`;
}

/**
 * As timestampToXsd, and XSD offsets always carry minutes: ISO prints a whole-hour offset as `+05`
 * where XSD prints `+05:00`; offsets with minutes or seconds (`+05:30`, `+05:53:28`) print alike.
 */
function timestamptzToXsd(text: string): string {
  const space = text.indexOf(' ');
  if (space === -1) return `"${text}"`;
  const bc = text.endsWith(' BC');
  const end = bc ? text.length - 3 : text.length;
  // The time part holds only digits, `:` and `.`, so the first sign after it starts the offset.
  let zone = space + 1;
  while (zone < end) {
    const code = text.charCodeAt(zone);
    if (code === 43 || code === 45) break;
    zone++;
  }
  const date = text.slice(0, space);
  if (end - zone !== 3) return `"${date}T${text.slice(space + 1)}"`;
  return `"${date}T${text.slice(space + 1, end)}:00${bc ? ' BC' : ''}"`;
}
