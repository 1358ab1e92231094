#!/usr/bin/env node
// Checks every relative link in README.md and docs/*.md: the file (or folder) it names exists, and a
// #fragment names a heading (or an explicit id) of its target. Links to other sites are not fetched.
// Usage: node scripts/check-links.mjs [ROOT]   (ROOT defaults to the repository); exit 1 on a broken link.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));

function markdownFiles() {
  const files = [];
  if (existsSync(join(root, 'README.md'))) files.push(join(root, 'README.md'));
  const docs = join(root, 'docs');
  if (existsSync(docs)) {
    for (const name of readdirSync(docs).sort()) if (name.endsWith('.md')) files.push(join(docs, name));
  }
  return files;
}

/** The lines of a Markdown file that are prose: fenced code blocks blanked, line numbers kept. */
function proseLines(text) {
  let fence = null;
  return text.split('\n').map((line) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence !== null) {
      if (marker && marker[1][0] === fence[0] && marker[1].length >= fence.length) fence = null;
      return '';
    }
    if (marker) {
      fence = marker[1];
      return '';
    }
    return line;
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(file) {
  const anchors = new Set();
  const seen = new Map();
  for (const line of proseLines(readFileSync(file, 'utf8'))) {
    for (const match of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(match[1]);
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/[`*]/g, '');
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Inline links and images `[text](target "title")` and reference definitions `[id]: target`. */
function linksOf(line) {
  const withoutCode = line.replace(/`+[^`]*`+/g, (code) => ' '.repeat(code.length));
  const targets = [];
  for (const match of withoutCode.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) {
    targets.push(match[1].replace(/^<|>$/g, ''));
  }
  const definition = /^ {0,3}\[[^\]]+\]:\s*(\S+)/.exec(withoutCode);
  if (definition) targets.push(definition[1].replace(/^<|>$/g, ''));
  return targets;
}

const anchorCache = new Map();
const problems = [];
for (const file of markdownFiles()) {
  const lines = proseLines(readFileSync(file, 'utf8'));
  lines.forEach((line, index) => {
    for (const target of linksOf(line)) {
      // A scheme (https:, mailto:) or a protocol-relative address is another site's.
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
      const [pathPart, fragment] = target.split('#', 2);
      const path = decodeURIComponent(pathPart.split('?')[0]);
      const targetFile = path === '' ? file : resolve(dirname(file), path);
      const where = `${relative(root, file)}:${index + 1}`;
      if (!existsSync(targetFile)) {
        problems.push(`${where}: ${target}: ${relative(root, targetFile)} does not exist`);
        continue;
      }
      if (fragment === undefined || fragment === '' || !targetFile.endsWith('.md')) continue;
      if (statSync(targetFile).isDirectory()) continue;
      if (!anchorCache.has(targetFile)) anchorCache.set(targetFile, anchorsOf(targetFile));
      if (!anchorCache.get(targetFile).has(decodeURIComponent(fragment).toLowerCase())) {
        problems.push(`${where}: ${target}: ${relative(root, targetFile)} has no heading #${fragment}`);
      }
    }
  });
}

if (problems.length > 0) {
  for (const problem of problems) process.stderr.write(`${problem}\n`);
  process.stderr.write(`${problems.length} broken link${problems.length === 1 ? '' : 's'}\n`);
  process.exit(1);
}
