import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfigs } from '../../src/config/load.js';
import { isWalhookError } from '../../src/core/errors.js';
import { ROOT } from '../helpers/walhook.js';

/**
 * The config error messages the docs show are the CLI's own. A documented message is a line of a
 * fenced block, or an inline code span, that starts with `walhook.yaml:`. Next to it the Markdown
 * keeps the file that causes it in a hidden comment:
 *
 *   <!-- config-error (anything else on this line is a note)
 *   source: { connection: postgres://localhost/app }
 *   -->
 *
 * or `<!-- config-error: no file -->` for a file that does not exist. Each such file goes through the
 * config loader as `walhook validate --config walhook.yaml` run from its folder reads it, and its one
 * line must be among the messages the same Markdown file shows; each message shown must come from one
 * of its files. The loader runs in this process (a CLI start per example would take seconds each); the
 * last test shows the CLI prints the loader's line unchanged.
 */

const NO_FILE = '<!-- config-error: no file -->';

interface Example {
  yaml: string | null;
  line: number;
}

async function markdownFiles(): Promise<string[]> {
  const docs = (await readdir(join(ROOT, 'docs'))).filter((name) => name.endsWith('.md')).sort();
  return ['README.md', ...docs.map((name) => `docs/${name}`)];
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

function examplesOf(text: string): Example[] {
  const examples: Example[] = [];
  for (const match of text.matchAll(/<!-- config-error([^\n]*?)(?:-->|\n([\s\S]*?)-->)/g)) {
    const line = lineOf(text, match.index);
    if (match[0] === NO_FILE) examples.push({ yaml: null, line });
    else if (match[2] !== undefined) examples.push({ yaml: match[2], line });
    else throw new Error(`line ${line}: a config-error comment holds no file: ${match[0]}`);
  }
  return examples;
}

/** Every `walhook.yaml:` message the reader sees: comments left out, fenced lines and inline code. */
function documentedMessages(text: string): Set<string> {
  const visible = text.replace(/<!--[\s\S]*?-->/g, '');
  const messages = new Set<string>();
  let fenced = false;
  const prose: string[] = [];
  for (const line of visible.split('\n')) {
    if (/^ {0,3}(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (fenced) {
      if (line.trim().startsWith('walhook.yaml:')) messages.add(line.trim());
    } else {
      prose.push(line);
    }
  }
  // An inline code span may wrap onto the next line, where Markdown reads the line break as a space.
  for (const match of prose.join('\n').matchAll(/`(walhook\.yaml:[^`]+)`/g)) {
    messages.add((match[1] as string).replace(/\s*\n\s*/g, ' '));
  }
  return messages;
}

/**
 * The loader's one line for `example`, read as `walhook validate --config walhook.yaml` reads it: the
 * path relative to the folder holding the file, and no environment to interpolate from.
 */
async function loaderMessage(example: Example): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'walhook-docs-'));
  const cwd = process.cwd();
  try {
    if (example.yaml !== null) await writeFile(join(dir, 'walhook.yaml'), example.yaml);
    process.chdir(dir);
    await loadConfigs('walhook.yaml', {});
  } catch (err) {
    if (!isWalhookError(err)) throw err;
    assert.equal(err.exitCode, 2, `a config error exits 2: ${err.message}`);
    return err.message;
  } finally {
    process.chdir(cwd);
    await rm(dir, { recursive: true, force: true });
  }
  throw new Error(`line ${example.line}: the file loads without error:\n${example.yaml}`);
}

/** The real CLI, from the folder holding the file. */
async function validateCli(
  example: Example,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'walhook-docs-'));
  try {
    if (example.yaml !== null) await writeFile(join(dir, 'walhook.yaml'), example.yaml);
    // tsx by its path: resolved from this folder, not from the user's.
    const tsx = fileURLToPath(import.meta.resolve('tsx'));
    const child = spawn(
      process.execPath,
      ['--import', tsx, join(ROOT, 'src/cli.ts'), 'validate', '--config', 'walhook.yaml'],
      { cwd: dir, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stdout, stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('every config error the docs show is what walhook validate prints for the file beside it', async () => {
  let checked = 0;
  for (const file of await markdownFiles()) {
    const text = await readFile(join(ROOT, file), 'utf8');
    const documented = documentedMessages(text);
    const examples = examplesOf(text);
    const produced = new Map<string, number>();
    for (const example of examples) {
      const message = await loaderMessage(example);
      assert.ok(
        documented.has(message),
        `${file}:${example.line}: walhook prints\n  ${message}\nwhich ${file} does not show; it shows:\n  ${[...documented].join('\n  ')}`,
      );
      produced.set(message, example.line);
      checked += 1;
    }
    const unbacked = [...documented].filter((message) => !produced.has(message));
    assert.deepEqual(
      unbacked,
      [],
      `${file} shows messages no config-error comment in it produces (add the file that causes each)`,
    );
  }
  // The convention is in use: a parser that found nothing would pass vacuously.
  assert.ok(checked >= 20, `only ${checked} examples found`);
});

test("the CLI prints the loader's line as it is: the README's example through walhook validate", async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const [example] = examplesOf(readme);
  assert.ok(example, 'the README has a config-error example');
  const result = await validateCli(example);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, `${await loaderMessage(example)}\n`);
  assert.ok(documentedMessages(readme).has(result.stderr.trimEnd()));
});
