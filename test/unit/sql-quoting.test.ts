import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { TriggerConfig } from '../../src/config/schema.js';
import { publicationGap, watchPublication } from '../../src/source/publication.js';
import { ensureSlot } from '../../src/source/slot.js';
import {
  describeTables,
  qualifiedName,
  replicaIdentityProblem,
  type TableInfo,
  type TableName,
} from '../../src/source/tables.js';
import { fetchUnchangedToast } from '../../src/source/toast.js';
import type { Change } from '../../src/source/transaction-reader.js';
import { identityNeeds } from '../../src/triggers/identity-needs.js';

/** Names that break a statement unless quoted: injections, quotes of both kinds, reserved words, unicode. */
const HOSTILE = [
  'x"; drop table y; --',
  'o\'neil"; drop table y; --',
  'weird schema',
  'select',
  'Order',
  'Straße',
  '表',
  '🎉',
  'a.b',
  '"',
  '$1',
];

const logger = pino({ level: 'silent' });

/**
 * Splits SQL text as Postgres's lexer does for what matters here: double-quoted identifiers (`""` is
 * one quote), single-quoted literals, and the rest. A name that escaped its quotes would show in `rest`.
 */
function lex(sql: string): { identifiers: string[]; literals: string[]; rest: string } {
  const identifiers: string[] = [];
  const literals: string[] = [];
  let rest = '';
  const token = /"((?:[^"]|"")*)"|'((?:[^']|'')*)'/gy;
  let pos = 0;
  while (pos < sql.length) {
    token.lastIndex = pos;
    const match = token.exec(sql);
    if (match?.[1] !== undefined) identifiers.push(match[1].replaceAll('""', '"'));
    else if (match?.[2] !== undefined) literals.push(match[2].replaceAll("''", "'"));
    if (match) {
      rest += ' ';
      pos = token.lastIndex;
    } else {
      assert.ok(sql[pos] !== '"' && sql[pos] !== "'", `unterminated quote at ${pos} in ${sql}`);
      rest += sql[pos];
      pos++;
    }
  }
  return { identifiers, literals, rest };
}

/** Every hostile name the statement mentions is one whole quoted identifier and nothing leaks out. */
function assertQuoted(sql: string, names: readonly string[]): void {
  const { identifiers, literals, rest } = lex(sql);
  for (const name of names) assert.ok(identifiers.includes(name), `${name} quoted in ${sql}`);
  assert.doesNotMatch(rest, /drop|neil|weird|ß|表|🎉/iu, `nothing outside quotes in ${sql}`);
  for (const literal of literals) assert.ok(!names.includes(literal), `${literal} is not a literal`);
}

/** Statements (and their parameters) a function sends, each answered from `answer`. */
function recorder(answer: (sql: string) => unknown[] = () => []) {
  const sent: { sql: string; params: unknown[] }[] = [];
  const query = async (sql: string, params: unknown[] = []) => {
    sent.push({ sql, params });
    return { rows: answer(sql) as Record<string, string | null>[] };
  };
  return { sent, query, client: { query } as never };
}

const pairs: TableName[] = HOSTILE.flatMap((schema) => HOSTILE.map((name) => ({ schema, name })));

function info(table: TableName, overrides: Partial<TableInfo> = {}): TableInfo {
  return {
    ...table,
    oid: 1,
    replicaIdentity: 'd',
    hasPrimaryKey: true,
    primaryKey: ['id'],
    partitioned: false,
    ...overrides,
  };
}

test('qualifiedName quotes both parts and nothing else', () => {
  for (const table of pairs) {
    const { identifiers, rest } = lex(qualifiedName(table));
    assert.deepEqual(identifiers, [table.schema, table.name]);
    assert.equal(rest, ' . ');
  }
});

test('the REPLICA IDENTITY FULL statement and the replica identity problems quote the table', () => {
  for (const table of pairs) {
    const trigger = { name: 't', operations: ['update'], columns: [table.name] } as unknown as TriggerConfig;
    const [need] = identityNeeds([trigger], [info(table)]);
    assert.ok(need);
    assertQuoted(need.statement, [table.schema, table.name]);
    assert.equal(lex(need.statement).rest.replace(/\s+/g, ' '), 'ALTER TABLE . REPLICA IDENTITY FULL');
    const problem = replicaIdentityProblem(info(table, { hasPrimaryKey: false, primaryKey: [] }));
    assert.ok(problem?.includes(`ALTER TABLE ${qualifiedName(table)} REPLICA IDENTITY FULL`));
  }
});

