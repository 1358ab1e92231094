import { parseLsn } from '../core/lsn.js';

/** An event whose delivery finally failed; storing it settles the event. */
export interface DeadLetter {
  /** The event id (UUID); adding an id again replaces the record, since a replayed change can fail twice. */
  id: string;
  trigger: string;
  /** schema.name */
  table: string;
  op: string;
  /** The transaction's commit LSN as text (`16/B374D848`). */
  lsn: string;
  /** The exact JSON body of the last attempt. */
  body: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  responseSnippet: string | null;
  firstAttemptAt: Date;
  lastAttemptAt: Date;
  deadLetteredAt: Date;
}

/** Conditions that must all hold; an empty filter matches every letter. */
export interface DeadLetterFilter {
  id?: string;
  trigger?: string;
  /** Dead-lettered strictly before this instant. */
  olderThan?: Date;
  /** Dead-lettered at this instant or after it. */
  since?: Date;
}

export interface DeadLetterStore {
  /** Creates what the store needs (table, directory); safe to call again and from several processes. */
  init(): Promise<void>;
  /** Durable once resolved. */
  add(letter: DeadLetter): Promise<void>;
  /** In LSN order, so a redelivery keeps commit order. */
  list(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  /** Resolves to how many of `ids` were present. */
  remove(ids: readonly string[]): Promise<number>;
  purge(filter: DeadLetterFilter): Promise<number>;
  count(): Promise<number>;
  close(): Promise<void>;
}

/** The record as JSON (dates in ISO form): a line of the file store and of `walhook dlq list --json`. */
export function letterToJson(letter: DeadLetter) {
  return {
    id: letter.id,
    trigger: letter.trigger,
    table: letter.table,
    op: letter.op,
    lsn: letter.lsn,
    body: letter.body,
    attempts: letter.attempts,
    lastStatus: letter.lastStatus,
    lastError: letter.lastError,
    responseSnippet: letter.responseSnippet,
    firstAttemptAt: letter.firstAttemptAt.toISOString(),
    lastAttemptAt: letter.lastAttemptAt.toISOString(),
    deadLetteredAt: letter.deadLetteredAt.toISOString(),
  };
}

export function matchesFilter(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  return (
    (filter.id === undefined || letter.id === filter.id) &&
    (filter.trigger === undefined || letter.trigger === filter.trigger) &&
    (filter.olderThan === undefined || letter.deadLetteredAt < filter.olderThan) &&
    (filter.since === undefined || letter.deadLetteredAt >= filter.since)
  );
}

/**
 * Commit order; letters of one transaction share an LSN, and the order their first attempts started
 * in is the order the sink dispatched them, which is their order in the transaction.
 */
export function compareLetters(a: DeadLetter, b: DeadLetter): number {
  const lsnA = parseLsn(a.lsn);
  const lsnB = parseLsn(b.lsn);
  if (lsnA !== lsnB) return lsnA < lsnB ? -1 : 1;
  return (
    a.firstAttemptAt.getTime() - b.firstAttemptAt.getTime() ||
    a.deadLetteredAt.getTime() - b.deadLetteredAt.getTime() ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}
