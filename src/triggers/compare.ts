import { TypeOid } from '../source/values.js';
import { compareInstants, instantOf, parseDateTime } from './datetime.js';
import type { WhereLiteral } from './where-schema.js';

/**
 * Orders a column value, given as its text form and type, against one literal the way Postgres
 * orders `column <op> literal::column_type`: negative, zero or positive, or `undefined` when the
 * literal cannot be read as the column's type (Postgres would raise; a filter just says no).
 */
export type Comparator = (text: string, typeOid: number) => number | undefined;

/**
 * Compiles one literal. The column's type is only known per row, so each reading of the literal
 * (as a decimal, a float, a timestamp...) is made the first time a column of that type needs it.
 */
export function comparatorFor(literal: WhereLiteral): Comparator {
  const decimal = once(() => literalDecimal(literal));
  const float8 = once(() => literalFloat(literal, (value) => value));
  const float4 = once(() => literalFloat(literal, Math.fround));
  const bool = once(() =>
    typeof literal === 'string' ? parseBool(literal) : typeof literal === 'boolean' ? literal : null,
  );
  const dateTime = once(() => (typeof literal === 'string' ? parseDateTime(literal) : null));
  const date = once(() => instantOf(dateTime(), TypeOid.date));
  const timestamp = once(() => instantOf(dateTime(), TypeOid.timestamp));
  const timestamptz = once(() => instantOf(dateTime(), TypeOid.timestamptz));
  const uuid = once(() => (typeof literal === 'string' ? canonicalUuid(literal) : null));
  const text = String(literal);
  const bpchar = once(() => trimTrailingSpaces(text));

  return (column, typeOid) => {
    switch (typeOid) {
      // Integers and numeric compare exactly, as Postgres promotes both sides to numeric.
      case TypeOid.int2:
      case TypeOid.int4:
      case TypeOid.int8:
      case TypeOid.numeric:
        return compareDecimals(parseDecimal(column), decimal());
      // A float column's text is the shortest form that reads back as the same float, so reading
      // it is exact; comparing as floats is what makes `x = 0.1` true for a float4 0.1.
      case TypeOid.float4:
        return compareFloats(Math.fround(Number(column)), float4());
      case TypeOid.float8:
        return compareFloats(Number(column), float8());
      case TypeOid.bool: {
        const value = bool();
        return value === null ? undefined : Number(column === 't') - Number(value);
      }
      case TypeOid.date:
      case TypeOid.timestamp:
      case TypeOid.timestamptz: {
        const value =
          typeOid === TypeOid.date ? date() : typeOid === TypeOid.timestamp ? timestamp() : timestamptz();
        return compareInstants(instantOf(parseDateTime(column), typeOid), value);
      }
      case TypeOid.uuid: {
        const value = uuid();
        return value === null ? undefined : compareCodePoints(column.toLowerCase(), value);
      }
      // char(n) pads with spaces, and Postgres ignores trailing spaces when comparing it.
      case TypeOid.bpchar:
        return compareCodePoints(trimTrailingSpaces(column), bpchar());
      default:
        return compareCodePoints(column, text);
    }
  };
}

function once<T>(read: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = read();
      done = true;
    }
    return value;
  };
}

/** A decimal as sign × 0.digits × 10^exponent, digits without leading or trailing zeros. */
interface Decimal {
  /** Postgres's order of specials: -Infinity < finite < Infinity < NaN (and NaN = NaN). */
  rank: -2 | 0 | 2 | 3;
  sign: -1 | 0 | 1;
  digits: string;
  exponent: number;
}

const ZERO: Decimal = { rank: 0, sign: 0, digits: '', exponent: 0 };

function literalDecimal(literal: WhereLiteral): Decimal | null {
  if (typeof literal === 'boolean') return null;
  return parseDecimal(typeof literal === 'string' ? literal : literal.toString());
}

