/**
 * Kriti's lexer, after kriti-lang's Alex grammar. It runs in three modes kept on a stack: JSON (the
 * template's top level), expression (inside `{{ }}`) and string (inside `"…"`). `{{` enters an
 * expression from any mode and `}}` leaves it, `"` enters and leaves a string. So `}}` ends an
 * expression even where an object literal inside it closes two braces (write `} }` there), and at the
 * top level `}}` is two braces.
 */
import { KritiSyntaxError } from './errors.js';

export type TokenKind =
  | 'identifier'
  | 'number'
  | 'boolean'
  /** A run of string text between `"`, `{{` and `}}`, escapes decoded. */
  | 'text'
  /** A key in single quotes, as written (Kriti decodes no escapes there). */
  | 'quoted'
  | 'stringStart'
  | 'stringEnd'
  | 'symbol'
  | 'end';

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly line: number;
  readonly column: number;
}

type Mode = 'json' | 'expression' | 'string';

const IDENTIFIER = /\$?[A-Za-z][$A-Za-z0-9_-]*|\$/y;
const INTEGER = /-?[0-9]+/y;
const DECIMAL = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
/** Longest first, so that `??` is not read as two `?`. `}}` is apart: only an expression has it. */
const SYMBOLS = [
  '??',
  '==',
  '!=',
  '>=',
  '<=',
  '&&',
  '||',
  ':=',
  '{{',
  ':',
  '.',
  ',',
  '?',
  '>',
  '<',
  '_',
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
];
const ESCAPES: Record<string, string> = {
  '{': '{',
  '"': '"',
  '\\': '\\',
  // Kriti keeps the backslash of an escaped slash ("a\/b" is a\/b), and so, to render alike, do we.
  '/': '\\/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

export function tokenize(source: string, firstColumn = 1): Token[] {
  return new Lexer(source, firstColumn).run();
}

class Lexer {
  private at = 0;
  private line = 1;
  private lineStart: number;
  private readonly modes: Mode[] = ['json'];
  private readonly tokens: Token[] = [];

  constructor(
    private readonly source: string,
    firstColumn: number,
  ) {
    this.lineStart = 1 - firstColumn;
  }

  run(): Token[] {
    while (this.at < this.source.length) {
      if (this.modes.at(-1) === 'string') this.string();
      else this.code();
    }
    this.push('end', '', this.at);
    return this.tokens;
  }

  private push(
    kind: TokenKind,
    text: string,
    start: number,
    line = this.line,
    lineStart = this.lineStart,
  ): void {
    this.tokens.push({ kind, text, line, column: start - lineStart + 1 });
  }

  private fail(problem: string, at = this.at): never {
    throw new KritiSyntaxError(problem, { line: this.line, column: at - this.lineStart + 1 });
  }

  /** Moves past `count` characters, counting the lines they end. */
  private advance(count: number): void {
    const end = this.at + count;
    for (
      let i = this.source.indexOf('\n', this.at);
      i !== -1 && i < end;
      i = this.source.indexOf('\n', i + 1)
    ) {
      this.line++;
      this.lineStart = i + 1;
    }
    this.at = end;
  }

  private match(pattern: RegExp): string {
    pattern.lastIndex = this.at;
    return pattern.exec(this.source)?.[0] ?? '';
  }

  /** One token (or white space, or a comment) in JSON or expression mode. */
  private code(): void {
    const { source, at } = this;
    const c = source[at] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f') {
      this.advance(1);
      return;
    }
    if (c === '#') {
      const end = source.indexOf('\n', at);
      this.advance((end === -1 ? source.length : end) - at);
      return;
    }
    if (c === '"') {
      this.push('stringStart', c, at);
      this.modes.push('string');
      this.advance(1);
      return;
    }
    if (c === "'") {
      this.quoted();
      return;
    }
    const word = this.match(IDENTIFIER);
    if (word !== '') {
      this.push(word === 'true' || word === 'false' ? 'boolean' : 'identifier', word, at);
      this.advance(word.length);
      return;
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      const integer = this.match(INTEGER);
      const decimal = this.match(DECIMAL);
      const text = decimal.length > integer.length ? decimal : integer;
      if (text === '') this.fail(`unexpected '-'`);
      this.push('number', text, at);
      this.advance(text.length);
      return;
    }
    if (c === '}' && source[at + 1] === '}' && this.modes.at(-1) === 'expression') {
      this.modes.pop();
      this.push('symbol', '}}', at);
      this.advance(2);
      return;
    }
    const symbol = SYMBOLS.find((s) => source.startsWith(s, at));
    if (symbol === undefined) {
      const hint = c === '!' ? ' (Kriti negates with not(…))' : '';
      this.fail(
        `unexpected character ${JSON.stringify(String.fromCodePoint(source.codePointAt(at) ?? 0))}${hint}`,
      );
    }
    if (symbol === '{{') this.modes.push('expression');
    this.push('symbol', symbol, at);
    this.advance(symbol.length);
  }

  /** `'…'`: a key in single quotes, which cannot hold `'` or `{`. */
  private quoted(): void {
    const start = this.at;
    let end = start + 1;
    while (end < this.source.length && this.source[end] !== "'" && this.source[end] !== '{') end++;
    if (this.source[end] !== "'") this.fail("unterminated key in single quotes (it cannot hold '{')", start);
    this.push('quoted', this.source.slice(start + 1, end), start);
    this.advance(end + 1 - start);
  }

  /** String mode up to the next `"` or `{{`, as one text token. */
  private string(): void {
    const { source } = this;
    const start = this.at;
    const line = this.line;
    const lineStart = this.lineStart;
    let text = '';
    for (;;) {
      const c = source[this.at];
      if (c === undefined) break;
      if (c === '"' || (c === '{' && source[this.at + 1] === '{')) {
        if (this.at > start) this.push('text', text, start, line, lineStart);
        this.push(c === '"' ? 'stringEnd' : 'symbol', c === '"' ? '"' : '{{', this.at);
        if (c === '"') this.modes.pop();
        else this.modes.push('expression');
        this.advance(c === '"' ? 1 : 2);
        return;
      }
      if (c === '\\') text += this.escape();
      else {
        text += c;
        this.advance(1);
      }
    }
    if (this.at > start) this.push('text', text, start, line, lineStart);
  }

  private escape(): string {
    const { source, at } = this;
    const c = source[at + 1] ?? '';
    const simple = ESCAPES[c];
    if (simple !== undefined) {
      this.advance(2);
      return simple;
    }
    if (c !== 'u') this.fail(`unknown escape \\${c} in a string`);
    const unit = this.hex(at);
    // A pair of \u escapes for one astral character is that character; a lone half is U+FFFD.
    if (unit >= 0xd800 && unit < 0xdc00 && source.startsWith('\\u', at + 6)) {
      const low = this.hex(at + 6);
      if (low >= 0xdc00 && low < 0xe000) {
        this.advance(12);
        return String.fromCharCode(unit, low);
      }
    }
    this.advance(6);
    return unit >= 0xd800 && unit < 0xe000 ? '\ufffd' : String.fromCharCode(unit);
  }

  private hex(at: number): number {
    const digits = this.source.slice(at + 2, at + 6);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) this.fail('malformed \\u escape (four hex digits expected)', at);
    return Number.parseInt(digits, 16);
  }
}
