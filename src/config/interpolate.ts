import { type Document, isPair, isScalar, isSeq, type Node, type Pair, parseDocument, visit } from 'yaml';
import type { ErrorCode } from '../errors.js';

/** Where a value sits in the config, e.g. `['triggers', 1, 'operations', 0]`. */
export type KeyPath = (string | number)[];

export interface InterpolationProblem {
  code: Extract<ErrorCode, 'WALHOOK_ERR_CONFIG_ENV' | 'WALHOOK_ERR_CONFIG_INVALID'>;
  path: KeyPath;
  problem: string;
}

const NAME = '[A-Za-z_][A-Za-z0-9_]*';
// A default stops at the first `}` and may not contain `${`: nesting is unsupported, and reporting it
// beats substituting a half-parsed reference.
const DEFAULT = '(?:[^}$]|\\$(?!\\{))*';
// The last alternative catches any `${` that starts no valid reference, so a typo cannot silently
// reach a URL or a header.
const REFERENCE = new RegExp(`\\$\\$\\{|\\$\\{(${NAME})(?::-(${DEFAULT}))?\\}|\\$\\{`, 'g');
const SINGLE_REFERENCE = new RegExp(`^\\$\\{${NAME}(?::-${DEFAULT})?\\}$`);

type Substitution = { text: string } | { missing: string } | { malformed: true };

function substitute(text: string, env: NodeJS.ProcessEnv): Substitution {
  let failure: Substitution | undefined;
  const result = text.replace(REFERENCE, (match, name?: string, fallback?: string) => {
    if (match === '$${') return '${';
    if (name === undefined) {
      failure ??= { malformed: true };
      return match;
    }
    const value = env[name];
    // As in the shell, `:-` also covers a variable that is set but empty.
    if (fallback !== undefined && !value) return fallback;
    if (value === undefined) {
      failure ??= { missing: name };
      return match;
    }
    return value;
  });
  return failure ?? { text: result };
}

/**
 * Resolves substituted text the way YAML would have resolved it written in place of the reference
 * (`8080` a number, `true` a boolean), but only when it is one whole plain scalar: anything that
 * would parse as more (a comment, an anchor, a tag, a mapping) stays the string it was.
 */
function readPlainScalar(text: string): unknown {
  // intAsBigInt as in load.ts, which keeps bigints under `where` and converts them elsewhere.
  const doc = parseDocument(text, { intAsBigInt: true, logLevel: 'silent' });
  const node = doc.contents;
  const whole = doc.errors.length === 0 && isScalar(node) && node.type === 'PLAIN' && node.source === text;
  return whole ? node.value : text;
}

function keyPathOf(ancestors: readonly (Document | Node | Pair)[], node: Node): KeyPath {
  const path: KeyPath = [];
  let parent: Document | Node | Pair | undefined;
  for (const child of [...ancestors, node]) {
    if (isSeq(parent)) {
      path.push(parent.items.indexOf(child));
    } else if (isPair(parent)) {
      // `source` is the key as written, so an interpolated key shows its reference, not its value.
      const key = parent.key;
      path.push(isScalar(key) ? (key.source ?? String(key.value)) : String(key));
    }
    parent = child;
  }
  return path;
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every scalar of the document, keys included, in place;
 * `$${` stands for a literal `${`. Working on scalars rather than on the text means a value can never
 * change the YAML structure and comments are left alone. Returns the first problem, if any.
 */
export function interpolateEnv(doc: Document, env: NodeJS.ProcessEnv): InterpolationProblem | undefined {
  let problem: InterpolationProblem | undefined;
  visit(doc, {
    Scalar(_key, node, ancestors) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const original = node.value;
      const result = substitute(original, env);
      if ('text' in result) {
        const single = node.type === 'PLAIN' && SINGLE_REFERENCE.test(original);
        node.value = single ? readPlainScalar(result.text) : result.text;
        return;
      }
      problem =
        'missing' in result
          ? {
              code: 'WALHOOK_ERR_CONFIG_ENV',
              path: keyPathOf(ancestors, node),
              problem: `environment variable ${result.missing} is not set and has no default`,
            }
          : {
              code: 'WALHOOK_ERR_CONFIG_INVALID',
              path: keyPathOf(ancestors, node),
              problem: `invalid variable reference (expected \${NAME} or \${NAME:-default}; write $\${ for a literal \${)`,
            };
      return visit.BREAK;
    },
  });
  return problem;
}
