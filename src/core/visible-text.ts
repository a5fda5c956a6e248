/** Control, format, line and paragraph separator characters (Unicode categories C, Zl and Zp). */
const INVISIBLE = /[\p{C}\p{Zl}\p{Zp}]/gu;

/**
 * `text` with every control, format and separator character written as `\uXXXX`: what goes to a
 * terminal or a log stays one line of text whoever chose it (a client's frame, a key in a file), and
 * cannot move the cursor or change colours.
 */
export function visibleText(text: string): string {
  return text.replace(INVISIBLE, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}
