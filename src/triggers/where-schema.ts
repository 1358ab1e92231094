import { z } from 'zod';
import { ExactNumber } from '../core/json.js';

/**
 * A trigger's `where`: Hasura's boolean expressions over the row after (`new`) and before (`old`)
 * the change. Integers arrive as bigint (the config loader keeps them exact under `where`); a
 * backfill's `where`, read as JSON, may also hold numbers a double would change as `ExactNumber`.
 */
export type WhereLiteral = string | number | bigint | boolean | ExactNumber;

export interface ColumnOperators {
  _eq?: WhereLiteral;
  _neq?: WhereLiteral;
  _gt?: WhereLiteral;
  _gte?: WhereLiteral;
  _lt?: WhereLiteral;
  _lte?: WhereLiteral;
  _in?: WhereLiteral[];
  _nin?: WhereLiteral[];
  _is_null?: boolean;
  _like?: string;
  _ilike?: string;
}

/** Column names map to operators; as in Hasura, `_and`, `_or` and `_not` cannot name a column. */
export interface RowCondition {
  _and?: RowCondition[];
  _or?: RowCondition[];
  _not?: RowCondition;
  [column: string]: ColumnOperators | RowCondition | RowCondition[] | undefined;
}

/** The keys of one object are AND-ed. */
export interface WhereExpression {
  new?: RowCondition;
  old?: RowCondition;
  _and?: WhereExpression[];
  _or?: WhereExpression[];
  _not?: WhereExpression;
}

const LITERAL_OPERATORS = ['_eq', '_neq', '_gt', '_gte', '_lt', '_lte'];
const LIST_OPERATORS = ['_in', '_nin'];
const PATTERN_OPERATORS = ['_like', '_ilike'];
const OPERATORS = [...LITERAL_OPERATORS, ...LIST_OPERATORS, '_is_null', ...PATTERN_OPERATORS];
const EXPRESSION_KEYS = ['new', 'old', '_and', '_or', '_not'];

type Path = (string | number)[];
type Report = (message: string, path: Path) => void;

/**
 * Validates with a hand-written walker rather than recursive zod objects: the walker knows which
 * level it is at, so a typo gets a message naming what is allowed there, at the exact key path.
 * The input is returned as is once nothing was reported.
 */
export const whereSchema = z.unknown().transform((value, ctx): WhereExpression => {
  let valid = true;
  checkExpression(value, [], (message, path) => {
    valid = false;
    ctx.addIssue({ code: 'custom', message, path });
  });
  return valid ? (value as WhereExpression) : z.NEVER;
});

function isObject(value: unknown): value is Record<string, unknown> {
  // An ExactNumber is a literal: taken for an object it would read as a condition on nothing.
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof ExactNumber)
  );
}

function checkExpression(value: unknown, path: Path, report: Report): void {
  if (!isObject(value)) {
    report('expected an object with new, old, _and, _or or _not', path);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const at = [...path, key];
    if (key === 'new' || key === 'old') checkRowCondition(item, at, report);
    else if (key === '_not') checkExpression(item, at, report);
    else if (key === '_and' || key === '_or') checkList(item, at, report, checkExpression);
    else {
      const hint = key.startsWith('_') ? '' : '; conditions on columns go under new or old';
      report(`unknown key ${key} (expected one of ${EXPRESSION_KEYS.join(', ')}${hint})`, at);
    }
  }
}

function checkList(value: unknown, path: Path, report: Report, check: typeof checkExpression): void {
  if (!Array.isArray(value)) {
    report('expected an array of conditions', path);
    return;
  }
  value.forEach((item, index) => {
    check(item, [...path, index], report);
  });
}

function checkRowCondition(value: unknown, path: Path, report: Report): void {
  if (!isObject(value)) {
    report('expected an object mapping column names to operators', path);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    const at = [...path, key];
    if (key === '_not') checkRowCondition(item, at, report);
    else if (key === '_and' || key === '_or') checkList(item, at, report, checkRowCondition);
    else if (OPERATORS.includes(key))
      report(`${key} is an operator, not a column: write { <column>: { ${key}: ... } }`, at);
    else checkOperators(key, item, at, report);
  }
}

function checkOperators(column: string, value: unknown, path: Path, report: Report): void {
  if (!isObject(value)) {
    report(`expected an object of operators for column ${column}, e.g. { _eq: ... }`, path);
    return;
  }
  for (const [operator, argument] of Object.entries(value)) {
    const at = [...path, operator];
    if (LITERAL_OPERATORS.includes(operator)) checkLiteral(argument, at, report);
    else if (LIST_OPERATORS.includes(operator)) {
      if (!Array.isArray(argument)) report('expected an array of literals', at);
      else
        argument.forEach((item, index) => {
          checkLiteral(item, [...at, index], report);
        });
    } else if (operator === '_is_null') {
      if (typeof argument !== 'boolean') report('expected true or false', at);
    } else if (PATTERN_OPERATORS.includes(operator)) checkPattern(argument, at, report);
    else report(`unknown operator ${operator} (expected one of ${OPERATORS.join(', ')})`, at);
  }
}

function checkLiteral(value: unknown, path: Path, report: Report): void {
  if (value === null) report('null is not a literal; use _is_null: true to match NULL', path);
  else if (Array.isArray(value))
    report('expected a literal, got a list (_in matches any of several values)', path);
  else if (
    !['string', 'number', 'bigint', 'boolean'].includes(typeof value) &&
    !(value instanceof ExactNumber)
  ) {
    report('expected a literal (a string, number or boolean)', path);
  }
}

function checkPattern(value: unknown, path: Path, report: Report): void {
  if (typeof value !== 'string') {
    report('expected a LIKE pattern string', path);
    return;
  }
  // Postgres rejects the pattern too; a backslash escapes the next character, so count the run.
  let run = 0;
  for (let i = value.length - 1; i >= 0 && value[i] === '\\'; i--) run++;
  if (run % 2 === 1) report('LIKE pattern must not end with the escape character \\', path);
}
