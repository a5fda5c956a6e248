/**
 * Where a text that `JSON.parse` refused first breaks the JSON grammar (RFC 8259), and how: V8's own
 * message gives no position and quotes the whole text. A scan with an explicit stack, so that any
 * nesting depth is fine.
 */
export function jsonSyntaxError(text: string): { offset: number; message: string } {
  const closers: string[] = [];
  let i = skipSpace(text, 0);
  let expect: 'value' | 'key' | 'next' = 'value';
  for (;;) {
    if (expect === 'next') {
      i = skipSpace(text, i);
      const closer = closers.at(-1);
      if (closer === undefined) {
        return i < text.length
          ? unexpected(text, i, 'after the end of the JSON value')
          : { offset: i, message: 'not valid JSON' };
      }
      if (text[i] === closer) {
        closers.pop();
        i++;
      } else if (text[i] === ',') {
        i = skipSpace(text, i + 1);
        expect = closer === '}' ? 'key' : 'value';
      } else {
        return unexpected(text, i, `where "," or "${closer}" belongs`);
      }
      continue;
    }
    if (expect === 'key') {
      if (text[i] !== '"') return unexpected(text, i, 'where a quoted key belongs');
      const end = stringEnd(text, i);
      if (typeof end !== 'number') return end;
      i = skipSpace(text, end);
      if (text[i] !== ':') return unexpected(text, i, 'where ":" belongs');
      i = skipSpace(text, i + 1);
      expect = 'value';
      continue;
    }
    const c = text[i];
    if (c === '{' || c === '[') {
      i = skipSpace(text, i + 1);
      const closer = c === '{' ? '}' : ']';
      if (text[i] === closer) {
        i++;
        expect = 'next';
      } else {
        closers.push(closer);
        expect = c === '{' ? 'key' : 'value';
      }
      continue;
    }
    if (c === '"') {
      const end = stringEnd(text, i);
      if (typeof end !== 'number') return end;
      i = end;
    } else {
      const token = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
      token.lastIndex = i;
      if (!token.test(text)) return unexpected(text, i, 'where a value belongs');
      i = token.lastIndex;
    }
    expect = 'next';
  }
}

/** The index after the string that opens at `open`, or what is wrong inside it. */
function stringEnd(text: string, open: number): number | { offset: number; message: string } {
  for (let i = open + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) return i + 1;
    if (code < 0x20) return { offset: i, message: 'control character in a string (escape it)' };
    if (code === 0x5c) {
      const escapeSequence = /["\\/bfnrt]|u[0-9a-fA-F]{4}/y;
      escapeSequence.lastIndex = i + 1;
      if (!escapeSequence.test(text)) return { offset: i, message: 'invalid escape in a string' };
      i = escapeSequence.lastIndex - 1;
    }
  }
  return { offset: text.length, message: 'unexpected end of the file inside a string' };
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  return i;
}

function unexpected(text: string, at: number, where: string): { offset: number; message: string } {
  if (at >= text.length) return { offset: at, message: `unexpected end of the file ${where}` };
  const c = text.codePointAt(at)!;
  // Printable ASCII as itself; anything else by its code point, which no terminal interprets.
  const shown =
    c > 0x20 && c < 0x7f
      ? JSON.stringify(String.fromCodePoint(c))
      : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  return { offset: at, message: `unexpected ${shown} ${where}` };
}
