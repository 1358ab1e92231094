/**
 * Text as Haskell's Data.Text has it, for Kriti's string functions: strings are sequences of code
 * points (an emoji is one character to `size`, `head`, `tail` and `inverse`), cannot hold a lone
 * surrogate, and case conversion follows Data.Text's (no final-sigma rule, folding per code point).
 */

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** Data.Char.isSpace: the Unicode space separators plus tab, newlines, vertical tab and form feed. */
const BLANK = /^[\t\n\v\f\r\p{Zs}]*$/u;
const LETTER = /\p{L}/u;
const ASCII = /^[\0-\x7f]*$/;
/** Network.URI's unreserved characters, which escapeUri leaves as they are. */
const URI_UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** The string with each lone surrogate replaced by U+FFFD, as Data.Text stores it. */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

export function codePointLength(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit < 0xdc00) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        length--;
        i++;
      }
    }
  }
  return length;
}

/** The width in UTF-16 units of the first code point. */
export function firstCodePointWidth(text: string): number {
  const first = text.codePointAt(0);
  return first !== undefined && first > 0xffff ? 2 : 1;
}

export function reverseCodePoints(text: string): string {
  return Array.from(text).reverse().join('');
}

/** Data.Text.strip's idea of empty: nothing but white space. */
export function isBlank(text: string): boolean {
  return BLANK.test(text);
}

export function toLower(text: string): string {
  // JavaScript lowers a word-final Σ to ς; Data.Text always to σ.
  return text.replaceAll('Σ', 'σ').toLowerCase();
}

export function toUpper(text: string): string {
  return text.toUpperCase();
}

/**
 * Full case folding, as Data.Text.toCaseFold: lower case after upper case gives it per character
 * (ß → ss, ς → σ, ﬁ → fi), except the few whose fold is not their lower-cased upper case.
 */
export function toCaseFold(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase();
  let result = '';
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (code === 0x130) result += 'i\u0307';
    else if (code === 0x131) result += char;
    // Cherokee folds to its capital letters, the other way round from every other script.
    else if ((code >= 0xab70 && code <= 0xabbf) || (code >= 0x13f8 && code <= 0x13fd))
      result += char.toUpperCase();
    else if (code >= 0x13a0 && code <= 0x13f5) result += char;
    else result += char.toUpperCase().toLowerCase();
  }
  return result;
}

/**
 * Data.Text.toTitle: the first letter of each run of letters in title case, the others in lower case;
 * anything not a letter (digits, apostrophes) ends a run.
 */
export function toTitle(text: string): string {
  let result = '';
  let inWord = false;
  for (const char of text) {
    const letter = LETTER.test(char);
    if (!letter) result += char;
    else if (inWord) result += toLower(char);
    else result += titleCase(char);
    inWord = letter;
  }
  return result;
}

const TITLE_DIGRAPHS: Record<string, string> = {
  Ǆ: 'ǅ',
  ǅ: 'ǅ',
  ǆ: 'ǅ',
  Ǉ: 'ǈ',
  ǈ: 'ǈ',
  ǉ: 'ǈ',
  Ǌ: 'ǋ',
  ǋ: 'ǋ',
  ǌ: 'ǋ',
  Ǳ: 'ǲ',
  ǲ: 'ǲ',
  ǳ: 'ǲ',
};

function titleCase(char: string): string {
  const digraph = TITLE_DIGRAPHS[char];
  if (digraph !== undefined) return digraph;
  // Where upper case is several letters (ß → SS, ﬁ → FI) title case capitalises only the first.
  const [first = '', ...rest] = Array.from(char.toUpperCase());
  return first + rest.join('').toLowerCase();
}

/** Network.URI.escapeURIString isUnreserved: everything but ASCII letters, digits and `-_.~` as %XX of its UTF-8. */
export function escapeUri(text: string): string {
  let result = '';
  for (const char of wellFormed(text)) {
    if (URI_UNRESERVED.test(char)) result += char;
    else
      for (const byte of Buffer.from(char, 'utf8'))
        result += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return result;
}
