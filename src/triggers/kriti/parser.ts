/**
 * Kriti's parser, a recursive descent over kriti-lang's Happy grammar, the same language:
 *
 *   expr := '{{' expr '}}' | name '(' expr ')' | 'not' expr | atom (op atom)?
 *   atom := name | literal | string | array | object | '(' expr ')' | if | range,
 *           followed by lookups: '.' name, '[' 'key' ']', '[' atom ']', '?' lookups*
 *
 * so operators do not chain (`a && b && c` needs parentheses), an operand is an atom (a call needs
 * parentheses: `(size(x)) > 1`), an `if` needs its `else`, and object keys are plain strings. Range
 * binders are resolved here to slots, so evaluation reads them by index.
 */

import { compareCodePoints } from '../compare.js';
import type { BinaryOperator, Branch, Key, Node } from './ast.js';
import { KEYWORDS, TokenCursor } from './cursor.js';
import type { Token } from './lexer.js';
import { numberFromText } from './numbers.js';

/** Deeper than any template needs; parsing and evaluating recurse, and a stack overflow is no answer. */
const MAX_DEPTH = 200;

export interface Parsed {
  readonly root: Node;
  /** How many range binders the template has: the slots evaluation sets aside. */
  readonly slots: number;
}

export function parse(tokens: readonly Token[]): Parsed {
  const parser = new Parser(tokens);
  const root = parser.expression(0);
  parser.expectEnd();
  return { root, slots: parser.slotCount };
}

class Parser extends TokenCursor {
  slotCount = 0;
  /** The range binders in scope, innermost last, with their slots. */
  private readonly scope: { name: string; slot: number }[] = [];

  private enter(depth: number): void {
    if (depth > MAX_DEPTH) this.fail(`template nested more than ${MAX_DEPTH} levels deep`);
  }

  expression(depth: number): Node {
    this.enter(depth);
    const start = this.peek();
    if (this.is('{{') && !this.is('if', 1) && !this.is('range', 1)) {
      if (this.is('elif', 1) || this.is('else', 1) || this.is('end', 1)) {
        this.fail(`unexpected {{ ${this.peek(1).text} }} (expected a value)`);
      }
      this.next();
      const inner = this.expression(depth + 1);
      this.expect('}}', `'}}' to close the '{{' at line ${start.line} column ${start.column}`);
      return inner;
    }
    if (this.is('not')) {
      this.next();
      return { kind: 'call', at: start, name: 'not', argument: this.expression(depth + 1) };
    }
    if (start.kind === 'identifier' && !KEYWORDS.has(start.text) && this.is('(', 1)) {
      this.next();
      this.next();
      const argument = this.expression(depth + 1);
      this.expect(')', `')' to close the call of ${start.text}`);
      if (this.atOperator()) this.operatorHint('call');
      return { kind: 'call', at: start, name: start.text, argument };
    }
    const left = this.atom(depth + 1);
    if (!this.atOperator()) return left;
    const operator = this.next().text as BinaryOperator;
    const right = this.atom(depth + 1);
    if (this.atOperator()) this.operatorHint('operation');
    return { kind: 'binary', at: left.at, operator, left, right };
  }

  private atom(depth: number): Node {
    this.enter(depth);
    const token = this.peek();
    let node: Node;
    if (token.kind === 'identifier' && token.text === 'null') {
      this.next();
      node = { kind: 'literal', at: token, value: null };
    } else if (token.kind === 'identifier' && !KEYWORDS.has(token.text)) {
      this.next();
      const binder = this.scope.findLast((entry) => entry.name === token.text);
      node = { kind: 'variable', at: token, name: token.text, slot: binder?.slot ?? -1 };
    } else if (token.kind === 'number') {
      this.next();
      node = { kind: 'literal', at: token, value: integerOrNumber(token.text) };
    } else if (token.kind === 'boolean') {
      this.next();
      node = { kind: 'literal', at: token, value: token.text === 'true' };
    } else if (token.kind === 'stringStart') node = this.string(depth);
    else if (this.is('[')) node = this.array(depth);
    else if (this.is('{')) node = this.object(depth);
    else if (this.is('(')) {
      this.next();
      node = this.expression(depth + 1);
      this.expect(')', `')' to close the '(' at line ${token.line} column ${token.column}`);
    } else if (this.is('{{') && this.is('if', 1)) node = this.conditional(depth);
    else if (this.is('{{') && this.is('range', 1)) node = this.range(depth);
    else this.unexpected('a value');
    return this.lookups(node, depth);
  }

  /** The lookups after an atom: required ones, or after `?` optional ones up to the last. */
  private lookups(target: Node, depth: number): Node {
    let node = target;
    for (;;) {
      if (this.is('.') || this.is('['))
        node = { kind: 'field', at: node.at, target: node, key: this.key(depth) };
      else if (this.is('?')) {
        this.next();
        const keys: Key[] = [];
        while (this.is('.') || this.is('[')) keys.push(this.key(depth));
        node = { kind: 'optional', at: node.at, target: node, keys };
      } else return node;
    }
  }

