import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { parseJson } from '../../src/core/json.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/embedded-postgres.js';
import { type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { ROOT, runCli, writeConfig } from '../helpers/walhook.js';

// What an operator sees of a walhook that has nothing to do, and of one that cannot start its server.
const SLOT = 'quiet_service';

let db: Database;
let receiver: Receiver;

before(async () => {
  // A short wal_sender_timeout makes walhook confirm its position every second rather than every 10 s.
  db = await startDatabase('quiet_service', { settings: { wal_sender_timeout: '3s' } });
  receiver = await startReceiver(() => 200);
  await db.query('CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)');
});

after(async () => {
  await receiver?.close();
  await db?.server.stop();
});

function config(port: number | string, host = '127.0.0.1'): string {
  return `
source:
  connection: ${db.url}
  slot: ${SLOT}
  publication: ${SLOT}
  heartbeat_sec: 1
server:
  host: ${host}
  port: ${port}
triggers:
  - name: items_hook
    table: items
    operations: [insert, update]
    webhook: ${receiver.url}/items
`;
}

/** `walhook run`, keeping each stdout line as written. */
async function run(yaml: string, env: NodeJS.ProcessEnv) {
  const path = await writeConfig(yaml);
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'run', '--config', path],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts.filter((line) => line.trim() !== ''));
  });
  return { child, lines };
}

test('an idle walhook writes nothing at info once ready, and every log line has each key once', async () => {
  const port = await freePort();
  const { child, lines } = await run(config(port), { LOG_LEVEL: 'debug' });
  try {
    await waitUntil(
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200,
      'walhook to be ready',
    );
    const ready = lines.length;
    // Heartbeats move the slot every second and the position is confirmed every second: before,
    // each confirmation of a new position was an info line.
    await sleep(6000);
    const idle = lines.slice(ready).map((line) => JSON.parse(line) as { level: string; msg: string });
    assert.ok(
      idle.some((line) => line.msg === 'acknowledged to Postgres' && line.level === 'debug'),
      'the periodic confirmation is still there at debug',
    );
    const loud = idle.filter((line) => line.level !== 'debug' && line.level !== 'trace');
    assert.deepEqual(loud, [], 'lines above debug while idle');

    // Deliveries, and the lines of each stage, for the duplicate-key check below.
    await db.query(`INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 20) i`);
    await receiver.waitFor(20, '/items');
    await waitUntil(() => lines.some((line) => line.includes('"delivery attempt"')), 'a delivery line');
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  const repeated: string[] = [];
  for (const line of lines) {
    try {
      // parseJson refuses a key given twice where JSON.parse keeps the last silently.
      parseJson(line);
    } catch (err) {
      repeated.push(`${(err as Error).message}: ${line}`);
    }
  }
  assert.deepEqual(repeated, [], 'log lines with a key given twice');
  assert.ok(lines.some((line) => /"slot":"quiet_service".*"stage":"source"/.test(line)));
});

test('a port in use, or a host not of this machine, is one line naming the address and the key to change; exit 2', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    const inUse = await runCli(['run', '--config', await writeConfig(config(port))]);
    assert.deepEqual(
      [inUse.code, inUse.stderr],
      [
        2,
        `cannot listen on 127.0.0.1:${port}: the port is in use by another process; set server.port to a free port (or stop the other process)\n`,
      ],
    );
  } finally {
    taken.close();
  }
  // 192.0.2.0/24 is reserved for documentation: never an address of this machine.
  const elsewhere = await runCli(['run', '--config', await writeConfig(config(9187, '192.0.2.1'))]);
  assert.deepEqual(
    [elsewhere.code, elsewhere.stderr],
    [
      2,
      'cannot listen on 192.0.2.1:9187: the host is not an address of this machine; set server.host to one of its addresses, 127.0.0.1 or 0.0.0.0\n',
    ],
  );
});
