/**
 * A compiled Kriti template: the tree the parser builds and the evaluator walks. Every node has the
 * position where its text starts (a path's is where its first name starts), for error messages.
 */
import type { KritiPosition } from './errors.js';

export type BinaryOperator = '==' | '!=' | '>' | '<' | '>=' | '<=' | '&&' | '||' | 'in' | '??';

/** A lookup's key: a name (`.name`, `['name']`) or an expression (`[i]`, `[x.key]`). */
export type Key = string | Node;

export interface Branch {
  readonly condition: Node;
  readonly body: Node;
}

export type Node =
  /** A string without interpolation, a number, a boolean or null. */
  | { readonly kind: 'literal'; readonly at: KritiPosition; readonly value: unknown }
  /** A string with `{{ }}` parts: its pieces in order, the text ones as literals. */
  | { readonly kind: 'template'; readonly at: KritiPosition; readonly parts: readonly Node[] }
  | { readonly kind: 'array'; readonly at: KritiPosition; readonly items: readonly Node[] }
  /** Keys in aeson's (sorted) order, a key written twice kept at its first value as Kriti does. */
  | {
      readonly kind: 'object';
      readonly at: KritiPosition;
      readonly keys: readonly string[];
      readonly values: readonly Node[];
    }
  /** A name: a range binder's slot (resolved when parsed) or, with slot -1, a variable given to evaluate. */
  | { readonly kind: 'variable'; readonly at: KritiPosition; readonly name: string; readonly slot: number }
  /** `target.key`, `target['key']`, `target[expr]`: the key must be there. */
  | { readonly kind: 'field'; readonly at: KritiPosition; readonly target: Node; readonly key: Key }
  /** `target?` followed by lookups, each of which may miss (then the whole is null). */
  | {
      readonly kind: 'optional';
      readonly at: KritiPosition;
      readonly target: Node;
      readonly keys: readonly Key[];
    }
  | {
      readonly kind: 'if';
      readonly at: KritiPosition;
      readonly branches: readonly Branch[];
      readonly otherwise: Node;
    }
  | {
      readonly kind: 'binary';
      readonly at: KritiPosition;
      readonly operator: BinaryOperator;
      readonly left: Node;
      readonly right: Node;
    }
  /** `range i, x := over` with the binders' slots (index -1 for `_`). */
  | {
      readonly kind: 'range';
      readonly at: KritiPosition;
      readonly indexSlot: number;
      readonly itemSlot: number;
      readonly over: Node;
      readonly body: Node;
    }
  | { readonly kind: 'call'; readonly at: KritiPosition; readonly name: string; readonly argument: Node };

/** How a node reads in an error message: a path as written, anything else briefly. */
export function describe(node: Node): string {
  switch (node.kind) {
    case 'variable':
      return node.name;
    case 'field':
      return describe(node.target) + describeKey(node.key);
    case 'optional':
      return `${describe(node.target)}?${node.keys.map(describeKey).join('')}`;
    case 'call':
      return `${node.name}(…)`;
    case 'literal':
      return typeof node.value === 'string' ? JSON.stringify(node.value) : String(node.value);
    case 'template':
      return 'a string template';
    default:
      return `the ${node.kind}`;
  }
}

function describeKey(key: Key): string {
  if (typeof key !== 'string') return `[${describe(key)}]`;
  return /^\$?[A-Za-z][$A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `['${key}']`;
}