  private key(depth: number): Key {
    if (this.next().text === '.') {
      const token = this.peek();
      if (token.kind === 'identifier' && KEYWORDS.has(token.text)) {
        this.fail(`'${token.text}' is a Kriti keyword: look it up as ['${token.text}']`);
      }
      return this.name("a key name after '.'").text;
    }
    const quoted = this.peek();
    let key: Key;
    if (quoted.kind === 'quoted') {
      if (quoted.text === '') this.fail('expected a key between the quotes');
      this.next();
      key = quoted.text;
    } else key = this.atom(depth + 1);
    this.expect(']');
    return key;
  }

  private string(depth: number): Node {
    const start = this.next();
    const parts: Node[] = [];
    for (;;) {
      const token = this.peek();
      if (token.kind === 'stringEnd') break;
      if (token.kind === 'text') {
        this.next();
        parts.push({ kind: 'literal', at: token, value: token.text });
      } else if (this.is('{{')) {
        this.next();
        parts.push(this.expression(depth + 1));
        this.expect('}}', `'}}' to close the '{{' at line ${token.line} column ${token.column}`);
      } else this.fail(`unterminated string (opened at line ${start.line} column ${start.column})`);
    }
    this.next();
    const [only] = parts;
    if (parts.length === 0) return { kind: 'literal', at: start, value: '' };
    if (parts.length === 1 && only?.kind === 'literal') return { ...only, at: start };
    return { kind: 'template', at: start, parts };
  }

  private array(depth: number): Node {
    const start = this.next();
    const items: Node[] = [];
    if (!this.is(']')) {
      items.push(this.expression(depth + 1));
      while (this.is(',')) {
        this.next();
        items.push(this.expression(depth + 1));
      }
    }
    this.expect(']', `',' or ']' to close the array at line ${start.line} column ${start.column}`);
    return { kind: 'array', at: start, items };
  }

  private object(depth: number): Node {
    const start = this.next();
    const members = new Map<string, Node>();
    if (!this.is('}')) {
      for (;;) {
        const key = this.objectKey();
        this.expect(':', "':' after the key");
        const value = this.expression(depth + 1);
        if (!members.has(key)) members.set(key, value);
        if (!this.is(',')) break;
        this.next();
      }
    }
    this.expect('}', `',' or '}' to close the object at line ${start.line} column ${start.column}`);
    const keys = [...members.keys()].sort(compareCodePoints);
    return { kind: 'object', at: start, keys, values: keys.map((key) => members.get(key) as Node) };
  }

  private objectKey(): string {
    if (this.peek().kind !== 'stringStart') this.unexpected('a key in double quotes');
    this.next();
    let key = '';
    while (this.peek().kind === 'text') key += this.next().text;
    if (this.is('{{')) this.fail('an object key cannot be interpolated');
    if (this.peek().kind !== 'stringEnd') this.unexpected('the end of the key');
    this.next();
    return key;
  }

  /** `{{ keyword` … `}}`: the two tokens after the `{{` and the closing `}}`. */
  private tag(keyword: string): Token {
    const open = this.peek();
    if (!this.is('{{') || !this.is(keyword, 1)) this.unexpected(`{{ ${keyword} }}`);
    this.next();
    this.next();
    return open;
  }

  private conditional(depth: number): Node {
    const open = this.tag('if');
    const branches: Branch[] = [];
    let keyword = 'if';
    for (;;) {
      const condition = this.expression(depth + 1);
      this.expect('}}', `'}}' after the ${keyword} condition`);
      branches.push({ condition, body: this.expression(depth + 1) });
      if (!this.is('{{') || !this.is('elif', 1)) break;
      this.tag('elif');
      keyword = 'elif';
    }
    if (this.is('{{') && this.is('end', 1)) {
      this.fail(
        `an if needs an {{ else }} branch in Kriti (the if at line ${open.line} column ${open.column})`,
      );
    }
    this.tag('else');
    this.expect('}}');
    const otherwise = this.expression(depth + 1);
    this.tag('end');
    this.expect('}}');
    return { kind: 'if', at: open, branches, otherwise };
  }

  private range(depth: number): Node {
    const open = this.tag('range');
    const index = this.is('_') ? this.next() : this.name("an index name or '_'");
    this.expect(',');
    const item = this.name('a name for the item');
    this.expect(':=');
    const over = this.expression(depth + 1);
    this.expect('}}', "'}}' after the range");
    // Bound item first: a range naming both alike sees the index, as Kriti's scope (a map) keeps the later.
    const itemSlot = this.bind(item.text);
    const indexSlot = index.text === '_' ? -1 : this.bind(index.text);
    const body = this.expression(depth + 1);
    this.scope.length -= indexSlot === -1 ? 1 : 2;
    if (!this.is('{{') || !this.is('end', 1)) {
      this.unexpected(`{{ end }} to close the range at line ${open.line} column ${open.column}`);
    }
    this.tag('end');
    this.expect('}}');
    return { kind: 'range', at: open, indexSlot, itemSlot, over, body };
  }

  private bind(name: string): number {
    const slot = this.slotCount++;
    this.scope.push({ name, slot });
    return slot;
  }
}

/** Kriti reads a literal without point or exponent as an integer (leading zeros and all). */
function integerOrNumber(text: string): unknown {
  if (!/^-?\d+$/.test(text)) return numberFromText(text);
  const value = BigInt(text);
  return Number.isSafeInteger(Number(value)) ? Number(value) : value;
}
