import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { ROOT, WalhookProcess } from '../helpers/walhook.js';

// The console's actions in a real browser (Debian's chromium driven by playwright-core) against walhook
// streaming from a real Postgres to a real receiver: invoke, backfill, pause and resume a trigger, and
// the Redeliver button of an invocation. Each is checked by its effect at the receiver.

const ADMIN_TOKEN = randomBytes(24).toString('base64url');
const SHOTS = join(ROOT, 'test-output', 'console');
const CHROMIUM = '/usr/bin/chromium';
/** Flags for a headless chromium on a machine without network: nothing phones home, no sandbox as root. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Rows in `bulk` before walhook starts: only a backfill sends them. */
const BULK_ROWS = 40;

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;
let profile: string;
let browser: BrowserContext;
let page: Page;
/** While set, the receiver holds /bulk deliveries of rows past 6 until `releaseBulk`. */
let bulkHeld = true;
let releaseBulk: () => void = () => {};
const bulkReleased = new Promise<void>((resolve) => {
  releaseBulk = resolve;
});

const config = `
source:
  connection: \${DATABASE_URL}
  slot: console_actions_test
  publication: console_actions_test
server:
  host: 127.0.0.1
  port: \${PORT}
  admin_token: \${ADMIN_TOKEN}
# Redeliver sends a delivered event again from the log.
invocation_log: { table: walhook.console_actions_log }
triggers:
  - name: items
    table: items
    operations: [insert]
    enable_manual: true
    webhook: \${RECEIVER}/items
  - name: bulk
    table: bulk
    operations: [insert]
    enable_manual: true
    webhook: \${RECEIVER}/bulk
  - name: paced
    table: paced
    operations: [insert]
    ordering: trigger
    webhook: \${RECEIVER}/paced
`;

