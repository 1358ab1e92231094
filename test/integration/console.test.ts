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
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { ROOT, WalhookProcess } from '../helpers/walhook.js';

// The event console in a real browser: Debian's chromium driven by playwright-core against walhook
// streaming from a real Postgres to real receivers. Screenshots of each view go to test-output/console/.

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
/** Markup in a row: the page must show it as text. */
const HOSTILE_NOTE = '<img src=x onerror="window.pwned=true"><b>bold?</b>';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;
let profile: string;
let browser: BrowserContext;
let page: Page;
/** The receiver answers /flaky with 503 until this is set; /doomed always. */
let flakyUp = false;
/**
 * /late answers its first attempt with 503 at once and holds its second until this is called, then
 * answers 503 again: its third attempt, which succeeds, starts only after what the test did meanwhile.
 */
let releaseLate: () => void = () => {};
const lateReleased = new Promise<void>((resolve) => {
  releaseLate = resolve;
});

const config = `
source:
  connection: \${DATABASE_URL}
  slot: console_test
  publication: console_test
server:
  host: 127.0.0.1
  port: \${PORT}
  admin_token: \${ADMIN_TOKEN}
triggers:
  - name: orders
    table: orders
    operations: [insert]
    webhook: \${RECEIVER}/orders
  - name: flaky
    table: flaky
    operations: [insert]
    webhook: \${RECEIVER}/flaky
    retry: { num_retries: 1, interval_sec: 0.2 }
  - name: doomed
    table: doomed
    operations: [insert]
    webhook: \${RECEIVER}/doomed
  - name: late
    table: late
    operations: [insert]
    webhook: \${RECEIVER}/late
    retry: { num_retries: 2, interval_sec: 0, timeout_sec: 120 }
`;

