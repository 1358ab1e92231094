import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { parse } from 'yaml';
import { startDatabase } from '../helpers/database.js';
import { startReceiver } from '../helpers/receiver.js';
import { ROOT, runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

/**
 * The least-privilege setup as the docs write it, walked against a database shaped like a user's:
 * `app` belongs to the superuser, its tables to a separate role `app_owner` that may not create
 * anything in the database. The SQL block after each `<!-- setup-sql` marker runs statement for
 * statement, each `-- as …` line switching to the role it names; then walhook, as the role the SQL
 * created, must pass `walhook validate` and deliver a change with `walhook run`. A step the docs leave
 * out shows up as the statement Postgres refuses or the check walhook fails.
 */

const OWNER = 'app_owner';
const OWNER_PASSWORD = 'owner-pw';
const ROLE_PASSWORD = 'app-pw';

interface Step {
  as: string;
  sql: string;
}

/** The marked SQL block of `file`, in sections by the role each `-- as …` line names. */
async function setupSteps(file: string): Promise<{ steps: Step[]; after: string }> {
  const text = await readFile(join(ROOT, file), 'utf8');
  const marker = text.indexOf('<!-- setup-sql');
  assert.ok(marker >= 0, `${file} marks its setup SQL with <!-- setup-sql`);
  const block = /```sql\n([\s\S]*?)```/.exec(text.slice(marker));
  assert.ok(block, `${file}: a sql block follows the marker`);
  const steps: Step[] = [];
  for (const line of (block[1] as string).split('\n')) {
    const as = /^-- as (.+)$/.exec(line.trim());
    if (as) steps.push({ as: as[1] as string, sql: '' });
    else if (line.trim()) {
      const step = steps.at(-1);
      assert.ok(step, `${file}: the SQL starts by saying which role runs it (-- as …): ${line}`);
      step.sql += `${line}\n`;
    }
  }
  return { steps, after: text.slice(marker + block.index + block[0].length) };
}

/** Who runs a section: the superuser or the tables' owner; anything else is a role the test cannot be. */
function roleOf(phrase: string): 'superuser' | 'owner' {
  if (/^a superuser\b/.test(phrase)) return 'superuser';
  if (/^(the tables' owner|the owner of the tables)\b/.test(phrase)) return 'owner';
  throw new Error(`the docs run SQL "as ${phrase}", a role this test does not know`);
}

async function walk(file: string): Promise<void> {
  const { steps, after } = await setupSteps(file);
  const sql = steps.map((s) => s.sql).join('');
  const role = /CREATE ROLE (\w+)/.exec(sql)?.[1];
  assert.ok(role, `${file}: the SQL creates walhook's role`);
  const tables = [...sql.matchAll(new RegExp(`GRANT SELECT ON ([\\w., ]+?) TO ${role}\\b`, 'g'))].flatMap(
    (m) => (m[1] as string).split(',').map((t) => t.trim()),
  );
  assert.ok(tables.length > 0, `${file}: the SQL grants SELECT on the triggers' tables`);
  // The source settings the docs pair with the SQL, e.g. `source: {publication: walhook, manage_publication: false}`.
  const sourceText = /`source: (\{[^`]+\})`/.exec(after)?.[1];
  assert.ok(sourceText, `${file}: the source settings follow the SQL`);
  const source = parse(sourceText) as Record<string, unknown>;

  const db = await startDatabase('app');
  const receiver = await startReceiver();
  const clients: pg.Client[] = [];
  let walhook: WalhookProcess | undefined;
  try {
    // The user's database before walhook: tables owned by a role that is neither superuser nor
    // owner of the database. Postgres 14 lets every role create in public; 15 and later do not.
    await db.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await db.query(
      `CREATE ROLE ${OWNER} LOGIN PASSWORD '${OWNER_PASSWORD}' NOSUPERUSER NOCREATEDB NOCREATEROLE`,
    );
    for (const table of [...tables, 'public.new_table']) {
      await db.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, status text)`);
      await db.query(`ALTER TABLE ${table} OWNER TO ${OWNER}`);
    }
    const ownerUrl = db.url.replace('postgres:walhook@', `${OWNER}:${OWNER_PASSWORD}@`);
    const owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    clients.push(owner);

    for (const step of steps) {
      const client = roleOf(step.as) === 'superuser' ? db.client : owner;
      // The docs elide the password; everything else runs as written.
      for (const statement of step.sql.replaceAll(`'…'`, `'${ROLE_PASSWORD}'`).split(/;\s*(?:--[^\n]*)?\n/)) {
        if (!statement.replace(/--[^\n]*/g, '').trim()) continue;
        await client.query(statement).catch((err: Error) => {
          throw new Error(`${file}: as ${step.as}: ${statement.trim()}\n  failed: ${err.message}`);
        });
      }
    }

    const env = {
      DATABASE_URL: db.url.replace('postgres:walhook@', `${role}:${ROLE_PASSWORD}@`),
      RECEIVER: receiver.url,
    };
    const settings = Object.entries(source)
      .map(([key, value]) => `\n  ${key}: ${JSON.stringify(value)}`)
      .join('');
    const yaml = `
source:
  connection: \${DATABASE_URL}
  slot: docs_setup${settings}
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:${tables
      .map(
        (table, i) => `
  - name: t${i}
    table: ${table}
    operations: [insert]
    webhook: \${RECEIVER}/${table}`,
      )
      .join('')}
`;
    const validated = await runCli(['validate', '--config', await writeConfig(yaml)], { ...env, PORT: '0' });
    assert.equal(
      validated.code,
      0,
      `${file}: walhook validate as ${role}:\n${validated.stdout}${validated.stderr}`,
    );
    assert.doesNotMatch(validated.stdout, /^error /m);

    walhook = await WalhookProcess.start(yaml, env);
    const first = tables[0] as string;
    await owner.query(`INSERT INTO ${first} VALUES (1, 'new')`);
    const [delivery] = await receiver.waitFor(1, `/${first}`);
    assert.equal(delivery?.body.event.op, 'INSERT');
    assert.deepEqual(delivery?.body.event.data.new, { id: 1, status: 'new' });
    const sender = await db.query(
      `SELECT usename FROM pg_stat_replication WHERE application_name = 'walhook'`,
    );
    assert.deepEqual(sender.rows, [{ usename: role }], 'walhook streams as the role the docs create');
    assert.equal(await walhook.stop(), 0);
    walhook = undefined;
  } finally {
    await walhook?.stop('SIGKILL');
    for (const client of clients) await client.end();
    await receiver.close();
    await db.close();
  }
}

test("README's setup SQL, as written, gives a role walhook validates and runs with", async () => {
  await walk('README.md');
  // The URL the README exports is the role and database its SQL sets up.
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const url = new URL(/export DATABASE_URL=(\S+)/.exec(readme)?.[1] ?? 'missing:');
  const { steps } = await setupSteps('README.md');
  const role = /CREATE ROLE (\w+)/.exec(steps.map((s) => s.sql).join(''))?.[1];
  assert.equal(url.username, role);
  assert.equal(url.pathname, '/app');
});

test("docs/security.md's least-privilege SQL, as written, gives a role walhook validates and runs with", async () => {
  await walk('docs/security.md');
});
