import { jsonString, MalformedText, orString, type ValueRenderer } from './scalars.js';

export interface CompositeField {
  name: string;
  render: ValueRenderer;
}

/**
 * Composites as composite_to_json renders them: an object keyed by the type's attribute names, in
 * attribute order, each value rendered by the attribute's type. The text is record_out's: fields in
 * parentheses separated by commas, nothing at all for NULL, double quotes around a field that is
 * empty or holds a quote, backslash, parenthesis, comma or space, and inside a field a quote or
 * backslash doubled (record_in also reads a backslash escape, which is followed here too).
 */
export function compositeRenderer(fields: readonly CompositeField[]): ValueRenderer {
  const keys = fields.map((field) => `${jsonString(field.name)}:`);
  const renders = fields.map((field) => field.render);
  return orString((text) => renderRecord(text, keys, renders));
}

const QUOTE = 34;
const LEFT_PAREN = 40;
const RIGHT_PAREN = 41;
const COMMA = 44;
const BACKSLASH = 92;

function renderRecord(text: string, keys: readonly string[], renders: readonly ValueRenderer[]): string {
  if (text.charCodeAt(0) !== LEFT_PAREN) throw new MalformedText();
  if (keys.length === 0) {
    if (text !== '()') throw new MalformedText();
    return '{}';
  }
  let pos = 1;
  let json = '{';
  for (let f = 0; f < keys.length; f++) {
    if (f > 0) json += ',';
    let value = '';
    let from = pos;
    let quoted = false;
    let inQuotes = false;
    for (;;) {
      const code = text.charCodeAt(pos);
      if (Number.isNaN(code)) throw new MalformedText();
      if (!inQuotes && (code === COMMA || code === RIGHT_PAREN)) break;
      if (code === BACKSLASH) {
        value += text.slice(from, pos);
        from = pos + 1;
        pos += 2;
      } else if (code === QUOTE) {
        value += text.slice(from, pos);
        if (inQuotes && text.charCodeAt(pos + 1) === QUOTE) {
          // The second quote of the pair starts the next run of the value.
          from = pos + 1;
          pos += 2;
        } else {
          inQuotes = !inQuotes;
          quoted = true;
          pos++;
          from = pos;
        }
      } else {
        pos++;
      }
    }
    value += text.slice(from, pos);
    // An empty unquoted field is NULL; `""` is the empty string.
    json += keys[f] + (value === '' && !quoted ? 'null' : (renders[f] as ValueRenderer)(value));
    if (text.charCodeAt(pos++) !== (f === keys.length - 1 ? RIGHT_PAREN : COMMA)) throw new MalformedText();
  }
  if (pos !== text.length) throw new MalformedText();
  return `${json}}`;
}
