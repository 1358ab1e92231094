import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TypeOid } from '../../src/source/values.js';
import { comparatorFor } from '../../src/triggers/compare.js';
import { type ColumnValue, compileWhere, type RowAccessor, whereColumns } from '../../src/triggers/where.js';
import { type WhereExpression, type WhereLiteral, whereSchema } from '../../src/triggers/where-schema.js';

const TEXT = 25;
const VARCHAR = 1043;

function issues(value: unknown): { path: PropertyKey[]; message: string }[] {
  const result = whereSchema.safeParse(value);
  assert.equal(result.success, false, 'expected the schema to reject the value');
  return result.error?.issues.map(({ path, message }) => ({ path, message })) ?? [];
}

/** The sign of a comparison, or undefined when the literal is unreadable for the type. */
function order(text: string, typeOid: number, literal: WhereLiteral): number | undefined {
  const result = comparatorFor(literal)(text, typeOid);
  return result === undefined ? undefined : Math.sign(result);
}

function row(values: Record<string, [string | null, number]>): RowAccessor {
  return (column) => {
    const value = values[column];
    return value ? ({ text: value[0], typeOid: value[1] } satisfies ColumnValue) : undefined;
  };
}

function matches(expr: unknown, rows: { new?: RowAccessor | null; old?: RowAccessor | null }): boolean {
  const parsed = whereSchema.parse(expr);
  return compileWhere(parsed)({ new: rows.new ?? null, old: rows.old ?? null });
}

describe('whereSchema', () => {
  test('accepts the documented shape and returns it unchanged', () => {
    const expr = {
      new: { status: { _eq: 'paid' }, amount: { _gt: 100n } },
      _or: [{ old: { status: { _neq: 'paid' } } }, { new: { vip: { _eq: true } } }],
      _not: {
        old: { _and: [], _or: [{ x: { _in: [1n, 'a', 1.5, false] } }], _not: { y: { _is_null: true } } },
      },
      _and: [],
    };
    assert.deepEqual(whereSchema.parse(expr), expr);
    assert.deepEqual(whereSchema.parse({}), {});
  });

  test('an unknown operator names the allowed ones at its exact path', () => {
    assert.deepEqual(issues({ new: { status: { _eqq: 'paid' } } }), [
      {
        path: ['new', 'status', '_eqq'],
        message:
          'unknown operator _eqq (expected one of _eq, _neq, _gt, _gte, _lt, _lte, _in, _nin, _is_null, _like, _ilike)',
      },
    ]);
  });

  test('reports every problem, each at its own path', () => {
    const found = issues({
      new: { amount: { _in: 5n }, name: { _like: 3 }, gone: { _is_null: 'yes' } },
      old: 'x',
      _or: [{ neww: {} }, { _and: {} }],
      _not: [],
    });
    assert.deepEqual(found, [
      { path: ['new', 'amount', '_in'], message: 'expected an array of literals' },
      { path: ['new', 'name', '_like'], message: 'expected a LIKE pattern string' },
      { path: ['new', 'gone', '_is_null'], message: 'expected true or false' },
      { path: ['old'], message: 'expected an object mapping column names to operators' },
      {
        path: ['_or', 0, 'neww'],
        message:
          'unknown key neww (expected one of new, old, _and, _or, _not; conditions on columns go under new or old)',
      },
      { path: ['_or', 1, '_and'], message: 'expected an array of conditions' },
      { path: ['_not'], message: 'expected an object with new, old, _and, _or or _not' },
    ]);
  });

  test('null literals point to _is_null, inside lists too', () => {
    assert.deepEqual(issues({ new: { a: { _eq: null }, b: { _nin: [1n, null] } } }), [
      { path: ['new', 'a', '_eq'], message: 'null is not a literal; use _is_null: true to match NULL' },
      { path: ['new', 'b', '_nin', 1], message: 'null is not a literal; use _is_null: true to match NULL' },
    ]);
  });

  test('rejects non-literals, operators used as columns, bad column values and nested keys', () => {
    assert.deepEqual(issues({ new: { a: { _eq: [1n] }, b: { _gt: { x: 1 } }, _eq: 1n, c: 5n } }), [
      {
        path: ['new', 'a', '_eq'],
        message: 'expected a literal, got a list (_in matches any of several values)',
      },
      { path: ['new', 'b', '_gt'], message: 'expected a literal (a string, number or boolean)' },
      { path: ['new', '_eq'], message: '_eq is an operator, not a column: write { <column>: { _eq: ... } }' },
      { path: ['new', 'c'], message: 'expected an object of operators for column c, e.g. { _eq: ... }' },
    ]);
    assert.deepEqual(issues({ new: { _not: { _or: [{ a: { _lt: 1n } }, 7] } } }), [
      { path: ['new', '_not', '_or', 1], message: 'expected an object mapping column names to operators' },
    ]);
    assert.deepEqual(issues(null), [
      { path: [], message: 'expected an object with new, old, _and, _or or _not' },
    ]);
  });

  test('a LIKE pattern cannot end with an unescaped backslash', () => {
    assert.deepEqual(issues({ new: { a: { _like: 'ab\\' } } }), [
      { path: ['new', 'a', '_like'], message: 'LIKE pattern must not end with the escape character \\' },
    ]);
    assert.equal(whereSchema.safeParse({ new: { a: { _ilike: 'ab\\\\' } } }).success, true);
  });
});

