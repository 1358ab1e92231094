/**
 * Kriti's numbers without a double in between. Values hold numbers as `src/core/json.ts` reads them (a
 * double when it prints back as written, else a bigint or an ExactNumber), and Kriti's (Haskell's
 * Scientific) compares, inverts and prints them as exact decimals: so do these, on their digits.
 */
import { ExactNumber } from '../../core/json.js';
import { KritiFunctionError } from './errors.js';

export type KritiNumber = number | bigint | ExactNumber;

/**
 * A number as sign, significant digits and point: the value is `0.digits × 10^point`, `digits` has no
 * leading or trailing zeros ('' for zero). `exponent` is the power of ten of the digits as written
 * (`1.10` is 110e-2), which decides whether aeson prints it as an integer.
 */
interface Decimal {
  negative: boolean;
  digits: string;
  point: number;
  exponent: number;
}

const NUMBER_TEXT = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
/** Beyond this many zeros a number is written with an exponent rather than spelt out. */
const MAX_SPELT_ZEROS = 1024;

export function isNumber(value: unknown): value is KritiNumber {
  return (
    (typeof value === 'number' && Number.isFinite(value)) ||
    typeof value === 'bigint' ||
    value instanceof ExactNumber
  );
}

function textOf(value: KritiNumber): string {
  return typeof value === 'object' ? value.text : String(value);
}

function decimalOf(value: KritiNumber): Decimal {
  const match = NUMBER_TEXT.exec(textOf(value));
  if (match === null) throw new KritiFunctionError(`not a number: ${textOf(value)}`);
  const [, sign, whole = '', fraction = '', power = '0'] = match;
  const exponent = Number(power) - fraction.length;
  const coefficient = (whole + fraction).replace(/^0+/, '');
  if (coefficient === '') return { negative: false, digits: '', point: 0, exponent };
  const digits = coefficient.replace(/0+$/, '');
  return { negative: sign === '-', digits, point: exponent + coefficient.length, exponent };
}

/** The JSON value of a number's text, as `parseJson` would read it. */
export function numberFromText(text: string): KritiNumber {
  const value = Number(text);
  if (String(value) === text) return value;
  if (/^-?\d+$/.test(text) && text !== '-0') return BigInt(text);
  return new ExactNumber(text);
}

/** Orders two numbers by their exact values. */
export function compareNumbers(a: KritiNumber, b: KritiNumber): number {
  // Doubles that print as written order alike as their decimals do.
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  const x = decimalOf(a);
  const y = decimalOf(b);
  const sx = x.digits === '' ? 0 : x.negative ? -1 : 1;
  const sy = y.digits === '' ? 0 : y.negative ? -1 : 1;
  if (sx !== sy || sx === 0) return Math.sign(sx - sy);
  let magnitude = Math.sign(x.point - y.point);
  if (magnitude === 0) magnitude = x.digits < y.digits ? -1 : x.digits > y.digits ? 1 : 0;
  return sx * magnitude;
}

export function isZero(value: KritiNumber): boolean {
  return decimalOf(value).digits === '';
}

/** The number as an array index when it is an integer (1.0 is), else undefined. */
export function integerOf(value: KritiNumber): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  const { negative, digits, point } = decimalOf(value);
  if (digits.length > point) return undefined;
  // Past the safe range no array reaches it; any out-of-range index does.
  const magnitude = point > 16 ? Number.MAX_SAFE_INTEGER : Number(digits.padEnd(point, '0') || '0');
  return negative ? -magnitude : magnitude;
}

/**
 * The number as aeson writes it, which is how Kriti renders a number inside a string: an integer as
 * written (digits times its power of ten) spelt out, anything else as Scientific's "generic" format
 * (trailing zeros dropped, `1.0e-2` below 0.1, an exponent from 10^7 up).
 */
export function aesonNumberText(value: KritiNumber): string {
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 1e21) return String(value);
  const { negative, digits, point, exponent } = decimalOf(value);
  const sign = negative ? '-' : '';
  if (exponent >= 0 && exponent <= MAX_SPELT_ZEROS) {
    return digits === '' ? '0' : sign + digits.padEnd(point, '0');
  }
  if (digits === '') return '0.0';
  if (point < 0 || point > 7) {
    const rest = digits.length > 1 ? digits.slice(1) : '0';
    return `${sign}${digits[0]}.${rest}e${point - 1}`;
  }
  if (point === 0) return `${sign}0.${digits}`;
  const whole = digits.slice(0, point).padEnd(point, '0');
  return `${sign}${whole}.${digits.slice(point) || '0'}`;
}

/** 1/x exactly; Kriti (Scientific) fails on a reciprocal without a finite decimal, and so does this. */
export function reciprocal(value: KritiNumber): KritiNumber {
  const { negative, digits, point } = decimalOf(value);
  if (digits === '') throw new KritiFunctionError('division by zero');
  const coefficient = BigInt(digits);
  let rest = coefficient;
  let twos = 0;
  let fives = 0;
  while (rest % 2n === 0n) {
    rest /= 2n;
    twos++;
  }
  while (rest % 5n === 0n) {
    rest /= 5n;
    fives++;
  }
  if (rest !== 1n) throw new KritiFunctionError(`1/${textOf(value)} has no exact decimal value`);
  const k = Math.max(twos, fives);
  const quotient = (10n ** BigInt(k) / coefficient).toString();
  return numberFromText(spell(negative, quotient, digits.length - point - k));
}

/** `digits × 10^exponent` as JSON number text, spelt out unless the exponent is far off. */
function spell(negative: boolean, digits: string, exponent: number): string {
  const sign = negative ? '-' : '';
  if (exponent >= 0)
    return exponent <= MAX_SPELT_ZEROS
      ? sign + digits + '0'.repeat(exponent)
      : `${sign}${digits}e${exponent}`;
  if (-exponent > MAX_SPELT_ZEROS) return `${sign}${digits}e${exponent}`;
  const whole = digits.length + exponent;
  if (whole > 0) return `${sign}${digits.slice(0, whole)}.${digits.slice(whole)}`;
  return `${sign}0.${'0'.repeat(-whole)}${digits}`;
}
