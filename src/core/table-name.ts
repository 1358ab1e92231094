/** A table as Postgres names it: identifiers after case folding and quote removal, without quoting. */
export interface TableName {
  readonly schema: string;
  readonly name: string;
}
