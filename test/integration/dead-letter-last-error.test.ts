import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

let db: Database;
let receiver: Receiver;

before(async () => {
  db = await startDatabase('dead_letter_last_error');
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  receiver = await startReceiver(() => 500);
});

after(async () => {
  await receiver?.close();
  await db?.close();
});

/** The letters of a file store, the last line of an id winning. */
async function letters(file: string): Promise<Map<string, { lastError: string; attempts: number }>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const byId = new Map<string, { lastError: string; attempts: number }>();
  for (const line of text.split('\n').filter(Boolean)) {
    const letter = JSON.parse(line);
    byId.set(letter.id, letter);
  }
  return byId;
}

test('a letter the pipeline stored and the same letter kept by a redelivery name their error alike', async () => {
  const configText = `
source:
  connection: \${DATABASE_URL}
  slot: last_error_test
  publication: last_error_test
server:
  host: 127.0.0.1
  port: \${PORT}
dead_letter:
  file: \${DEAD_LETTERS}
triggers:
  - name: items
    table: items
    operations: [insert]
    webhook: \${RECEIVER}/items
`;
  const path = await writeConfig(configText);
  const env = { DATABASE_URL: db.url, RECEIVER: receiver.url, DEAD_LETTERS: join(path, '..', 'dead.jsonl') };
  const walhook = await WalhookProcess.start(configText, env);
  try {
    await db.query('INSERT INTO items VALUES (1)');
    await waitUntil(async () => (await letters(env.DEAD_LETTERS)).size === 1, 'the dead letter');
  } finally {
    await walhook.stop();
  }
  const [stored] = (await letters(env.DEAD_LETTERS)).values();
  assert.equal(stored?.lastError, 'http: HTTP 500');

  const result = await runCli(['dlq', 'redeliver', '--all', '--config', path], { ...env, PORT: '0' });
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stdout, /kept: HTTP 500/);
  const [kept] = (await letters(env.DEAD_LETTERS)).values();
  assert.equal(kept?.attempts, 2);
  assert.equal(kept?.lastError, stored?.lastError);
});