describe('comparatorFor: numbers', () => {
  test('integers and numeric compare as exact decimals', () => {
    assert.equal(order('9007199254740993', TypeOid.int8, 9007199254740992n), 1);
    assert.equal(order('9007199254740992', TypeOid.int8, 9007199254740993n), -1);
    assert.equal(order('9007199254740993', TypeOid.int8, '9007199254740993'), 0);
    assert.equal(order('-9223372036854775808', TypeOid.int8, -9223372036854775807n), -1);
    assert.equal(
      order(
        '12345678901234567890123456789012345678901.5',
        TypeOid.numeric,
        '12345678901234567890123456789012345678901.49',
      ),
      1,
    );
    assert.equal(order('0.1', TypeOid.numeric, 0.1), 0);
    assert.equal(order('100', TypeOid.int4, 99.5), 1);
    assert.equal(order('-5', TypeOid.int2, -4n), -1);
    assert.equal(order('-5', TypeOid.int2, -6n), 1);
  });

  test('signs, leading zeros, trailing zeros, exponents and zero', () => {
    assert.equal(order('1.50', TypeOid.numeric, ' +001.5 '), 0);
    assert.equal(order('150000000000000000000', TypeOid.numeric, '1.5e+20'), 0);
    assert.equal(order('0.00015', TypeOid.numeric, '1.5E-4'), 0);
    assert.equal(order('0.00015', TypeOid.numeric, '.00016'), -1);
    assert.equal(order('0', TypeOid.numeric, '-0.000'), 0);
    assert.equal(order('0', TypeOid.int4, -1n), 1);
    assert.equal(order('-0.5', TypeOid.numeric, 0n), -1);
    assert.equal(order('-10', TypeOid.numeric, '-9.99'), -1);
    assert.equal(order('12', TypeOid.numeric, '1.2e1'), 0);
    assert.equal(order('12', TypeOid.numeric, '123e-1'), -1);
  });

  test('NaN equals NaN and sorts above Infinity; -Infinity sorts below everything', () => {
    assert.equal(order('NaN', TypeOid.numeric, 'NaN'), 0);
    assert.equal(order('NaN', TypeOid.numeric, 'Infinity'), 1);
    assert.equal(order('Infinity', TypeOid.numeric, '1e100'), 1);
    assert.equal(order('-Infinity', TypeOid.numeric, '-1e100'), -1);
    assert.equal(order('123', TypeOid.numeric, 'nan'), -1);
    assert.equal(order('Infinity', TypeOid.numeric, 'inf'), 0);
    assert.equal(order('-Infinity', TypeOid.numeric, Number.NEGATIVE_INFINITY), 0);
    assert.equal(order('NaN', TypeOid.float8, Number.NaN), 0);
    assert.equal(order('NaN', TypeOid.float8, 'Infinity'), 1);
    assert.equal(order('-Infinity', TypeOid.float4, '-inf'), 0);
  });

  test('floats compare as floats of the column precision, -0 equal to 0', () => {
    assert.equal(order('-0', TypeOid.float8, 0n), 0);
    assert.equal(order('1.5e+20', TypeOid.float8, '150000000000000000000'), 0);
    assert.equal(order('1e-300', TypeOid.float8, 0), 1);
    assert.equal(order('0.1', TypeOid.float4, 0.1), 0);
    assert.equal(order('0.1', TypeOid.float8, '0.10000000000000001'), 0);
    // float8 cannot hold 2^53 + 1: the literal rounds to the column's value, as `::float8` does.
    assert.equal(order('9007199254740992', TypeOid.float8, 9007199254740993n), 0);
    assert.equal(order('3.4028235e+38', TypeOid.float4, '1e39'), undefined);
    assert.equal(order('1', TypeOid.float8, '1e-400'), undefined);
  });

  test('unreadable literals make the comparison undefined', () => {
    assert.equal(order('1', TypeOid.int4, true), undefined);
    assert.equal(order('1', TypeOid.int4, 'one'), undefined);
    assert.equal(order('1', TypeOid.numeric, '1e'), undefined);
    assert.equal(order('1', TypeOid.numeric, '.'), undefined);
    assert.equal(order('1', TypeOid.numeric, ''), undefined);
    assert.equal(order('1', TypeOid.float8, '1.2.3'), undefined);
    assert.equal(order('1', TypeOid.float8, false), undefined);
  });
});