test('the TOAST fetch quotes table and columns and binds the key values', async () => {
  for (const [i, table] of pairs.entries()) {
    const key = HOSTILE[i % HOSTILE.length] as string;
    const column = HOSTILE[(i + 1) % HOSTILE.length] as string;
    const change = {
      relation: {
        schema: table.schema,
        name: table.name,
        keyIndexes: [0],
        relation: { columns: [{ name: key }, { name: column }] },
      },
      newTuple: ['x"; drop table y; --', undefined],
    } as unknown as Change;
    const { sent, query } = recorder(() => [{ c0: 'fetched' }]);
    await fetchUnchangedToast(query, change);
    const [statement] = sent;
    assert.ok(statement);
    assertQuoted(statement.sql, [table.schema, table.name, key, column]);
    assert.deepEqual(statement.params, ['x"; drop table y; --'], 'the key value is a parameter');
    assert.deepEqual(change.newTuple, ['x"; drop table y; --', 'fetched']);
  }
});

test('the publication statements quote every table, and lookups bind names as parameters', async () => {
  const tables = pairs.map((table, i) => info(table, { oid: i + 1, partitioned: i === 0 }));
  const created = recorder((sql) => (sql.startsWith('SHOW') ? [{ server_version_num: '170000' }] : []));
  const gap = await publicationGap(created.client, 'walhook', tables);
  assert.equal(gap.statements.length, 1);
  assertQuoted(gap.statements[0] as string, HOSTILE);
  assert.equal(lex(gap.statements[0] as string).identifiers.length, 1 + 2 * tables.length);

  const existing = recorder((sql) =>
    sql.includes('FROM pg_publication WHERE') ? [{ all: false, viaroot: false }] : [],
  );
  const extended = await publicationGap(existing.client, 'walhook', tables);
  const add = extended.statements.find((s) => s.includes('ADD TABLE'));
  assert.ok(add);
  assertQuoted(add, HOSTILE);
  for (const { sql } of [...created.sent, ...existing.sent]) assert.doesNotMatch(sql, /drop table y/);
});

test('a table published under a dotted name is not mistaken for another', async () => {
  const published = recorder((sql) =>
    sql.includes('FROM pg_publication WHERE')
      ? [{ all: false, viaroot: true }]
      : [{ schemaname: 'a.b', tablename: 'c' }],
  );
  const dotted = info({ schema: 'a', name: 'b.c' }, { oid: 1 });
  const gap = await publicationGap(published.client, 'walhook', [
    dotted,
    info({ schema: 'a.b', name: 'c' }, { oid: 2 }),
  ]);
  assert.deepEqual(gap.missing, [dotted]);
});

test('the publication watch adds a hostile table back with a quoted statement', async () => {
  const table = { schema: 'x"; drop table y; --', name: 'o\'neil"; drop table y; --' };
  const watch = recorder((sql) => (sql.includes('to_regclass') ? [{ '?column?': 1 }] : []));
  const stop = watchPublication(
    watch.query,
    { publication: 'walhook', manage: true, tables: [table], triggers: ['hostile'], everyMs: 5 },
    logger,
    () => {},
  );
  try {
    const deadline = Date.now() + 5_000;
    while (!watch.sent.some((s) => s.sql.includes('ADD TABLE')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    stop();
  }
  const lookup = watch.sent.find((s) => s.sql.includes('to_regclass'));
  assert.deepEqual(lookup?.params, [qualifiedName(table)], 'to_regclass gets the quoted name as a value');
  const add = watch.sent.find((s) => s.sql.includes('ADD TABLE'));
  assert.ok(add, 'the table was added back');
  assertQuoted(add.sql, [table.schema, table.name]);
});

test('catalog lookups bind table and slot names as parameters', async () => {
  const described = recorder();
  await describeTables(described.client, pairs);
  const [statement] = described.sent;
  assert.ok(statement);
  assert.deepEqual(lex(statement.sql).identifiers, []);
  assert.deepEqual(statement.params, [pairs.map((t) => t.schema), pairs.map((t) => t.name)]);

  const slot = recorder((sql) =>
    sql.includes('pg_create_logical_replication_slot') ? [{ lsn: '0/1' }] : [],
  );
  await ensureSlot(slot.client, 'x"; drop table y; --', 'fail', logger);
  for (const { sql, params } of slot.sent) {
    assert.doesNotMatch(sql, /drop table y/);
    assert.deepEqual(params, ['x"; drop table y; --']);
  }
});
