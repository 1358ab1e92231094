import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/check-links.mjs');
let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'walhook-links-'));
  await mkdir(join(root, 'docs'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Lays out a README and docs, runs the script on them as `npm run lint` does (plain node). */
async function check(readme: string, docs: Record<string, string> = {}) {
  await rm(join(root, 'docs'), { recursive: true, force: true });
  await mkdir(join(root, 'docs'));
  await writeFile(join(root, 'README.md'), readme);
  for (const [name, text] of Object.entries(docs)) await writeFile(join(root, 'docs', name), text);
  const run = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { code: run.status, stderr: run.stderr };
}

const TARGET = `# Config

## Table names

## \`walhook dlq list [--trigger T]\`

## Pipelines

## Pipelines
`;

test('links to files and headings that exist pass, whatever the heading holds', async () => {
  const result = await check(
    `See [config](docs/config.md), [names](docs/config.md#table-names), [the list](docs/config.md#walhook-dlq-list---trigger-t),
[the second](docs/config.md#pipelines-1), [a folder](docs), [a site](https://example.com/x.md) and [here](#top).

# Top

\`[not a link](docs/nowhere.md)\`

\`\`\`md
[inside a fence](docs/nowhere.md)
\`\`\`
`,
    { 'config.md': `${TARGET}\nBack to [the readme](../README.md#top).\n` },
  );
  assert.deepEqual(result, { code: 0, stderr: '' });
});

test('a link to a missing file fails, naming the file, the line and the target', async () => {
  const result = await check('# Walhook\n\nOperators: [docs/where.md](docs/where.md).\n', {
    'config.md': `${TARGET}\nSee [where.md](where.md) and [ok](config.md).\n`,
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^README\.md:3: docs\/where\.md: docs\/where\.md does not exist$/m);
  assert.match(result.stderr, /^docs\/config\.md:11: where\.md: docs\/where\.md does not exist$/m);
  assert.match(result.stderr, /^2 broken links$/m);
});

test('a fragment naming no heading of its target fails, in other files and in the same one', async () => {
  const result = await check(
    'See [pipelines](docs/config.md#pipeline) and [below](#sink-contract).\n\n## Sinks\n',
    {
      'config.md': TARGET,
    },
  );
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /README\.md:1: docs\/config\.md#pipeline: docs\/config\.md has no heading #pipeline/,
  );
  assert.match(result.stderr, /README\.md:1: #sink-contract: README\.md has no heading #sink-contract/);
});