before(async () => {
  if (!existsSync(join(ROOT, 'dist/console-assets/trigger-actions.js'))) {
    // Run alone, the file builds the page itself; `npm test` has built everything first.
    await promisify(execFile)('npm', ['run', 'build:console'], { cwd: ROOT });
  }
  await mkdir(SHOTS, { recursive: true });
  db = await startDatabase('console_actions');
  await db.query('CREATE TABLE items (id int PRIMARY KEY, note text)');
  await db.query("INSERT INTO items VALUES (1, 'one'), (2, 'two')");
  await db.query('CREATE TABLE bulk (id int PRIMARY KEY)');
  await db.query(`INSERT INTO bulk SELECT generate_series(1, ${BULK_ROWS})`);
  await db.query('ANALYZE bulk');
  await db.query('CREATE TABLE paced (id int PRIMARY KEY)');
  receiver = await startReceiver(async (delivery) => {
    if (delivery.path === '/bulk' && bulkHeld && delivery.body.event.data.new.id > 6) await bulkReleased;
    return 200;
  });
  walhook = await WalhookProcess.start(config, { DATABASE_URL: db.url, RECEIVER: receiver.url, ADMIN_TOKEN });
  profile = await mkdtemp(join(tmpdir(), 'walhook-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
});

after(async () => {
  releaseBulk();
  await browser?.close();
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

const consoleUrl = () => `http://127.0.0.1:${walhook.port}/console`;

async function openTriggers(token: string): Promise<void> {
  await page.goto(consoleUrl());
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('tab', { name: 'Triggers' }).click();
  await page.getByLabel('Definition of paced').waitFor();
}

async function text(locator: Locator): Promise<string> {
  return (await locator.textContent()) ?? '';
}

async function waitForText(locator: Locator, pattern: RegExp, what: string): Promise<string> {
  let last = '';
  try {
    await waitUntil(
      async () => {
        last = await text(locator);
        return walhook.assertAlive() && pattern.test(last);
      },
      what,
      20_000,
    );
  } catch (err) {
    const view = await text(page.locator('[role="tabpanel"]:visible'));
    throw new Error(`${(err as Error).message}; last shown: ${JSON.stringify(last)}; the view: ${view}`);
  }
  return last;
}

interface TriggerStatus {
  name: string;
  in_flight: number;
  paused: boolean;
}

async function triggerStatus(name: string): Promise<TriggerStatus> {
  const response = await fetch(`http://127.0.0.1:${walhook.port}/status`);
  const status = (await response.json()) as { triggers: TriggerStatus[] };
  return status.triggers.find((t) => t.name === name) as TriggerStatus;
}

async function pausedGauge(trigger: string): Promise<string | undefined> {
  const metrics = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith(`walhook_trigger_paused{pipeline="default",trigger="${trigger}"}`));
  return line?.split(' ').at(-1);
}

test('without a token the actions are disabled and the view says why', async () => {
  await openTriggers('');
  assert.equal(await page.getByRole('button', { name: 'Pause paced' }).isDisabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Invoke items' }).isDisabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Start backfill of bulk' }).isDisabled(), true);
  assert.match(await text(page.locator('#triggers-list')), /Type the admin token at the top of the page/);
  assert.match(
    await text(page.locator('#triggers-list')),
    /Invoke and backfill need enable_manual: true on the trigger\./,
    'paced is not manual',
  );
});

test('Invoke sends the row with op MANUAL and shows its event id; a key with no row is an error line', async () => {
  await openTriggers(ADMIN_TOKEN);
  const result = page.locator('#invoke-result-default-items');
  // The key columns are read from the table once asked for; the next refresh shows them.
  const section = page.getByRole('region', { name: 'items' });
  await section.getByText('Key columns: id.').waitFor({ timeout: 15_000 });
  await page.getByLabel('Row key of items (JSON)').fill('{"id": 2}');
  await page.getByRole('button', { name: 'Invoke items' }).click();
  const shown = await waitForText(result, /^Event .+: delivered\.$/, 'the invocation answer');
  const [delivery] = receiver.at('/items');
  assert.equal(delivery?.body.event.op, 'MANUAL');
  assert.deepEqual(delivery?.body.event.data.new, { id: 2, note: 'two' });
  assert.equal(shown, `Event ${delivery?.body.id}: delivered.`);
  await page.screenshot({ path: join(SHOTS, 'trigger-actions-desktop.png'), fullPage: true });

  await page.getByLabel('Row key of items (JSON)').fill('{"id": 999}');
  await page.getByRole('button', { name: 'Invoke items' }).click();
  await waitForText(
    result,
    /^walhook answered 404: trigger items: no row of .*items has the key \{"id":999\}$/,
    'the 404 line',
  );
  assert.equal(await result.getAttribute('class'), 'result result-error');
  assert.equal(receiver.at('/items').length, 1, 'nothing sent for a missing row');
});

test('Pause holds a trigger: nothing delivered while paused, everything in order after Resume', async () => {
  await openTriggers(ADMIN_TOKEN);
  const section = page.getByRole('region', { name: 'paced' });
  await page.getByRole('button', { name: 'Pause paced' }).click();
  await section.getByText('Paused: events wait queued').waitFor();
  await waitForText(page.locator('#pause-result-default-paced'), /^Paused paced\.$/, 'the pause answer');
  assert.equal((await triggerStatus('paced')).paused, true);
  assert.equal(await pausedGauge('paced'), '1');
  await walhook.waitForLog((l) => l.msg === 'trigger paused by an operator; its events wait queued', 'log');

  for (let id = 1; id <= 5; id++) await db.query('INSERT INTO paced (id) VALUES ($1)', [id]);
  await waitUntil(
    async () => walhook.assertAlive() && (await triggerStatus('paced')).in_flight === 5,
    'the five inserts queued',
  );
  await sleep(1000);
  assert.equal(receiver.at('/paced').length, 0, 'nothing delivered while paused');
  // Another trigger goes on meanwhile.
  await db.query("INSERT INTO items VALUES (3, 'while paced is paused')");
  await waitUntil(() => receiver.at('/items').some((d) => d.body.event.data.new.id === 3), 'items goes on');
  assert.equal(receiver.at('/paced').length, 0);

  await page.getByRole('button', { name: 'Resume paced' }).click();
  const delivered = await receiver.waitFor(5, '/paced');
  assert.deepEqual(
    delivered.map((d) => d.body.event.data.new.id),
    [1, 2, 3, 4, 5],
    'in commit order',
  );
  await section.getByText('Delivering').waitFor();
  assert.equal((await triggerStatus('paced')).paused, false);
  assert.equal(await pausedGauge('paced'), '0');
  await walhook.waitForLog((l) => l.msg?.startsWith('trigger resumed by an operator'), 'resume log');

  const unknown = await fetch(`http://127.0.0.1:${walhook.port}/triggers/nope/pause`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  assert.equal(unknown.status, 404);
  assert.match(((await unknown.json()) as { error: string }).error, /no trigger named nope/);
});

test('Backfill: started with its progress shown, cancelled (no more rows), started again to the end', async () => {
  await openTriggers(ADMIN_TOKEN);
  const progress = page.getByLabel('Backfill progress of bulk');
  assert.equal(await text(progress), 'No backfill in this process yet.');
  await page.locator('#backfill-batch-default-bulk').fill('3');
  await page.getByRole('button', { name: 'Start backfill of bulk' }).click();
  // The third page (rows 7 to 9) is held at the receiver: the run waits for it to settle.
  await receiver.waitFor(7, '/bulk');
  await waitForText(progress, /^Running: 6 (of about \d+ )?rows read, 6 sent/, 'the progress while running');
  await waitForText(page.locator('#backfill-result-default-bulk'), /^Backfill started\./, 'the start answer');

  await page.getByRole('button', { name: 'Cancel backfill of bulk' }).click();
  await waitForText(progress, /^Cancelled: 6 (of about \d+ )?rows read/, 'the cancelled progress');
  bulkHeld = false;
  releaseBulk();
  await sleep(1500);
  const ids = receiver.at('/bulk').map((d) => d.body.event.data.new.id as number);
  assert.ok(Math.max(...ids) <= 9, `rows past the cancelled page were sent: ${ids}`);

  await page.getByRole('button', { name: 'Start backfill of bulk' }).click();
  await waitForText(progress, /^Done: 40 (of about \d+ )?rows read/, 'the backfill done');
  const sent = new Set(receiver.at('/bulk').map((d) => d.body.event.data.new.id as number));
  assert.equal(sent.size, BULK_ROWS, 'every row arrived');
  assert.ok(receiver.at('/bulk').every((d) => d.body.event.op === 'MANUAL'));
});

test("Invocations: Redeliver is disabled without a token; with one it shows walhook's answer", async () => {
  await db.query("INSERT INTO items VALUES (4, 'to redeliver')");
  await waitUntil(() => receiver.at('/items').some((d) => d.body.event.data.new.id === 4), 'item 4');
  const eventId = receiver.at('/items').find((d) => d.body.event.data.new.id === 4)?.body.id as string;
  await page.goto(consoleUrl());
  await page.getByRole('button', { name: 'Forget token' }).click();
  await page.getByRole('tab', { name: 'Invocations' }).click();
  const opener = page.getByRole('button', { name: `Details of event ${eventId}` });
  await opener.click();
  const detail = page.getByRole('dialog', { name: `Event ${eventId}` });
  const redeliver = detail.getByRole('button', { name: `Redeliver event ${eventId}` });
  await redeliver.waitFor();
  assert.equal(await redeliver.isDisabled(), true);
  await page.keyboard.press('Escape');
  await detail.waitFor({ state: 'hidden' });

  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await opener.click();
  await redeliver.click();
  await waitForText(
    detail.getByRole('status'),
    /^Redelivered event .+: delivered\.$/,
    'the redelivery answer',
  );
  const sent = () => receiver.at('/items').filter((d) => d.body.id === eventId);
  await waitUntil(() => sent().length === 2, 'the event a second time at the receiver');
  assert.deepEqual(sent()[1]?.body.event, sent()[0]?.body.event, 'the same event again');
});

test('on a phone the Triggers view with its actions fits the width', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await openTriggers(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Start backfill of bulk' }).waitFor();
  const [scrollWidth, clientWidth] = await page.evaluate<[number, number]>(
    '[document.documentElement.scrollWidth, document.documentElement.clientWidth]',
  );
  assert.ok(scrollWidth <= clientWidth, `page ${scrollWidth}px wide in a ${clientWidth}px viewport`);
  await page.screenshot({ path: join(SHOTS, 'trigger-actions-phone.png'), fullPage: true });
});
