/**
 * The parser's view of the tokens: looking ahead, taking, expecting, and saying what was unexpected
 * where. Kriti's keywords are never names, and `in` is an operator.
 */
import { type KritiPosition, KritiSyntaxError } from './errors.js';
import type { Token } from './lexer.js';

export const KEYWORDS = new Set(['if', 'elif', 'else', 'end', 'null', 'range', 'in', 'not']);
const OPERATORS = new Set(['==', '!=', '>', '<', '>=', '<=', '&&', '||', 'in', '??']);

function describeToken(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'end of input';
    case 'text':
      return `text ${JSON.stringify(token.text.slice(0, 20))}`;
    case 'quoted':
      return `'${token.text}'`;
    case 'stringStart':
      return 'a string';
    case 'stringEnd':
      return 'the end of the string';
    default:
      return `'${token.text}'`;
  }
}

export class TokenCursor {
  private index = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  protected peek(ahead = 0): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)] as Token;
  }

  protected next(): Token {
    const token = this.peek();
    if (this.index < this.tokens.length - 1) this.index++;
    return token;
  }

  protected is(text: string, ahead = 0): boolean {
    const token = this.peek(ahead);
    return (token.kind === 'symbol' || token.kind === 'identifier') && token.text === text;
  }

  protected fail(problem: string, at: KritiPosition = this.peek()): never {
    throw new KritiSyntaxError(problem, { line: at.line, column: at.column });
  }

  protected unexpected(expected: string): never {
    this.fail(`unexpected ${describeToken(this.peek())} (expected ${expected})`);
  }

  protected expect(text: string, expected = `'${text}'`): Token {
    if (!this.is(text)) this.unexpected(expected);
    return this.next();
  }

  expectEnd(): void {
    if (this.peek().kind === 'end') return;
    if (this.atOperator()) this.operatorHint('operation');
    this.unexpected('end of input');
  }

  /** An operator where the grammar has none: say how Kriti wants it written. */
  protected operatorHint(after: 'operation' | 'call'): never {
    const operator = this.peek().text;
    const fix =
      after === 'call'
        ? `a call is an operand only in parentheses: (f(x)) ${operator} y`
        : `operators do not chain: (a ${operator} b) ${operator} c`;
    this.fail(`unexpected '${operator}': in Kriti ${fix}`);
  }

  protected atOperator(): boolean {
    const token = this.peek();
    return (token.kind === 'symbol' || token.kind === 'identifier') && OPERATORS.has(token.text);
  }

  protected name(what: string): Token {
    const token = this.peek();
    if (token.kind !== 'identifier' || KEYWORDS.has(token.text)) this.unexpected(what);
    return this.next();
  }
}