describe('comparatorFor: other types', () => {
  test('bool reads booleans and the spellings Postgres accepts; false < true', () => {
    assert.equal(order('t', TypeOid.bool, true), 0);
    assert.equal(order('f', TypeOid.bool, true), -1);
    assert.equal(order('t', TypeOid.bool, false), 1);
    for (const word of ['t', 'TRUE', 'tr', ' yes ', 'y', 'on', '1'])
      assert.equal(order('t', TypeOid.bool, word), 0, word);
    for (const word of ['f', 'false', 'No', 'off', 'of', '0'])
      assert.equal(order('f', TypeOid.bool, word), 0, word);
    for (const literal of ['o', 'maybe', '', 1n, 0])
      assert.equal(order('t', TypeOid.bool, literal), undefined);
  });

  test('timestamptz compares instants across offsets', () => {
    const tz = TypeOid.timestamptz;
    assert.equal(order('2026-11-28 12:40:00.123456+05:30', tz, '2026-11-28T07:10:00.123456Z'), 0);
    assert.equal(order('2026-11-28 12:40:00.123456+05:30', tz, '2026-11-28T07:10:00.123457Z'), -1);
    assert.equal(order('2026-11-28 12:40:00+05:30', tz, '2026-11-28 02:10:00-0500'), 0);
    assert.equal(order('2026-11-28 00:10:00+05:30', tz, '2026-11-27T18:40:00'), 0);
    assert.equal(order('1800-01-01 00:00:00+05:53:28', tz, '1799-12-31 18:06:32+00'), 0);
    assert.equal(order('infinity', tz, '294276-12-31 23:59:59Z'), 1);
    assert.equal(order('-infinity', tz, '-infinity'), 0);
    assert.equal(order('2026-01-01 00:00:00+00', tz, 'Infinity'), -1);
  });

  test('timestamp compares wall clock and ignores a literal offset', () => {
    const ts = TypeOid.timestamp;
    assert.equal(order('2026-11-28 12:40:00.5', ts, '2026-11-28T12:40:00.5+05:30'), 0);
    // Beyond microseconds the input rounds half to even, as Postgres's rint() does.
    assert.equal(order('2026-11-28 12:40:00.5', ts, '2026-11-28 12:40:00.4999995'), 0);
    assert.equal(order('2026-11-28 12:40:00.499998', ts, '2026-11-28 12:40:00.4999985'), 0);
    assert.equal(order('2026-11-28 12:40:00', ts, '2026-11-28 12:40:00.0000005'), 0);
    assert.equal(order('2026-11-28 12:40:00.000002', ts, '2026-11-28 12:40:00.0000015'), 0);
    assert.equal(order('2026-11-29 00:00:00', ts, '2026-11-28 24:00:00'), 0);
    assert.equal(order('0044-03-15 12:00:00 BC', ts, '0001-01-01'), -1);
    assert.equal(order('0001-12-31 23:59:59.999999 BC', ts, '0001-01-01 00:00:00'), -1);
    assert.equal(order('0044-03-15 12:00:00 BC', ts, '0044-03-15 12:00:00 bc'), 0);
  });

  test('date drops a literal time; BC, leap days and infinity', () => {
    const date = TypeOid.date;
    assert.equal(order('2026-11-28', date, '2026-11-28 23:59:59+14'), 0);
    assert.equal(order('2024-02-29', date, '2024-03-01'), -1);
    assert.equal(order('0044-03-15 BC', date, '0044-03-15'), -1);
    assert.equal(order('0001-01-01 BC', date, '0001-12-31 BC'), -1);
    assert.equal(order('infinity', date, '5874897-12-31'), 1);
    for (const bad of [
      '2023-02-29',
      '2026-13-01',
      '0000-01-01',
      '2026-11-28 25:00',
      'yesterday',
      20261128n,
    ]) {
      assert.equal(order('2026-11-28', date, bad), undefined, String(bad));
    }
  });

  test('uuid ignores case, braces and hyphens; text and varchar order by code point', () => {
    const id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
    assert.equal(order(id, TypeOid.uuid, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'), 0);
    assert.equal(order(id, TypeOid.uuid, '{a0eebc999c0b4ef8bb6d6bb9bd380a11}'), 0);
    assert.equal(order(id, TypeOid.uuid, 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), -1);
    assert.equal(order(id, TypeOid.uuid, 'not-a-uuid'), undefined);
    assert.equal(order('abc', TEXT, 'abd'), -1);
    assert.equal(order('42', VARCHAR, 42n), 0);
    assert.equal(order('true', TEXT, true), 0);
    assert.equal(order('😀', TEXT, '\uff01'), 1);
    assert.equal(order('\u{1f600}', TEXT, '\u{1f601}'), -1);
    assert.equal(order('ab', TEXT, 'abc'), -1);
  });

  test('bpchar ignores trailing spaces', () => {
    assert.equal(order('ab  ', TypeOid.bpchar, 'ab'), 0);
    assert.equal(order('ab  ', TypeOid.bpchar, 'ab '), 0);
    assert.equal(order('ab', TypeOid.bpchar, 'ab c'), -1);
    assert.equal(order('ab  ', TEXT, 'ab'), 1);
  });
});

describe('compileWhere', () => {
  const paid = row({ status: ['paid', TEXT], amount: ['150.00', TypeOid.numeric], vip: ['f', TypeOid.bool] });
  const open = row({ status: ['open', TEXT], amount: ['50', TypeOid.numeric], vip: ['t', TypeOid.bool] });

  test('the documented example', () => {
    const expr = {
      new: { status: { _eq: 'paid' }, amount: { _gt: 100n } },
      _or: [{ old: { status: { _neq: 'paid' } } }, { new: { vip: { _eq: true } } }],
    };
    assert.equal(matches(expr, { new: paid, old: open }), true);
    assert.equal(matches(expr, { new: paid, old: paid }), false);
    assert.equal(matches(expr, { new: paid, old: null }), false);
    assert.equal(matches(expr, { new: open, old: paid }), false);
  });

  test('each comparison operator', () => {
    const r = { new: row({ n: ['10', TypeOid.int4] }) };
    const cases: [Record<string, unknown>, boolean][] = [
      [{ _eq: 10n }, true],
      [{ _eq: 11n }, false],
      [{ _neq: 11n }, true],
      [{ _neq: 10n }, false],
      [{ _gt: 9n }, true],
      [{ _gt: 10n }, false],
      [{ _gte: 10n }, true],
      [{ _gte: 10.5 }, false],
      [{ _lt: 10.5 }, true],
      [{ _lt: 10n }, false],
      [{ _lte: 10n }, true],
      [{ _lte: 9n }, false],
      [{ _in: [1n, '10', 3n] }, true],
      [{ _in: [1n, 2n] }, false],
      [{ _in: [] }, false],
      [{ _nin: [1n, 2n] }, true],
      [{ _nin: [1n, 10n] }, false],
      [{ _nin: [] }, true],
      [{ _is_null: false }, true],
      [{ _is_null: true }, false],
      [{ _gt: 5n, _lt: 20n }, true],
      [{ _gt: 5n, _lt: 8n }, false],
      [{}, true],
    ];
    for (const [ops, expected] of cases)
      assert.equal(
        matches({ new: { n: ops } }, r),
        expected,
        JSON.stringify(ops, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)),
      );
  });

  test('NULL matches _is_null only; an unavailable column matches nothing, so _not of it holds', () => {
    const r = { new: row({ n: [null, TypeOid.int4] }), old: row({}) };
    for (const ops of [
      { _eq: 1n },
      { _neq: 1n },
      { _in: [1n] },
      { _nin: [1n] },
      { _like: '%' },
      { _is_null: false },
    ]) {
      assert.equal(matches({ new: { n: ops } }, r), false, Object.keys(ops)[0]);
    }
    assert.equal(matches({ new: { n: { _is_null: true } } }, r), true);
    assert.equal(matches({ new: { missing: { _is_null: true } } }, r), false);
    assert.equal(matches({ old: { n: { _is_null: true } } }, r), false);
    assert.equal(matches({ old: { n: { _is_null: false } } }, r), false);
    assert.equal(matches({ old: { _not: { n: { _eq: 1n } } } }, r), true);
    assert.equal(matches({ _not: { old: { n: { _eq: 1n } } } }, r), true);
  });

  test('a comparison with NULL is UNKNOWN, as in SQL: _not keeps it unknown, _or can still hold', () => {
    const r = { new: row({ n: [null, TypeOid.int4], m: ['1', TypeOid.int4] }) };
    assert.equal(matches({ new: { _not: { n: { _eq: 1n } } } }, r), false);
    assert.equal(matches({ _not: { new: { n: { _neq: 1n } } } }, r), false);
    assert.equal(matches({ new: { _or: [{ n: { _eq: 1n } }, { m: { _eq: 1n } }] } }, r), true);
    assert.equal(matches({ new: { _or: [{ n: { _eq: 1n } }, { n: { _is_null: true } }] } }, r), true);
    assert.equal(matches({ _not: { new: { n: { _eq: 1n }, m: { _eq: 2n } } } }, r), true);
    assert.equal(matches({ _not: { new: { _and: [{ n: { _eq: 1n } }, { m: { _eq: 1n } }] } } }, r), false);
    assert.equal(matches({ new: { _not: { _not: { n: { _eq: 1n } } } } }, r), false);
  });

  test('a row condition on a missing row is false, and _not of it true', () => {
    assert.equal(matches({ new: {} }, { old: open }), false);
    assert.equal(matches({ old: {} }, { old: open }), true);
    assert.equal(matches({ _not: { new: { status: { _eq: 'x' } } } }, { old: open }), true);
  });

  test('an unreadable literal is false for _neq and _nin too', () => {
    const r = { new: row({ n: ['10', TypeOid.int4] }) };
    assert.equal(matches({ new: { n: { _neq: 'ten' } } }, r), false);
    assert.equal(matches({ new: { n: { _nin: [1n, 'ten'] } } }, r), false);
    assert.equal(matches({ new: { n: { _in: ['ten', 10n] } } }, r), true);
  });

  test('_like and _ilike: %, _, escapes, regex characters, code points, newlines, padding', () => {
    const like = (text: string, pattern: string, op = '_like', typeOid = TEXT) =>
      matches({ new: { s: { [op]: pattern } } }, { new: row({ s: [text, typeOid] }) });
    assert.equal(like('paid', 'pa%'), true);
    assert.equal(like('paid', 'p_id'), true);
    assert.equal(like('paid', 'p_d'), false);
    assert.equal(like('PAID', 'pa%'), false);
    assert.equal(like('PAID', 'pa%', '_ilike'), true);
    assert.equal(like('ÄB', 'äb', '_ilike'), true);
    assert.equal(like('100%', '100\\%'), true);
    assert.equal(like('1000', '100\\%'), false);
    assert.equal(like('a_b', 'a\\_b'), true);
    assert.equal(like('axb', 'a\\_b'), false);
    assert.equal(like('a\\b', 'a\\\\b'), true);
    assert.equal(like('a.b(c)*', 'a.b(c)*'), true);
    assert.equal(like('axb(c)', 'a.b(c)*'), false);
    assert.equal(like('😀', '_'), true);
    assert.equal(like('line1\nline2', 'line1%2'), true);
    assert.equal(like('ab  ', 'ab', '_like', TypeOid.bpchar), false);
    assert.equal(like('ab  ', 'ab%', '_like', TypeOid.bpchar), true);
  });

  test('row-level and expression-level _and, _or and _not nest', () => {
    const expr = {
      new: {
        _or: [{ status: { _eq: 'paid' } }, { _and: [{ vip: { _eq: true } }, { amount: { _lt: 100n } }] }],
        _not: { amount: { _gt: 1000n } },
      },
      _and: [{ _not: { new: { status: { _eq: 'void' } } } }],
    };
    assert.equal(matches(expr, { new: paid }), true);
    assert.equal(matches(expr, { new: open }), true);
    assert.equal(matches(expr, { new: row({ status: ['open', TEXT], vip: ['f', TypeOid.bool] }) }), false);
    assert.equal(
      matches(expr, { new: row({ status: ['paid', TEXT], amount: ['5000', TypeOid.numeric] }) }),
      false,
    );
    assert.equal(matches({ _or: [] }, { new: paid }), false);
    assert.equal(matches({ _and: [] }, { new: paid }), true);
    assert.equal(matches({ new: { _or: [] } }, { new: paid }), false);
  });

  test('whereColumns lists the columns read from each image', () => {
    const expr = whereSchema.parse({
      new: { a: { _eq: 1n }, _or: [{ b: { _eq: 1n } }, { _not: { c: { _is_null: true } } }] },
      _and: [{ old: { a: { _eq: 1n } } }],
      _not: { _or: [{ old: { d: { _eq: 1n } } }, { new: { a: { _gt: 0n } } }] },
    } satisfies WhereExpression);
    assert.deepEqual(whereColumns(expr), { new: new Set(['a', 'b', 'c']), old: new Set(['a', 'd']) });
  });
});
