/** The units a duration takes: days, hours, minutes. */
const DURATION_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };

/** What a duration looks like, for messages that refuse one. */
export const DURATION_EXAMPLES = '7d, 12h or 30m';

/**
 * `7d`, `12h`, `30m` in milliseconds; null for anything else. One whole number and one unit, as
 * `walhook dlq --older-than` and `invocation_log.retention` take them.
 */
export function parseDuration(text: string): number | null {
  const match = /^(\d+)([dhm])$/.exec(text.trim());
  if (!match) return null;
  const ms = Number(match[1]) * (DURATION_MS[match[2] as string] as number);
  return Number.isSafeInteger(ms) ? ms : null;
}
