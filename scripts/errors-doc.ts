/** Writes docs/errors.md from src/core/errors.ts, the one list of error codes (`npm run docs:errors`). */
import { writeFileSync } from 'node:fs';
import { errorCodes } from '../src/core/errors.js';

const rows = Object.entries(errorCodes).map(
  ([code, { exitCode, description }]) => `| \`${code}\` | ${exitCode} | ${description} |`,
);
const doc = `# Errors

Every error walhook raises has a stable code. Usage and config errors (exit code 2) print one line
that names the file, key path, table or slot and what to do, with no stack trace. Runtime errors are
logged as JSON with a \`code\` field.

| code | exit | meaning |
|---|---|---|
${rows.join('\n')}
`;
writeFileSync(new URL('../docs/errors.md', import.meta.url), doc);
