/**
 * Evaluates a parsed template against variables, with Kriti's semantics (kriti-lang's Eval.hs): a
 * lookup that misses is an error unless it is optional (`?`), `&&`/`||` want booleans on both sides
 * (both are evaluated), `==` and the orderings compare any two JSON values as aeson does, `??` replaces
 * only null, `range` maps an array to an array, and a string template renders non-strings as JSON.
 * Range binders live in a slot array sized at compile time, so a loop allocates nothing per item.
 */
import { describe, type Key, type Node } from './ast.js';
import { KritiEvalError, KritiFunctionError, type KritiPosition } from './errors.js';
import { BUILTIN_FUNCTIONS, type KritiContext, type KritiFunction } from './functions.js';
import { integerOf, isNumber } from './numbers.js';
import { describeKind, interpolated, jsonCompare, jsonEqual, kindOf, member, setMember } from './values.js';

export class Evaluation implements KritiContext {
  private readonly slots: unknown[];

  constructor(
    readonly variables: Readonly<Record<string, unknown>>,
    private readonly functions: Readonly<Record<string, KritiFunction>> | undefined,
    slotCount: number,
  ) {
    this.slots = slotCount === 0 ? [] : new Array(slotCount);
  }

  run(node: Node): unknown {
    switch (node.kind) {
      case 'literal':
        return node.value;
      case 'template': {
        let text = '';
        for (const part of node.parts) text += this.guard(part.at, interpolated, this.run(part));
        return text;
      }
      case 'array':
        return node.items.map((item) => this.run(item));
      case 'object': {
        const object: Record<string, unknown> = {};
        for (let i = 0; i < node.keys.length; i++)
          setMember(object, node.keys[i] as string, this.run(node.values[i] as Node));
        return object;
      }
      case 'variable':
        return this.variable(node.name, node.slot, node.at);
      case 'field':
        return this.field(node);
      case 'optional':
        return this.optional(node.target, node.keys);
      case 'if': {
        for (const { condition, body } of node.branches) {
          const value = this.run(condition);
          if (typeof value !== 'boolean')
            this.fail(
              condition.at,
              `${describe(condition)}: a condition must be a boolean, got ${describeKind(value)}`,
            );
          if (value) return this.run(body);
        }
        return this.run(node.otherwise);
      }
      case 'binary':
        return this.binary(node);
      case 'range': {
        const over = this.run(node.over);
        if (!Array.isArray(over))
          this.fail(node.over.at, `${describe(node.over)}: range wants an array, got ${describeKind(over)}`);
        const result = new Array(over.length);
        for (let i = 0; i < over.length; i++) {
          if (node.indexSlot >= 0) this.slots[node.indexSlot] = i;
          this.slots[node.itemSlot] = over[i];
          result[i] = this.run(node.body);
        }
        return result;
      }
      case 'call': {
        const argument = this.run(node.argument);
        const custom =
          this.functions !== undefined && Object.hasOwn(this.functions, node.name)
            ? this.functions[node.name]
            : undefined;
        const fn = custom ?? BUILTIN_FUNCTIONS.get(node.name);
        if (fn === undefined) this.fail(node.at, `${node.name}: no such function`);
        try {
          return fn(argument, this);
        } catch (error) {
          if (!(error instanceof Error) || error instanceof KritiEvalError) throw error;
          this.fail(node.argument.at, `${node.name}: ${error.message}`);
        }
      }
    }
  }

  private fail(at: KritiPosition, problem: string): never {
    throw new KritiEvalError(problem, at);
  }

  /** Runs a value helper that may refuse a value nested too deep, as an error at `at`. */
  private guard<A, R>(at: KritiPosition, helper: (a: A, b: A) => R, a: A, b?: A): R {
    try {
      return helper(a, b as A);
    } catch (error) {
      if (error instanceof KritiFunctionError) this.fail(at, error.message);
      throw error;
    }
  }

  private variable(name: string, slot: number, at: KritiPosition): unknown {
    if (slot >= 0) return this.slots[slot];
    const value = member(this.variables, name);
    if (value === undefined) this.fail(at, `${name}: no such variable`);
    return value;
  }

