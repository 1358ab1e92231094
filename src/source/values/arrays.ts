import { MalformedText, orString, type ValueRenderer } from './scalars.js';

/**
 * Arrays as array_to_json renders them: nested JSON arrays, one level per dimension, each element
 * rendered by its type's category. The text is array_out's: an optional `[lower:upper]...=` prefix
 * when a lower bound is not 1 (array_to_json drops the bounds, so the prefix is skipped), braces per
 * dimension, the element type's delimiter (`;` for box), and elements double-quoted with backslash
 * escapes when they are empty, `NULL`, or hold a quote, backslash, brace, delimiter or space.
 */
export function arrayRenderer(element: ValueRenderer, delimiter: string): ValueRenderer {
  const delim = delimiter.charCodeAt(0);
  return orString((text) => new ArrayText(text, element, delim).render());
}

/**
 * int2vector and oidvector are arrays to json.c, but their output is the elements separated by
 * spaces, without braces (their elements never contain a space).
 */
export function vectorRenderer(element: ValueRenderer): ValueRenderer {
  return (text) => (text === '' ? '[]' : `[${text.split(' ').map(element).join(',')}]`);
}

const QUOTE = 34;
const BACKSLASH = 92;
const LEFT_BRACKET = 91;
const LEFT_BRACE = 123;
const RIGHT_BRACE = 125;

class ArrayText {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly element: ValueRenderer,
    private readonly delim: number,
  ) {}

  render(): string {
    if (this.text.charCodeAt(0) === LEFT_BRACKET) this.pos = this.text.indexOf('=') + 1;
    const json = this.dimension();
    if (this.pos !== this.text.length) throw new MalformedText();
    return json;
  }

  /** One `{...}` level, the cursor on its opening brace. */
  private dimension(): string {
    if (this.text.charCodeAt(this.pos) !== LEFT_BRACE) throw new MalformedText();
    this.pos++;
    if (this.text.charCodeAt(this.pos) === RIGHT_BRACE) {
      this.pos++;
      return '[]';
    }
    let json = '[';
    for (;;) {
      const code = this.text.charCodeAt(this.pos);
      if (code === LEFT_BRACE) json += this.dimension();
      else if (code === QUOTE) json += this.element(this.quoted());
      else json += this.unquoted();
      const next = this.text.charCodeAt(this.pos++);
      if (next === RIGHT_BRACE) return `${json}]`;
      if (next !== this.delim) throw new MalformedText();
      json += ',';
    }
  }

  private quoted(): string {
    const { text } = this;
    let i = this.pos + 1;
    let from = i;
    let value = '';
    for (;;) {
      const code = text.charCodeAt(i);
      if (code === QUOTE) break;
      if (code === BACKSLASH) {
        value += text.slice(from, i);
        from = i + 1;
        i += 2;
      } else if (Number.isNaN(code)) {
        throw new MalformedText();
      } else {
        i++;
      }
    }
    this.pos = i + 1;
    return value + text.slice(from, i);
  }

  /** array_out quotes anything with a backslash or space, so an unquoted element is taken as is. */
  private unquoted(): string {
    const { text, delim } = this;
    const start = this.pos;
    let i = start;
    for (;;) {
      const code = text.charCodeAt(i);
      if (code === delim || code === RIGHT_BRACE) break;
      if (Number.isNaN(code)) throw new MalformedText();
      i++;
    }
    this.pos = i;
    if (i === start) throw new MalformedText();
    // Only an unquoted NULL is SQL NULL; a quoted "NULL" is the four letters.
    if (i - start === 4 && text.slice(start, i).toUpperCase() === 'NULL') return 'null';
    return this.element(text.slice(start, i));
  }
}
