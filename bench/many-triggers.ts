/**
 * `npm run bench:triggers`: what 200 triggers over 100 tables cost against one trigger on one table,
 * that is, what matching each change against triggers it does not concern costs. Both configs deliver
 * the same backlog on one table through the same trigger, batched so the measure is walhook's
 * per-change work, not HTTP; the large config adds 199 triggers on 100 other tables (two per table but
 * the last) that the changes never match.
 * Medians over BENCH_RUNS runs, the ratio taken within each run.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { startDatabase } from '../test/helpers/database.js';
import { freePort } from '../test/helpers/embedded-postgres.js';
import { ROOT, writeConfig } from '../test/helpers/walhook.js';
import { pollUntil } from './poll.js';
import { startReceiver } from './receiver.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 200_000);
const OTHER_TABLES = 100;
const BATCH = 100;

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const db = await startDatabase('bench_triggers');
await db.query(
  'CREATE TABLE items (id int PRIMARY KEY, name text, qty int, price numeric, at timestamptz, ok boolean)',
);
for (let i = 0; i < OTHER_TABLES; i++) {
  await db.query(`CREATE TABLE other_${i} (id int PRIMARY KEY, name text, qty int)`);
}

function triggers(url: string, many: boolean): string {
  const lines = [
    `  - name: items
    table: items
    operations: [insert]
    webhook: ${url}/items
    batch:
      max_events: ${BATCH}`,
  ];
  if (many) {
    for (let i = 0; i < OTHER_TABLES; i++) {
      lines.push(`  - name: other_${i}_all
    table: other_${i}
    operations: [insert, update, delete]
    webhook: ${url}/other`);
      // 199 in all: the last table has one trigger.
      if (i < OTHER_TABLES - 1) {
        lines.push(`  - name: other_${i}_big
    table: other_${i}
    operations: [insert, update]
    where:
      new: { qty: { _gt: 10 } }
    webhook: ${url}/other`);
      }
    }
  }
  return lines.join('\n');
}

/** Changes per second from the slot held by walhook to the last event received. */
async function measure(run: number, many: boolean): Promise<{ rate: number; triggers: number }> {
  const slot = `triggers_${many ? 'many' : 'one'}_${run}`;
  const receiver = await startReceiver({ count: 'events' });
  const text = triggers(receiver.url, many);
  const port = await freePort();
  const path = await writeConfig(`source:
  connection: ${db.url}
  slot: ${slot}
  publication: ${slot}
  heartbeat_sec: 0
server:
  port: ${port}
triggers:
${text}
`);
  // Slot and publication exist before the backlog, as for a walhook that was running and restarts.
  await db.query(
    `CREATE PUBLICATION ${slot} FOR TABLE items, ${[...Array(OTHER_TABLES).keys()].map((i) => `other_${i}`).join(', ')}`,
  );
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  await db.query('TRUNCATE items');
  await db.query(
    `INSERT INTO items SELECT g, 'item ' || g, g % 100, g * 1.25, now(), g % 2 = 0 FROM generate_series(1, ${BACKLOG}) g`,
  );
  const child = spawn(join(ROOT, 'bin/walhook.js'), ['run', '--config', path], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  try {
    const held = await pollUntil(
      async () =>
        (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [slot])).rows
          .length > 0,
      'walhook to read its slot',
      60_000,
    );
    await pollUntil(() => receiver.events() >= BACKLOG, `${BACKLOG} events`, 600_000);
    return {
      rate: BACKLOG / ((receiver.lastAt() - held) / 1000),
      triggers: text.split('- name:').length - 1,
    };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
    await receiver.close();
    await pollUntil(
      async () =>
        (await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [slot])).rows
          .length === 0,
      'the slot to be released',
      30_000,
    );
    await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
    await db.query(`DROP PUBLICATION ${slot}`);
  }
}

const one: number[] = [];
const many: number[] = [];
const ratios: number[] = [];
let manyTriggers = 0;
for (let run = 0; run < RUNS; run++) {
  const a = await measure(run, false);
  const b = await measure(run, true);
  manyTriggers = b.triggers;
  one.push(a.rate);
  many.push(b.rate);
  ratios.push(b.rate / a.rate);
  process.stderr.write(
    `run ${run + 1}/${RUNS}: one trigger ${Math.round(a.rate)}/s, ${b.triggers} triggers ${Math.round(b.rate)}/s\n`,
  );
}
await db.close();
const fmt = (n: number) => Math.round(n).toLocaleString('en');
process.stdout.write(`
backlog: ${BACKLOG.toLocaleString('en')} inserts on one table in one transaction, ${BATCH} events per POST; medians of ${RUNS} runs

| config | changes/s | runs |
|---|--:|--:|
| 1 trigger on 1 table | ${fmt(median(one))} | ${one.map(fmt).join(' · ')} |
| ${manyTriggers} triggers over ${OTHER_TABLES + 1} tables | ${fmt(median(many))} | ${many.map(fmt).join(' · ')} |
| ratio (within each run) | ${median(ratios).toFixed(2)} | ${ratios.map((r) => r.toFixed(2)).join(' · ')} |
`);
