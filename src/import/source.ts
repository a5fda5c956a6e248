import { parseConfigText } from '../config/file.js';
import { ImportError, isObject, type Json, safeKey } from './notes.js';

/**
 * A peer's JSON or YAML file (YAML when named `.yaml` or `.yml`, as Herald's own files), read by the
 * same parser as `--config` so that a syntax error names its line; anything but a mapping at the top
 * is refused.
 */
export function readObjectFile(text: string, file: string): Json {
  const problems: string[] = [];
  const parsed = parseConfigText(file, text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, problems);
  if (!parsed) throw new ImportError(problems.join('; ') || `${file}: not readable`);
  return parsed.settings;
}

/**
 * Sets `value` at a dotted path the way soketi's options are set (`dot-wild`'s `set`): missing
 * objects are made on the way (an array when the next part is a number), and a value already there
 * is replaced. Parts that would write an object's prototype are refused: false is returned.
 */
export function setDotted(tree: Json, path: string, value: unknown): boolean {
  const parts = path.split('.');
  if (parts.some((p) => p === '' || !safeKey(p))) return false;
  let node: Json | unknown[] = tree;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i]!;
    const index = Array.isArray(node) ? arrayIndex(part) : undefined;
    if (Array.isArray(node) && index === undefined) return false;
    const holder = node as Record<string, unknown>;
    const key = index ?? part;
    let next = Object.hasOwn(holder, key) ? holder[key] : undefined;
    if (!isObject(next) && !Array.isArray(next)) {
      next = arrayIndex(parts[i + 1]!) !== undefined ? [] : {};
      holder[key] = next;
    }
    node = next as Json | unknown[];
  }
  const last = parts[parts.length - 1]!;
  if (Array.isArray(node)) {
    const index = arrayIndex(last);
    if (index === undefined) return false;
    node[index] = value;
  } else {
    node[last] = value;
  }
  return true;
}

/** Array indices a file may reasonably write; larger ones would make huge sparse arrays. */
const MAX_INDEX = 1000;

function arrayIndex(part: string): number | undefined {
  if (!/^\d{1,4}$/.test(part)) return undefined;
  const n = Number(part);
  return n <= MAX_INDEX ? n : undefined;
}
