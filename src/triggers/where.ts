import { comparatorFor } from './compare.js';
import type { ColumnOperators, RowCondition, WhereExpression, WhereLiteral } from './where-schema.js';

/** A column's text form (`null` for SQL NULL) and type OID. */
export type ColumnValue = { text: string | null; typeOid: number };

/** `undefined` when the row image does not carry the column (not in the old key, unchanged TOAST). */
export type RowAccessor = (column: string) => ColumnValue | undefined;

/** The row after and before the change; `null` where the operation has none (`new` on DELETE). */
export type WhereRows = { new: RowAccessor | null; old: RowAccessor | null };

/**
 * SQL's three-valued logic, ordered so that AND is the minimum, OR the maximum and NOT the mirror
 * image: a comparison with NULL is UNKNOWN, and `_not` of UNKNOWN stays UNKNOWN, as in a WHERE clause.
 */
const FALSE = 0;
const UNKNOWN = 1;
const TRUE = 2;
type Truth = typeof FALSE | typeof UNKNOWN | typeof TRUE;
type Test<T> = (input: T) => Truth;

/**
 * Compiles a where expression once into closures, so matching a change walks no config. A change
 * matches when the expression is TRUE, as a row passes a WHERE clause. A condition on a row the
 * change lacks (`new` on DELETE), or an operator on a column its image does not carry, is FALSE
 * rather than UNKNOWN, so `_not` of it holds.
 */
export function compileWhere(expr: WhereExpression): (rows: WhereRows) => boolean {
  const test = compileExpression(expr);
  return (rows) => test(rows) === TRUE;
}

function compileExpression(expr: WhereExpression): Test<WhereRows> {
  const parts: Test<WhereRows>[] = [];
  if (expr.new) {
    const test = compileRow(expr.new);
    parts.push((rows) => (rows.new === null ? FALSE : test(rows.new)));
  }
  if (expr.old) {
    const test = compileRow(expr.old);
    parts.push((rows) => (rows.old === null ? FALSE : test(rows.old)));
  }
  if (expr._and) parts.push(all(expr._and.map(compileExpression)));
  if (expr._or) parts.push(some(expr._or.map(compileExpression)));
  if (expr._not) parts.push(not(compileExpression(expr._not)));
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
    let result: Truth = TRUE;
    for (const test of tests) {
      const truth = test(input);
      if (truth === FALSE) return FALSE;
      if (truth === UNKNOWN) result = UNKNOWN;
    }
    return result;
  };
}

/** As in Hasura, an empty `_or` is false (and an empty `_and` true). */
function some<T>(tests: Test<T>[]): Test<T> {
  return (input) => {
    let result: Truth = FALSE;
    for (const test of tests) {
      const truth = test(input);
      if (truth === TRUE) return TRUE;
      if (truth === UNKNOWN) result = UNKNOWN;
    }
    return result;
  };
}

function not<T>(test: Test<T>): Test<T> {
  return (input) => (TRUE - test(input)) as Truth;
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
  if (tests.length === 0) return () => TRUE;
  const test = all(tests);
  return (row) => {
    const value = row(column);
    return value === undefined ? FALSE : test(value);
  };
}

/** A test of a non-NULL value; a literal unreadable as the column's type makes it false. */
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
  const valueTests: Test<ColumnValue>[] = tests.map((test) => (value) => {
    if (value.text === null) return UNKNOWN;
    return test(value.text, value.typeOid) ? TRUE : FALSE;
  });
  if (ops._is_null !== undefined) {
    const wantNull = ops._is_null;
    valueTests.push((value) => ((value.text === null) === wantNull ? TRUE : FALSE));
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