before(async () => {
  if (!existsSync(join(ROOT, 'dist/console-assets/console.js'))) {
    // Run alone, the file builds the page itself; `npm test` has built everything first.
    await promisify(execFile)('npm', ['run', 'build:console'], { cwd: ROOT });
  }
  await mkdir(SHOTS, { recursive: true });
  db = await startDatabase('console');
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
  await db.query('CREATE TABLE flaky (id int PRIMARY KEY)');
  await db.query('CREATE TABLE doomed (id int PRIMARY KEY)');
  await db.query('CREATE TABLE late (id int PRIMARY KEY)');
  receiver = await startReceiver(async (delivery, attempt) => {
    if (delivery.path === '/doomed') return 503;
    if (delivery.path === '/late') {
      if (attempt === 2) await lateReleased;
      return attempt <= 2 ? 503 : 200;
    }
    return delivery.path === '/flaky' && !flakyUp ? 503 : 200;
  });
  walhook = await WalhookProcess.start(config, { DATABASE_URL: db.url, RECEIVER: receiver.url, ADMIN_TOKEN });
  profile = await mkdtemp(join(tmpdir(), 'walhook-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
});

after(async () => {
  await browser?.close();
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

const FOCUSED_LABEL = "document.activeElement?.getAttribute('aria-label')";
const consoleUrl = () => `http://127.0.0.1:${walhook.port}/console`;

async function openView(name: string): Promise<void> {
  await page.getByRole('tab', { name }).click();
  assert.equal(await page.getByRole('tab', { name }).getAttribute('aria-selected'), 'true');
}

async function text(locator: Locator): Promise<string> {
  return (await locator.textContent()) ?? '';
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

test('the overview shows the pipeline slot and each trigger', async () => {
  const answer = await page.goto(consoleUrl());
  assert.equal(answer?.status(), 200);
  const pipelines = page.getByRole('region', { name: 'Pipelines' });
  await pipelines.getByRole('rowheader', { name: 'default' }).waitFor();
  assert.match(await text(pipelines), /console_test/);
  assert.match(await text(pipelines), /Connected/);
  const triggers = page.getByRole('region', { name: 'Triggers' });
  for (const name of ['orders', 'flaky', 'doomed', 'late'])
    await triggers.getByRole('rowheader', { name }).waitFor();
  assert.equal(
    await triggers.getByRole('img', { name: /delivered, .* failed in the last 10 minutes/ }).count(),
    4,
  );
  await shot('overview-desktop');
});

test('an insert appears in Invocations without a reload; its detail shows the body the receiver got', async () => {
  await page.goto(consoleUrl());
  await openView('Invocations');
  // A value that survives only while the page is not reloaded.
  await page.evaluate('window.notReloaded = true');
  await db.query('INSERT INTO orders (id, note) VALUES (1, $1)', [HOSTILE_NOTE]);
  const [delivery] = await receiver.waitFor(1, '/orders');
  const eventId = delivery?.body.id as string;
  const row = page.locator(`#inv-list tr[data-event-id="${eventId}"]`);
  await row.waitFor({ timeout: 15_000 });
  assert.equal(await page.evaluate('window.notReloaded'), true);
  assert.match(await text(row), /orders[\s\S]*INSERT[\s\S]*Delivered[\s\S]*200/);
  await shot('invocations-desktop');

  const opener = page.getByRole('button', { name: `Details of event ${eventId}` });
  await opener.click();
  const detail = page.getByRole('dialog', { name: `Event ${eventId}` });
  await detail.waitFor();
  const body = detail.getByLabel('Request body of attempt 1');
  assert.equal(await body.textContent(), delivery?.raw, 'the request body as the receiver got it');
  assert.match(await text(detail), /content-type[\s\S]*application\/json/);
  // The note's markup is text on the page, never elements.
  assert.equal(await page.locator('img, #detail b').count(), 0);
  assert.equal(await page.evaluate('window.pwned'), undefined);
  await shot('invocation-detail-desktop');

  await page.keyboard.press('Escape');
  await detail.waitFor({ state: 'hidden' });
  assert.equal(
    await page.evaluate(FOCUSED_LABEL),
    `Details of event ${eventId}`,
    'focus is back on the opener',
  );
});

test('Invocations go by latest attempt, newest first, the same after a refresh; the detail lists attempts oldest first', async () => {
  await page.goto(consoleUrl());
  await openView('Invocations');
  await db.query('INSERT INTO late (id) VALUES (1)');
  // The receiver holds the second attempt: the first is recorded, the third not yet started.
  const [lateFirst] = await receiver.waitFor(2, '/late');
  const lateId = lateFirst?.body.id as string;
  const lateRow = page.locator(`#inv-list tr[data-event-id="${lateId}"]`);
  await lateRow.waitFor({ timeout: 15_000 });

  await db.query("INSERT INTO orders (id, note) VALUES (2, 'between the attempts')");
  await waitUntil(
    () => walhook.assertAlive() && receiver.accepted('/orders').some((d) => d.body.event.data.new.id === 2),
    'the order delivered while the late event waits for its retry',
  );
  const orderId = receiver.accepted('/orders').find((d) => d.body.event.data.new.id === 2)?.body.id as string;
  const orderRow = page.locator(`#inv-list tr[data-event-id="${orderId}"]`);
  await orderRow.getByText('Delivered').waitFor({ timeout: 15_000 });
  // First attempted before the order, the late event is still below it while its retry waits.
  assert.deepEqual((await shownIds()).slice(0, 2), [orderId, lateId]);

  releaseLate();
  await lateRow.getByText('Delivered').waitFor({ timeout: 15_000 });
  const shown = await shownIds();
  assert.deepEqual(shown.slice(0, 2), [lateId, orderId], 'the late event retried last is on top');
  const times = await page
    .locator('#inv-list tr[data-event-id] time')
    .evaluateAll((cells) => cells.map((cell) => Date.parse(cell.getAttribute('datetime') ?? '')));
  assert.equal(times.length, shown.length);
  assert.deepEqual(
    times,
    [...times].sort((a, b) => b - a),
    'rows by the time of their last attempt, newest first',
  );

  // A refresh ends before the next one asks for the overview: wait for one whole refresh.
  await page.waitForResponse((answer) => answer.url().includes('/console/api/invocations'));
  await page.waitForRequest((request) => request.url().includes('/console/api/overview'));
  assert.deepEqual(await shownIds(), shown, 'the same order after a refresh');
  await page.reload();
  await lateRow.waitFor();
  assert.deepEqual(await shownIds(), shown, 'the same order after a reload');

  await page.getByRole('button', { name: `Details of event ${lateId}` }).click();
  const detail = page.getByRole('dialog', { name: `Event ${lateId}` });
  await detail.waitFor();
  // No named functions inside: tsx would wrap them in a helper the page does not have.
  const attempts = await detail.locator('section.detail-section').evaluateAll((sections) =>
    sections.map((section) => {
      const terms = [...section.querySelectorAll('dt')];
      return {
        heading: section.querySelector('h3')?.textContent,
        at: Date.parse(
          terms.find((dt) => dt.textContent === 'At')?.nextElementSibling?.querySelector('time')?.dateTime ??
            '',
        ),
        status: terms.find((dt) => dt.textContent === 'HTTP status')?.nextElementSibling?.textContent,
      };
    }),
  );
  assert.deepEqual(
    attempts.map(({ heading, status }) => [heading, status]),
    [
      ['Attempt 1', '503'],
      ['Attempt 2', '503'],
      ['Attempt 3', '200'],
    ],
  );
  const started = attempts.map((attempt) => attempt.at);
  assert.deepEqual(
    started,
    [...started].sort((a, b) => a - b),
    'attempts oldest first',
  );
  await shot('invocations-by-latest-attempt');
  await page.keyboard.press('Escape');
  await detail.waitFor({ state: 'hidden' });
});

test('a failing delivery becomes a dead letter, refused without the token, redelivered with it', async () => {
  await db.query('INSERT INTO flaky (id) VALUES (7)');
  await waitUntil(
    async () => walhook.assertAlive() && (await letterIds()).length === 1,
    'the flaky insert to be dead-lettered',
  );
  const [letterId] = await letterIds();
  await page.goto(consoleUrl());
  await openView('Dead letters');
  const row = page.locator(`#dl-list tr[data-letter-id="${letterId}"]`);
  await row.waitFor();
  assert.match(await text(row), /flaky[\s\S]*INSERT[\s\S]*503/);

  const redeliver = page.getByRole('button', { name: `Redeliver ${letterId}` });
  const result = page.locator('#dl-result');
  await redeliver.click();
  await page.getByText('Refused (401)').waitFor();
  assert.match(await text(result), /admin token is missing or wrong/);
  assert.equal(await row.count(), 1, 'a refused action leaves the letter');
  await shot('dead-letters-desktop');

  flakyUp = true;
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await redeliver.click();
  await page.getByText('Redelivered 1 dead letter.').waitFor({ timeout: 15_000 });
  await row.waitFor({ state: 'detached' });
  assert.deepEqual(await letterIds(), []);
  assert.ok(
    receiver.accepted('/flaky').some((d) => d.body.event.data.new.id === 7),
    'the receiver accepted the redelivered event',
  );
});

test('letters ticked in the list are purged only after a confirmation', async () => {
  await db.query('INSERT INTO doomed (id) VALUES (1), (2)');
  await waitUntil(
    async () => walhook.assertAlive() && (await letterIds('doomed')).length === 2,
    'two dead letters of doomed',
  );
  const ids = await letterIds('doomed');
  await page.goto(consoleUrl());
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await openView('Dead letters');
  for (const id of ids) await page.getByLabel(`Select dead letter ${id}`).check();
  const purge = page.getByRole('button', { name: 'Purge selected (2)' });
  const confirmation = page.getByRole('dialog', { name: 'Please confirm' });

  await purge.click();
  await confirmation.waitFor();
  assert.match(await text(confirmation), /Purge 2 selected dead letters\? This cannot be undone\./);
  await page.keyboard.press('Escape');
  await confirmation.waitFor({ state: 'hidden' });
  assert.deepEqual(await letterIds('doomed'), ids, 'nothing purged when the confirmation is dismissed');

  await purge.click();
  await confirmation.getByRole('button', { name: 'Purge' }).click();
  await page.getByText('Purged 2 dead letters.').waitFor();
  for (const id of ids)
    await page.locator(`#dl-list tr[data-letter-id="${id}"]`).waitFor({ state: 'detached' });
  assert.deepEqual(await letterIds('doomed'), []);
});

test('keyboard: Tab reaches the view tabs, arrow keys move between them, Enter opens one', async () => {
  await page.goto(consoleUrl());
  await page.getByRole('region', { name: 'Pipelines' }).waitFor();
  let focusedRole: string | null = null;
  for (let presses = 0; presses < 10 && focusedRole !== 'tab'; presses++) {
    await page.keyboard.press('Tab');
    focusedRole = await page.evaluate<string | null>("document.activeElement?.getAttribute('role') ?? null");
  }
  assert.equal(focusedRole, 'tab', 'Tab reaches the tabs');
  const focused = () => page.evaluate<string>("document.activeElement?.textContent ?? ''");
  assert.equal(await focused(), 'Overview');
  assert.equal(
    await page.evaluate('getComputedStyle(document.activeElement).outlineStyle'),
    'solid',
    'focus is visible',
  );
  for (const expected of ['Invocations', 'Dead letters', 'Triggers']) {
    await page.keyboard.press('ArrowRight');
    assert.equal(await focused(), expected);
  }
  await page.keyboard.press('Enter');
  assert.equal(await page.getByRole('tab', { name: 'Triggers' }).getAttribute('aria-selected'), 'true');
  const definition = page.getByLabel('Definition of flaky');
  await definition.waitFor();
  assert.match(await text(definition), /"webhook"/);
  await shot('triggers-desktop');
  await page.keyboard.press('ArrowRight');
  assert.equal(await focused(), 'Overview', 'the arrows wrap around');
  await page.keyboard.press(' ');
  await page.getByRole('tabpanel', { name: 'Overview' }).waitFor();
});

test('on a phone every view fits the width: no sideways page scroll', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(consoleUrl());
  await page.getByRole('region', { name: 'Pipelines' }).waitFor();
  await shot('overview-phone');
  const drawn = {
    Overview: '#overview-body .table-wrap',
    Invocations: '#inv-list .table-wrap',
    'Dead letters': '#dl-list > *',
    Triggers: '#triggers-list section',
  };
  for (const [view, content] of Object.entries(drawn)) {
    await openView(view);
    await page.locator(content).first().waitFor();
    const [scrollWidth, clientWidth] = await page.evaluate<[number, number]>(
      '[document.documentElement.scrollWidth, document.documentElement.clientWidth]',
    );
    assert.ok(
      scrollWidth <= clientWidth,
      `${view}: page ${scrollWidth}px wide in a ${clientWidth}px viewport`,
    );
  }
});

/** The event ids of the Invocations rows, top to bottom. */
function shownIds(): Promise<string[]> {
  return page
    .locator('#inv-list tr[data-event-id]')
    .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-event-id') ?? ''));
}

async function letterIds(trigger = 'flaky'): Promise<string[]> {
  const { rows } = await db
    .query<{ id: string }>('SELECT id FROM walhook.dead_letters WHERE trigger = $1 ORDER BY id', [trigger])
    .catch(() => ({ rows: [] as { id: string }[] }));
  return rows.map((r) => r.id);
}
