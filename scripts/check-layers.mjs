// Fails when a module of src/ imports one of a higher layer (docs/architecture.md lists the layers).
// Biome's noImportCycles catches file-level cycles; this catches a folder leaning on one above it,
// which is how folder-level cycles start. Plain JavaScript: it runs in the lint step without tsx.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Low to high: a folder may import its own modules and those of the folders before it. */
export const LAYERS = [
  'core',
  'source',
  'triggers',
  'sinks',
  'checkpoint',
  'dead-letters',
  'invocation-log',
  'backfill',
  'config',
  'preflight',
  'service',
  'server',
  'commands',
  'cli.ts',
];

const SRC = resolve(import.meta.dirname, '..', 'src');
const SPECIFIER =
  /(?:^|[\s;])(?:import|export)\b[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

async function* modules(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* modules(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

/** The layer of a path inside src/: its first folder, or the file itself at the top. */
function layerOf(path) {
  const [first] = relative(SRC, path).split(sep);
  return LAYERS.indexOf(first);
}

const problems = [];
for await (const file of modules(SRC)) {
  const from = layerOf(file);
  if (from === -1)
    problems.push(
      `${relative(SRC, file)}: in no layer; add its folder to LAYERS in scripts/check-layers.mjs`,
    );
  const text = await readFile(file, 'utf8');
  for (const match of text.matchAll(SPECIFIER)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (!specifier?.startsWith('.')) continue;
    const target = resolve(dirname(file), specifier);
    const to = layerOf(target);
    if (to > from) {
      problems.push(
        `src/${relative(SRC, file)} imports ${specifier}: ${LAYERS[from]} may not import ${LAYERS[to]}, a higher layer (docs/architecture.md)`,
      );
    }
  }
}
for (const line of problems) console.error(line);
if (problems.length > 0) process.exit(1);
