/**
 * JSON as users type it (command-line options, admin request bodies, stored backfill filters), read
 * without changing a digit. `JSON.parse` reads every number as a double: `9007199254740993` becomes
 * `9007199254740992`, `1.10` becomes `1.1`, and a key or a `where` literal built from that names
 * another row than the user meant.
 *
 * A number whose double prints back as the very text typed stays a number. Any other integer is a
 * bigint (as the config loader keeps a `where` literal), any other number an {@link ExactNumber}
 * holding its text. {@link stringifyJson} writes both back digit for digit.
 *
 * Unlike `JSON.parse`, a key given twice in one object is an error rather than silently the last
 * one, since either reading could be what the user meant.
 */

/** A JSON number a double would change, kept as the text it was written as. */
export class ExactNumber {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text;
  }

  /** Where a plain `JSON.stringify` meets one (a log line), it shows its digits rather than a wrong number. */
  toJSON(): string {
    return this.text;
  }
}

/** Where the text stops being JSON; `position` is the 0-based character offset. */
export class JsonSyntaxError extends Error {
  constructor(
    readonly problem: string,
    readonly position: number,
  ) {
    super(`${problem} at position ${position}`);
    this.name = 'JsonSyntaxError';
  }
}

/** Deeper than any request or filter needs; the reader recurses, and a stack overflow is no answer. */
const MAX_DEPTH = 128;

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/** Reads one JSON value; throws {@link JsonSyntaxError}. */
export function parseJson(text: string): unknown {
  const reader = new Reader(text);
  reader.space();
  const value = reader.value(0);
  reader.space();
  if (reader.at < text.length) reader.fail('unexpected text after the JSON value');
  return value;
}

/**
 * The members of a JSON object's text in order, each value as the text it was written as, a key
 * given twice listed twice: for text that is to be rewritten rather than read (pino's bindings).
 */
export function jsonMembers(text: string): [key: string, value: string][] {
  const reader = new Reader(text);
  reader.space();
  if (text[reader.at] !== '{') reader.fail('expected an object');
  const members: [string, string][] = [];
  reader.at++;
  reader.space();
  if (text[reader.at] === '}') reader.at++;
  else {
    for (;;) {
      reader.space();
      if (text[reader.at] !== '"') reader.fail('expected a key in double quotes');
      const key = reader.string();
      reader.space();
      if (text[reader.at] !== ':') reader.fail("expected ':' after a key");
      reader.at++;
      reader.space();
      const start = reader.at;
      reader.value(1);
      members.push([key, text.slice(start, reader.at)]);
      reader.space();
      const c = text[reader.at];
      reader.at++;
      if (c === '}') break;
      if (c !== ',') reader.fail("expected ',' or '}'", reader.at - 1);
    }
  }
  reader.space();
  if (reader.at < text.length) reader.fail('unexpected text after the JSON value');
  return members;
}

class Reader {
  at = 0;

  constructor(private readonly text: string) {}

  fail(problem: string, at = this.at): never {
    throw new JsonSyntaxError(problem, at);
  }

  space(): void {
    const { text } = this;
    for (;;) {
      const c = text.charCodeAt(this.at);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.at++;
      else return;
    }
  }

  value(depth: number): unknown {
    const c = this.text[this.at];
    switch (c) {
      case '{':
        return this.object(depth + 1);
      case '[':
        return this.array(depth + 1);
      case '"':
        return this.string();
      case 't':
        return this.word('true', true);
      case 'f':
        return this.word('false', false);
      case 'n':
        return this.word('null', null);
      case undefined:
        return this.fail('unexpected end of input');
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.number();
        return this.fail(`unexpected character ${JSON.stringify(c)}`);
    }
  }

  word<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.at)) this.fail('unexpected word (expected true, false or null)');
    this.at += word.length;
    return value;
  }

  number(): number | bigint | ExactNumber {
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (match === null) return this.fail('malformed number');
    const token = match[0];
    this.at += token.length;
    const value = Number(token);
    if (String(value) === token) return value;
    const integer = match[1] === undefined && match[2] === undefined;
    return integer && token !== '-0' ? BigInt(token) : new ExactNumber(token);
  }

  string(): string {
    const { text } = this;
    const start = this.at;
    this.at++;
    let result = '';
    for (;;) {
      // The run up to a quote, a backslash or a control character, copied in one piece.
      const from = this.at;
      for (let code = text.charCodeAt(this.at); code >= 0x20 && code !== 0x22 && code !== 0x5c; ) {
        code = text.charCodeAt(++this.at);
      }
      result += text.slice(from, this.at);
      const c = text[this.at];
      if (c === '"') {
        this.at++;
        return result;
      }
      if (c === undefined) return this.fail('unterminated string', start);
      if (c !== '\\') return this.fail('control character in a string (escape it)');
      const escaped = text[this.at + 1] ?? '';
      if (escaped === 'u') {
        const hex = text.slice(this.at + 2, this.at + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('malformed \\u escape');
        result += String.fromCharCode(Number.parseInt(hex, 16));
        this.at += 6;
      } else {
        const char = ESCAPES[escaped];
        if (char === undefined) this.fail(`unknown escape \\${escaped}`);
        result += char;
        this.at += 2;
      }
    }
  }

  array(depth: number): unknown[] {
    if (depth > MAX_DEPTH) this.fail(`nested more than ${MAX_DEPTH} levels deep`);
    this.at++;
    const items: unknown[] = [];
    this.space();
    if (this.text[this.at] === ']') {
      this.at++;
      return items;
    }
    for (;;) {
      this.space();
      items.push(this.value(depth));
      this.space();
      const c = this.text[this.at];
      this.at++;
      if (c === ']') return items;
      if (c !== ',') this.fail("expected ',' or ']'", this.at - 1);
    }
  }

  object(depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) this.fail(`nested more than ${MAX_DEPTH} levels deep`);
    this.at++;
    const object: Record<string, unknown> = {};
    this.space();
    if (this.text[this.at] === '}') {
      this.at++;
      return object;
    }
    for (;;) {
      this.space();
      const keyAt = this.at;
      if (this.text[this.at] !== '"') this.fail('expected a key in double quotes');
      const key = this.string();
      if (Object.hasOwn(object, key)) this.fail(`duplicate key ${JSON.stringify(key)}`, keyAt);
      this.space();
      if (this.text[this.at] !== ':') this.fail("expected ':' after a key");
      this.at++;
      this.space();
      const value = this.value(depth);
      // An own property even for "__proto__", as JSON.parse makes it, never the object's prototype.
      // Only there: defining every property makes V8 keep the object as a slow dictionary.
      if (key === '__proto__') {
        Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        object[key] = value;
      }
      this.space();
      const c = this.text[this.at];
      this.at++;
      if (c === '}') return object;
      if (c !== ',') this.fail("expected ',' or '}'", this.at - 1);
    }
  }
}

/**
 * `JSON.stringify` for what {@link parseJson} reads: bigints and {@link ExactNumber}s are written as
 * their digits. Otherwise as `JSON.stringify` writes it (no indentation).
 */
export function stringifyJson(value: unknown): string {
  return write(value) ?? 'null';
}

function write(value: unknown): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value instanceof ExactNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map((item) => write(item) ?? 'null').join(',')}]`;
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return write(withJson.toJSON());
  const parts: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    const text = write(item);
    if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}
