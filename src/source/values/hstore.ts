import { jsonString, MalformedText, orString } from './scalars.js';

/**
 * hstore's cast to json (hstore_to_json): an object whose values are all strings, NULL as null, with
 * `": "` and `", "` as separators. The text is hstore_out's: `"key"=>"value"` pairs joined by `, `,
 * keys and values double-quoted with `"` and `\` backslash-escaped, an unquoted NULL for SQL NULL,
 * and the empty string for an empty hstore. Both keep hstore's internal key order.
 */
export const hstoreToJson = orString(renderPairs);

const QUOTE = 34;
const BACKSLASH = 92;

function renderPairs(text: string): string {
  if (text === '') return '{}';
  let pos = 0;
  let json = '{';
  const quoted = (): string => {
    if (text.charCodeAt(pos) !== QUOTE) throw new MalformedText();
    let i = pos + 1;
    let from = i;
    let value = '';
    for (;;) {
      const code = text.charCodeAt(i);
      if (code === QUOTE) break;
      if (Number.isNaN(code)) throw new MalformedText();
      if (code === BACKSLASH) {
        value += text.slice(from, i);
        from = i + 1;
        i += 2;
      } else {
        i++;
      }
    }
    pos = i + 1;
    return value + text.slice(from, i);
  };
  for (;;) {
    json += `${jsonString(quoted())}: `;
    if (!text.startsWith('=>', pos)) throw new MalformedText();
    pos += 2;
    if (text.startsWith('NULL', pos)) {
      json += 'null';
      pos += 4;
    } else {
      json += jsonString(quoted());
    }
    if (pos === text.length) return `${json}}`;
    if (!text.startsWith(', ', pos)) throw new MalformedText();
    pos += 2;
    json += ', ';
  }
}
