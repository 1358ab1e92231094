/**
 * `npm run bench:console`: what the console's ring of recent deliveries costs. Batched throughput
 * (100 events per POST, a 200,000-insert backlog) with `server.console.recent` 0 and 1000 (the default),
 * alternating, BENCH_RUNS times each; medians and their ratio.
 */
import { startDatabase } from '../test/helpers/database.js';
import { walhookThroughput } from './throughput.js';
import { snapshotBuild } from './walhook.js';
import { prepareDatabase } from './workload.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 200_000);
const SETTINGS = ['0', '1000'] as const;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

const db = await startDatabase('console_cost');
try {
  await prepareDatabase(db);
  const build = await snapshotBuild();
  const rates = new Map<string, number[]>(SETTINGS.map((s) => [s, []]));
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const recent of SETTINGS) {
        process.env.BENCH_CONSOLE_RECENT = recent;
        const { rate } = await walhookThroughput(
          { db, build: build.dir },
          BACKLOG,
          100,
          `console_${recent}_${run}`,
        );
        rates.get(recent)?.push(rate);
        process.stderr.write(`run ${run + 1}/${RUNS}: recent ${recent}: ${Math.round(rate)} changes/s\n`);
      }
    }
  } finally {
    await build.remove();
  }
  const off = median(rates.get('0') ?? []);
  const on = median(rates.get('1000') ?? []);
  process.stdout.write(
    `| server.console.recent | changes/s (median of ${RUNS}) | runs |\n|---|---|---|\n` +
      SETTINGS.map(
        (s) =>
          `| ${s} | ${Math.round(median(rates.get(s) ?? [])).toLocaleString('en-US')} | ${(rates.get(s) ?? []).map((r) => Math.round(r).toLocaleString('en-US')).join(' · ')} |`,
      ).join('\n') +
      `\n\nwith the ring / without: ${(on / off).toFixed(2)}\n`,
  );
} finally {
  await db.close();
}
