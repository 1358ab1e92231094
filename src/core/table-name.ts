/** A table as Postgres names it: identifiers after case folding and quote removal, without quoting. */
export interface TableName {
  readonly schema: string;
  readonly name: string;
}

/** What SQL (and a config file) takes unquoted and leaves as it is: anything else needs double quotes. */
const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_$]*$/;

/**
 * The `table:` line that names `table` in a config file: `public` left out, identifiers that would fold
 * to lower case or not parse double-quoted, and the whole value single-quoted when it holds a double
 * quote, since YAML takes a leading `"` as its own quoting and drops it.
 */
export function tableLine(table: TableName): string {
  const text = tableText(table);
  return `table: ${text.includes('"') ? `'${text.replaceAll("'", "''")}'` : text}`;
}

/** The value of that line as a string: what a config's `table` key must hold to name `table`. */
export function tableText(table: TableName): string {
  const quote = (identifier: string) =>
    PLAIN_IDENTIFIER.test(identifier) ? identifier : `"${identifier.replaceAll('"', '""')}"`;
  return table.schema === 'public' ? quote(table.name) : `${quote(table.schema)}.${quote(table.name)}`;
}
