/**
 * How deeply a client's JSON may nest objects and arrays: a frame, counting the frame's own object,
 * and each JSON string inside one (`channel_data`, `user_data`). Deeper input is refused before it is
 * parsed (docs/pusher.md, "WebSocket protocol"): nothing a client means to say needs more, and the recursive
 * encoders the server runs on that data (`JSON.stringify`) overflow the stack some thousands of levels
 * down.
 */
export const MAX_JSON_DEPTH = 64;

export const TOO_DEEP = `nested deeper than ${MAX_JSON_DEPTH} levels`;

/**
 * True when JSON `text` opens more than `limit` objects or arrays inside one another. One pass over the
 * characters, no recursion and no allocation; brackets inside strings do not count. Meant for text
 * that is then parsed: on text that is not JSON its answer is only a guess, and the parser decides.
 */
export function jsonTooDeep(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}
