import { readFileSync } from 'node:fs';

let cached: string | null = null;

/** The package version; this file sits two levels below package.json both in src/core/ and in dist/core/. */
export function version(): string {
  cached ??= (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return cached;
}

export function userAgent(): string {
  return `walhook/${version()}`;
}
