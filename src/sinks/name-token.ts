/** Characters a schema or table name keeps in a broker's name; every other UTF-8 byte becomes `%XX`. */
const SAFE_NAME = /^[A-Za-z0-9_-]+$/;

/**
 * A Postgres schema or table name as one token of a broker's subject, routing key or stream key, which
 * split names at `.` and give `*`, `>` or `#` a meaning: percent-encoding every byte outside
 * `A-Z a-z 0-9 _ -` (`.` and `%` included) keeps each name one token and the mapping reversible, and is
 * the same in every sink, so a consumer of several decodes names alike.
 */
export function nameToken(name: string): string {
  if (SAFE_NAME.test(name)) return name;
  return encodeURIComponent(name).replace(
    /[.!~*'()]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
