import { TypeOid } from '../source/values.js';

/** Dates and timestamps in Postgres's ISO text form, read into comparable instants for `where`. */
/** Days since 1970-01-01 and microseconds into the day; ±Infinity days for ±infinity. */
export interface Instant {
  days: number;
  micros: number;
}

/** A wall-clock date and time, with the offset east of UTC it was written with (0 if none). */
export interface DateTime extends Instant {
  offsetSeconds: number;
}

const MICROS_PER_DAY = 86_400_000_000;
const INFINITY: DateTime = { days: Number.POSITIVE_INFINITY, micros: 0, offsetSeconds: 0 };
const MINUS_INFINITY: DateTime = { days: Number.NEGATIVE_INFINITY, micros: 0, offsetSeconds: 0 };

/**
 * As a cast to the column's type does: a date drops the time, a timestamp drops the offset (wall
 * clock), a timestamptz applies it. walhook does not know the session time zone, so a literal with
 * no offset compared to a timestamptz is read as UTC.
 */
export function instantOf(value: DateTime | null, typeOid: number): Instant | null {
  if (value === null) return null;
  if (typeOid === TypeOid.date) return { days: value.days, micros: 0 };
  const micros =
    typeOid === TypeOid.timestamp ? value.micros : value.micros - value.offsetSeconds * 1_000_000;
  if (micros >= 0 && micros < MICROS_PER_DAY) return { days: value.days, micros };
  const carry = Math.floor(micros / MICROS_PER_DAY);
  return { days: value.days + carry, micros: micros - carry * MICROS_PER_DAY };
}

/** Year-month-day, then optionally a time (`T` or space), an offset (`Z`, `+05`, `+0530`, `-05:53:28`) and an era. */
const DATE_TIME =
  /^\s*(\d{1,7})-(\d{1,2})-(\d{1,2})(?:[t ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(z|([+-])(\d{1,2})(?::?(\d{2})(?::?(\d{2}))?)?)?)?(?:\s*(bc|ad))?\s*$/i;

/**
 * Reads the ISO forms: what Postgres prints under DateStyle ISO (`2026-11-28 12:40:00.5+05:30`,
 * `0044-03-15 BC`, `infinity`) and ISO 8601 literals (`2026-11-28T07:10:00Z`).
 */
export function parseDateTime(text: string): DateTime | null {
  const match = DATE_TIME.exec(text);
  if (!match) {
    const word = text.trim().toLowerCase();
    if (word === 'infinity' || word === '+infinity') return INFINITY;
    return word === '-infinity' ? MINUS_INFINITY : null;
  }
  const [, y, mo, d, h, mi, s, fraction, , sign, oh, om, os, era] = match;
  const month = Number(mo);
  const day = Number(d);
  let year = Number(y);
  if (year < 1 || month < 1 || month > 12 || day < 1) return null;
  if (era?.toLowerCase() === 'bc') year = 1 - year;
  if (day > daysInMonth(year, month)) return null;
  const [hour, minute, second] = [Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0)];
  const micros = fraction === undefined ? 0 : fractionMicros(fraction);
  // Postgres accepts 24:00:00 and a leap second, both rolling over into the next day or minute.
  if (hour > 24 || minute > 59 || second > 60 || (hour === 24 && minute + second + micros > 0)) return null;
  const offsetHours = Number(oh ?? 0);
  const offsetMinutes = Number(om ?? 0);
  if (offsetHours > 15 || offsetMinutes > 59 || Number(os ?? 0) > 59) return null;
  const offset = (offsetHours * 60 + offsetMinutes) * 60 + Number(os ?? 0);
  return {
    days: daysFromCivil(year, month, day),
    micros: ((hour * 60 + minute) * 60 + second) * 1_000_000 + micros,
    offsetSeconds: sign === '-' ? -offset : offset,
  };
}

function fractionMicros(digits: string): number {
  if (digits.length <= 6) return Number(digits.padEnd(6, '0'));
  // Input beyond microseconds is rounded with rint(), which breaks ties to even.
  const scaled = Number(`0.${digits}`) * 1_000_000;
  const rounded = Math.round(scaled);
  return rounded - scaled === 0.5 && rounded % 2 === 1 ? rounded - 1 : rounded;
}

/** Proleptic Gregorian, astronomical years (1 BC is year 0), as Postgres counts. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  return (
    era * 146_097 +
    yearOfEra * 365 +
    Math.floor(yearOfEra / 4) -
    Math.floor(yearOfEra / 100) +
    dayOfYear -
    719_468
  );
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

export function compareInstants(a: Instant | null, b: Instant | null): number | undefined {
  if (a === null || b === null) return undefined;
  if (a.days !== b.days) return a.days < b.days ? -1 : 1;
  return a.micros - b.micros;
}
