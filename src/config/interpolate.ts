import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Document, isPair, isScalar, isSeq, type Node, type Pair, parseDocument, visit } from 'yaml';
import type { ErrorCode } from '../core/errors.js';

/** Where a value sits in the config, e.g. `['triggers', 1, 'operations', 0]`. */
export type KeyPath = (string | number)[];

export interface InterpolationProblem {
  code: Extract<
    ErrorCode,
    'WALHOOK_ERR_CONFIG_ENV' | 'WALHOOK_ERR_CONFIG_INVALID' | 'WALHOOK_ERR_CONFIG_SECRET_FILE'
  >;
  path: KeyPath;
  problem: string;
}

const NAME = '[A-Za-z_][A-Za-z0-9_]*';
// A default stops at the first `}` and may not contain `${`: nesting is unsupported, and reporting it
// beats substituting a half-parsed reference.
const DEFAULT = '(?:[^}$]|\\$(?!\\{))*';
// A path runs to the first `}`, so a file whose path holds one cannot be referenced.
const FILE_PATH = '[^}\\r\\n]+';
// The last alternative catches any `${` that starts no valid reference, so a typo cannot silently
// reach a URL or a header.
const REFERENCE = new RegExp(
  `\\$\\$\\{|\\$\\{file:(${FILE_PATH})\\}|\\$\\{(${NAME})(?::-(${DEFAULT}))?\\}|\\$\\{`,
  'g',
);
const SINGLE_REFERENCE = new RegExp(`^\\$\\{${NAME}(?::-${DEFAULT})?\\}$`);

/** Secret files are small: anything larger is a wrong path (a log, a dump), not a secret. */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

type Substitution =
  | { text: string }
  | { missing: string }
  | { malformed: true }
  | { file: string; reason: string };

/**
 * A secret file's content without its one trailing newline (`echo`, `kubectl create secret
 * --from-file` and most editors end a file with one; a secret rarely does). Only a regular file is
 * read: a FIFO or a device would block or never end.
 */
function readSecretFile(path: string): { text: string } | { reason: string } {
  try {
    const stats = statSync(path);
    if (!stats.isFile()) return { reason: 'not a regular file' };
    if (stats.size > MAX_SECRET_FILE_BYTES) {
      return { reason: `larger than ${MAX_SECRET_FILE_BYTES / 1024} KiB, so not a secret` };
    }
    const text = readFileSync(path, 'utf8');
    return { text: text.endsWith('\r\n') ? text.slice(0, -2) : text.replace(/\n$/, '') };
  } catch (err) {
    // The code only: a message could in principle carry more than the path.
    const code = (err as NodeJS.ErrnoException).code;
    return { reason: READ_FAILURES[code ?? ''] ?? `cannot read it (${code ?? 'unknown error'})` };
  }
}

const READ_FAILURES: Record<string, string> = {
  ENOENT: 'no such file',
  ENOTDIR: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'not a regular file',
};

function substitute(text: string, env: NodeJS.ProcessEnv, baseDir: string): Substitution {
  let failure: Substitution | undefined;
  const result = text.replace(REFERENCE, (match, filePath?: string, name?: string, fallback?: string) => {
    if (match === '$${') return '${';
    if (filePath !== undefined) {
      const file = resolve(baseDir, filePath);
      const read = readSecretFile(file);
      if ('reason' in read) {
        failure ??= { file, reason: read.reason };
        return match;
      }
      return read.text;
    }
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
 * Replaces `${VAR}`, `${VAR:-default}` and `${file:PATH}` in every scalar of the document, keys
 * included, in place; `$${` stands for a literal `${`. A relative PATH starts at `baseDir`, the config
 * file's folder. Working on scalars rather than on the text means a value can never change the YAML
 * structure and comments are left alone. Returns the first problem, if any.
 */
export function interpolateEnv(
  doc: Document,
  env: NodeJS.ProcessEnv,
  baseDir: string = process.cwd(),
): InterpolationProblem | undefined {
  let problem: InterpolationProblem | undefined;
  visit(doc, {
    Scalar(_key, node, ancestors) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const original = node.value;
      const result = substitute(original, env, baseDir);
      if ('text' in result) {
        // Only a variable is typed: a file's content stays a string, so a numeric password is
        // still the password.
        const single = node.type === 'PLAIN' && SINGLE_REFERENCE.test(original);
        node.value = single ? readPlainScalar(result.text) : result.text;
        return;
      }
      problem = { ...describeFailure(result), path: keyPathOf(ancestors, node) };
      return visit.BREAK;
    },
  });
  return problem;
}

function describeFailure(
  failure: Exclude<Substitution, { text: string }>,
): Omit<InterpolationProblem, 'path'> {
  if ('missing' in failure) {
    return {
      code: 'WALHOOK_ERR_CONFIG_ENV',
      problem: `environment variable ${failure.missing} is not set and has no default`,
    };
  }
  if ('file' in failure) {
    return {
      code: 'WALHOOK_ERR_CONFIG_SECRET_FILE',
      problem: `cannot read secret file ${failure.file}: ${failure.reason} (mount or create it, or fix the path; a relative path starts at the config file's folder)`,
    };
  }
  return {
    code: 'WALHOOK_ERR_CONFIG_INVALID',
    problem: `invalid variable reference (expected \${NAME}, \${NAME:-default} or \${file:PATH}; write $\${ for a literal \${)`,
  };
}