/** Reads numeric input syntax (surrounding spaces, sign, fraction, exponent, NaN, [-]Infinity or inf). */
function parseDecimal(text: string): Decimal | null {
  let i = 0;
  let end = text.length;
  while (i < end && text.charCodeAt(i) === 32) i++;
  while (end > i && text.charCodeAt(end - 1) === 32) end--;
  let sign: 1 | -1 = 1;
  const first = text.charCodeAt(i);
  if (first === 45 || first === 43) {
    if (first === 45) sign = -1;
    i++;
  }
  const intStart = i;
  i = skipDigits(text, i, end);
  const intEnd = i;
  let fracStart = i;
  if (i < end && text.charCodeAt(i) === 46) {
    fracStart = i + 1;
    i = skipDigits(text, fracStart, end);
  }
  const fracEnd = i;
  if (intEnd === intStart && fracEnd <= fracStart) return parseSpecial(text.slice(intStart, end), sign);
  let exponent = 0;
  const e = text.charCodeAt(i);
  if (i < end && (e === 101 || e === 69)) {
    let expSign = 1;
    const s = text.charCodeAt(++i);
    if (s === 45 || s === 43) {
      if (s === 45) expSign = -1;
      i++;
    }
    const expStart = i;
    i = skipDigits(text, i, end);
    // Postgres caps numeric exponents far below nine digits, so longer ones are out of range anyway.
    if (i === expStart || i - expStart > 9) return null;
    exponent = expSign * Number(text.slice(expStart, i));
  }
  if (i !== end) return null;
  const all =
    fracEnd > fracStart
      ? text.slice(intStart, intEnd) + text.slice(fracStart, fracEnd)
      : text.slice(intStart, intEnd);
  let lead = 0;
  while (lead < all.length && all.charCodeAt(lead) === 48) lead++;
  if (lead === all.length) return ZERO;
  let trail = all.length;
  while (all.charCodeAt(trail - 1) === 48) trail--;
  return { rank: 0, sign, digits: all.slice(lead, trail), exponent: intEnd - intStart - lead + exponent };
}

function parseSpecial(word: string, sign: 1 | -1): Decimal | null {
  const lower = word.toLowerCase();
  if (lower === 'nan') return { ...ZERO, rank: 3 };
  if (lower === 'infinity' || lower === 'inf') return { ...ZERO, rank: sign === 1 ? 2 : -2 };
  return null;
}

function skipDigits(text: string, from: number, end: number): number {
  let i = from;
  while (i < end) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) break;
    i++;
  }
  return i;
}

function compareDecimals(a: Decimal | null, b: Decimal | null): number | undefined {
  if (a === null || b === null) return undefined;
  if (a.rank !== b.rank) return a.rank - b.rank;
  if (a.rank !== 0) return 0;
  if (a.sign !== b.sign) return a.sign - b.sign;
  if (a.sign === 0) return 0;
  if (a.exponent !== b.exponent) return a.exponent > b.exponent ? a.sign : -a.sign;
  // Equal exponents: digit strings order as fractions, a prefix being the smaller.
  if (a.digits === b.digits) return 0;
  return a.digits > b.digits ? a.sign : -a.sign;
}

/** A literal as a float of the column's precision; null where Postgres reports "out of range". */
function literalFloat(literal: WhereLiteral, round: (value: number) => number): number | null {
  if (typeof literal === 'boolean') return null;
  if (typeof literal === 'number') return round(literal);
  const decimal = literalDecimal(literal);
  if (decimal === null) return null;
  if (decimal.rank === 3) return Number.NaN;
  if (decimal.rank !== 0) return decimal.rank * Number.POSITIVE_INFINITY;
  // Number() rounds a decimal string correctly, as strtod does for float8in.
  const value = round(Number(typeof literal === 'string' ? literal.trim() : literal));
  if (!Number.isFinite(value) || (value === 0 && decimal.sign !== 0)) return null;
  return value;
}

/** Postgres's float order: NaN equals NaN and sorts above everything; -0 equals 0. */
function compareFloats(a: number, b: number | null): number | undefined {
  if (b === null) return undefined;
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** parse_bool: case-insensitive prefixes of true/false/yes/no, on, off, 1, 0. */
function parseBool(text: string): boolean | null {
  const word = text.trim().toLowerCase();
  if (word === '') return null;
  if ('true'.startsWith(word) || 'yes'.startsWith(word) || word === 'on' || word === '1') return true;
  if ('false'.startsWith(word) || 'no'.startsWith(word) || word === 'of' || word === 'off' || word === '0') {
    return false;
  }
  return null;
}

/** uuid input accepts upper case, braces and missing hyphens; the column's text is the canonical form. */
function canonicalUuid(text: string): string | null {
  let hex = text.trim().toLowerCase();
  if (hex.startsWith('{') && hex.endsWith('}')) hex = hex.slice(1, -1);
  hex = hex.replaceAll('-', '');
  if (!/^[0-9a-f]{32}$/.test(hex)) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function trimTrailingSpaces(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 32) end--;
  return end === text.length ? text : text.slice(0, end);
}

/**
 * Code point order, which is UTF-8 byte order and so the "C" collation's (and Haskell's Text order, which
 * Kriti sorts keys by). JavaScript's `<` compares UTF-16 units, which puts an astral character (a
 * surrogate pair) below U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  return unit >= 0xd800 && unit <= 0xdfff ? unit + 0x2800 : unit;
}