  private field(node: Extract<Node, { kind: 'field' }>): unknown {
    const target = this.run(node.target);
    const targetKind = kindOf(target);
    const key = typeof node.key === 'string' ? node.key : this.run(node.key);
    if (targetKind === 'object') {
      if (typeof key !== 'string')
        this.fail(node.at, `${describe(node)}: an object's key must be a string, got ${describeKind(key)}`);
      const value = member(target as Record<string, unknown>, key);
      if (value === undefined)
        this.fail(node.at, `${describe(node)}: no such key (?. looks up a key that may be missing)`);
      return value;
    }
    if (targetKind === 'array' && typeof node.key !== 'string') {
      const index = isNumber(key) ? integerOf(key) : undefined;
      if (index === undefined)
        this.fail(node.at, `${describe(node)}: an array index must be an integer, got ${describeKind(key)}`);
      const items = target as unknown[];
      if (index < 0 || index >= items.length)
        this.fail(node.at, `${describe(node)}: index out of range (${items.length} items)`);
      return items[index];
    }
    return this.fail(
      node.target.at,
      `${describe(node.target)}: expected an object, got ${describeKind(target)}`,
    );
  }

  /** `target?…`: null where the target fails or a lookup misses; a target that is a scalar is an error. */
  private optional(target: Node, keys: readonly Key[]): unknown {
    let value: unknown;
    try {
      value = this.run(target);
    } catch (error) {
      if (!(error instanceof KritiEvalError)) throw error;
      value = null;
    }
    let current = value;
    // Every key expression is evaluated, as Kriti does, even past a miss.
    for (const key of keys) {
      const name = typeof key === 'string' ? key : this.run(key);
      if (current !== undefined) current = step(current, name);
    }
    const kind = kindOf(value);
    if (kind !== 'object' && kind !== 'array' && kind !== 'null') {
      this.fail(target.at, `${describe(target)}: expected an object or an array, got ${describeKind(value)}`);
    }
    return current === undefined || kind === 'null' ? null : current;
  }

  private binary(node: Extract<Node, { kind: 'binary' }>): unknown {
    const left = this.run(node.left);
    if (node.operator === '??') return kindOf(left) === 'null' ? this.run(node.right) : left;
    const right = this.run(node.right);
    switch (node.operator) {
      case '==':
        return this.guard(node.at, jsonEqual, left, right);
      case '!=':
        return !this.guard(node.at, jsonEqual, left, right);
      case '>':
        return this.guard(node.at, jsonCompare, left, right) > 0;
      case '<':
        return this.guard(node.at, jsonCompare, left, right) < 0;
      case '>=':
        return this.guard(node.at, jsonCompare, left, right) >= 0;
      case '<=':
        return this.guard(node.at, jsonCompare, left, right) <= 0;
      case '&&':
      case '||':
        if (typeof left !== 'boolean' || typeof right !== 'boolean') {
          const wrong = typeof left !== 'boolean' ? left : right;
          this.fail(node.at, `${node.operator} wants booleans on both sides, got ${describeKind(wrong)}`);
        }
        return node.operator === '&&' ? left && right : left || right;
      case 'in':
        return this.contains(node.at, left, right);
    }
  }

  /** `x in object` asks for a key, `x in array` for an equal item. */
  private contains(at: KritiPosition, needle: unknown, haystack: unknown): boolean {
    const kind = kindOf(haystack);
    if (kind === 'object') {
      if (typeof needle !== 'string')
        this.fail(at, `in: an object is searched by key, a string, got ${describeKind(needle)}`);
      return Object.hasOwn(haystack as object, needle);
    }
    if (kind !== 'array')
      this.fail(at, `in: expected an array or an object on the right, got ${describeKind(haystack)}`);
    return (haystack as unknown[]).some((item) => this.guard(at, jsonEqual, needle, item));
  }
}

/** One optional lookup: a string key into an object, an integer into an array; undefined for a miss. */
function step(value: unknown, key: unknown): unknown {
  const kind = kindOf(value);
  if (kind === 'object' && typeof key === 'string') return member(value as Record<string, unknown>, key);
  if (kind !== 'array' || !isNumber(key)) return undefined;
  const index = integerOf(key);
  return index === undefined ? undefined : (value as unknown[])[index];
}
