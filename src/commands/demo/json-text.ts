/**
 * The exact text of the JSON value at `path` inside `json`, so tests compare numbers digit for digit
 * (JSON.parse would round a bigint) and key order as sent.
 */
export function jsonValueText(json: string, path: string[]): string {
  let pos = 0;
  const skipWs = () => {
    while (/\s/.test(json[pos] ?? '')) pos++;
  };
  const skipString = () => {
    pos++;
    while (json[pos] !== '"') pos += json[pos] === '\\' ? 2 : 1;
    pos++;
  };
  const skipValue = () => {
    skipWs();
    const start = pos;
    const c = json[pos];
    if (c === '"') skipString();
    else if (c === '{' || c === '[') {
      let depth = 0;
      do {
        const ch = json[pos];
        if (ch === '"') {
          skipString();
          continue;
        }
        if (ch === '{' || ch === '[') depth++;
        if (ch === '}' || ch === ']') depth--;
        pos++;
      } while (depth > 0);
    } else {
      while (pos < json.length && !/[,}\]\s]/.test(json[pos] as string)) pos++;
    }
    return json.slice(start, pos);
  };
  for (const key of path) {
    skipWs();
    if (json[pos] !== '{') throw new Error(`not an object before key ${key}`);
    pos++;
    for (;;) {
      skipWs();
      const keyStart = pos;
      skipString();
      const name = JSON.parse(json.slice(keyStart, pos)) as string;
      skipWs();
      pos++; // colon
      if (name === key) break;
      skipValue();
      skipWs();
      if (json[pos] === '}') throw new Error(`key ${key} not found`);
      pos++; // comma
    }
  }
  return skipValue();
}
