import { comparatorFor } from './compare.js';
import type { ColumnOperators, RowCondition, WhereExpression, WhereLiteral } from './where-schema.js';

/** A column's text form (`null` for SQL NULL) and type OID. */
export type ColumnValue = { text: string | null; typeOid: number };

/** `undefined` when the row image does not carry the column (not in the old key, unchanged TOAST). */
export type RowAccessor = (column: string) => ColumnValue | undefined;

/** The row after and before the change; `null` where the operation has none (`new` on DELETE). */
export type WhereRows = { new: RowAccessor | null; old: RowAccessor | null };

type Test<T> = (input: T) => boolean;

/**
 * Compiles a where expression once into closures, so matching a change walks no config. As in SQL,
 * every operator but `_is_null` is false on NULL; it is also false on a column the row image does
 * not carry, which makes `_not` of it true.
 */
export function compileWhere(expr: WhereExpression): Test<WhereRows> {
  const parts: Test<WhereRows>[] = [];
  if (expr.new) {
    const test = compileRow(expr.new);
    parts.push((rows) => rows.new !== null && test(rows.new));
  }
  if (expr.old) {
    const test = compileRow(expr.old);
    parts.push((rows) => rows.old !== null && test(rows.old));
  }
  if (expr._and) parts.push(all(expr._and.map(compileWhere)));
  if (expr._or) parts.push(some(expr._or.map(compileWhere)));
  if (expr._not) parts.push(not(compileWhere(expr._not)));
  return all(parts);
}

/** The columns an expression reads from each row image. */
export function whereColumns(expr: WhereExpression): { new: Set<string>; old: Set<string> } {
  const columns = { new: new Set<string>(), old: new Set<string>() };
  const visitRow = (cond: RowCondition, into: Set<string>): void => {
    for (const [key, value] of Object.entries(cond)) {
      if (key === '_and' || key === '_or') for (const item of value as RowCondition[]) visitRow(item, into);
      else if (key === '_not') visitRow(value as RowCondition, into);
      else into.add(key);
    }
  };
  const visit = (node: WhereExpression): void => {
    if (node.new) visitRow(node.new, columns.new);
    if (node.old) visitRow(node.old, columns.old);
    for (const item of [...(node._and ?? []), ...(node._or ?? []), ...(node._not ? [node._not] : [])])
      visit(item);
  };
  visit(expr);
  return columns;
}

function all<T>(tests: Test<T>[]): Test<T> {
  if (tests.length === 1) return tests[0] as Test<T>;
  return (input) => {
    for (const test of tests) if (!test(input)) return false;
    return true;
  };
}

/** As in Hasura, an empty `_or` is false (and an empty `_and` true). */
function some<T>(tests: Test<T>[]): Test<T> {
  return (input) => {
    for (const test of tests) if (test(input)) return true;
    return false;
  };
}

function not<T>(test: Test<T>): Test<T> {
  return (input) => !test(input);
}

function compileRow(cond: RowCondition): Test<RowAccessor> {
  const parts: Test<RowAccessor>[] = [];
  for (const [key, value] of Object.entries(cond)) {
    if (value === undefined) continue;
    // The schema guarantees each key's shape; the index signature cannot tell them apart.
    if (key === '_and') parts.push(all((value as RowCondition[]).map(compileRow)));
    else if (key === '_or') parts.push(some((value as RowCondition[]).map(compileRow)));
    else if (key === '_not') parts.push(not(compileRow(value as RowCondition)));
    else parts.push(compileColumn(key, value as ColumnOperators));
  }
  return all(parts);
}

function compileColumn(column: string, ops: ColumnOperators): Test<RowAccessor> {
  const tests = compileOperators(ops);
  // `{ column: {} }` constrains nothing, as in Hasura, even when the image lacks the column.
  if (tests.length === 0) return () => true;
  const test = all(tests);
  return (row) => {
    const value = row(column);
    return value !== undefined && test(value);
  };
}

type TextTest = (text: string, typeOid: number) => boolean;

function compileOperators(ops: ColumnOperators): Test<ColumnValue>[] {
  const tests: TextTest[] = [];
  if (ops._eq !== undefined) tests.push(ordered(ops._eq, (order) => order === 0));
  if (ops._neq !== undefined) tests.push(ordered(ops._neq, (order) => order !== 0));
  if (ops._gt !== undefined) tests.push(ordered(ops._gt, (order) => order > 0));
  if (ops._gte !== undefined) tests.push(ordered(ops._gte, (order) => order >= 0));
  if (ops._lt !== undefined) tests.push(ordered(ops._lt, (order) => order < 0));
  if (ops._lte !== undefined) tests.push(ordered(ops._lte, (order) => order <= 0));
  if (ops._in !== undefined) {
    const comparators = ops._in.map(comparatorFor);
    tests.push((text, typeOid) => comparators.some((compare) => compare(text, typeOid) === 0));
  }
  if (ops._nin !== undefined) {
    // `_neq` of every item, so an item unreadable as the column's type makes it false, like `_neq`.
    const neqTests = ops._nin.map((literal) => ordered(literal, (order) => order !== 0));
    tests.push((text, typeOid) => neqTests.every((test) => test(text, typeOid)));
  }
  if (ops._like !== undefined) tests.push(likeTest(ops._like, false));
  if (ops._ilike !== undefined) tests.push(likeTest(ops._ilike, true));
  const valueTests: Test<ColumnValue>[] = tests.map(
    (test) => (value) => value.text !== null && test(value.text, value.typeOid),
  );
  if (ops._is_null !== undefined) {
    const wantNull = ops._is_null;
    valueTests.push((value) => (value.text === null) === wantNull);
  }
  return valueTests;
}

function ordered(literal: WhereLiteral, accept: (order: number) => boolean): TextTest {
  const compare = comparatorFor(literal);
  return (text, typeOid) => {
    const order = compare(text, typeOid);
    return order !== undefined && accept(order);
  };
}

/**
 * LIKE and ILIKE: `%` matches any run of characters, `_` one character (a code point, not a UTF-16
 * unit), and a backslash makes the next character literal. They apply to the column's text form, so
 * a char(n) value keeps its padding, as in Postgres. ILIKE uses JavaScript's simple Unicode case
 * folding, as Postgres does under a UTF-8 locale (under the C locale it folds ASCII letters only).
 */
function likeTest(pattern: string, caseInsensitive: boolean): TextTest {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '\\') source += escapeRegExp(pattern[++i] ?? '');
    else if (char === '%') source += '.*';
    else if (char === '_') source += '.';
    else source += escapeRegExp(char);
  }
  const regex = new RegExp(`^${source}$`, caseInsensitive ? 'isu' : 'su');
  return (text) => regex.test(text);
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}
