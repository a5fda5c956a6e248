import { parseEnv } from 'node:util';
import { ImportError, safeKey } from './notes.js';

/**
 * A `.env` file as Laravel (phpdotenv) and soketi (dotenv) read it: `NAME=value` lines, quotes,
 * comments and `export`, parsed by Node's own `util.parseEnv`; then `${NAME}` references to other
 * variables of the same file are replaced, as phpdotenv does (`REVERB_APP_KEY="${PUSHER_APP_KEY}"`).
 * A reference to a variable the file does not set (or a cycle of them) stays as written and is listed
 * in `unresolved`, since its value lives in an environment the importer cannot see.
 */
export interface EnvFile {
  readonly values: ReadonlyMap<string, string>;
  /** Variables whose value still holds a `${NAME}` the file does not set. */
  readonly unresolved: ReadonlySet<string>;
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const HAS_REFERENCE = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/;
/** A value that references grow past this is left as written: no real setting is that long. */
const MAX_VALUE_LENGTH = 65_536;
/** References followed through other references at most this deep (`A=${B}`, `B=${C}`, …). */
const MAX_CHAIN = 32;

export function readEnvFile(text: string, file: string): EnvFile {
  // A JSON file given where a .env file belongs is a mistake worth naming, not a file of no variables.
  if (/^\s*[{[]/.test(text)) throw new ImportError(`${file}: holds JSON, not NAME=value lines`);
  const raw = new Map(Object.entries(parseEnv(text)).filter(([name]) => safeKey(name)));
  const values = new Map<string, string>();
  const unresolved = new Set<string>();
  // Each variable is expanded once and remembered, so that references cost linear time.
  const resolve = (name: string, path: ReadonlySet<string>): string => {
    const done = values.get(name);
    if (done !== undefined) return done;
    const value = raw.get(name)!;
    const within = new Set(path).add(name);
    let broken = false;
    const expanded = value.replace(REFERENCE, (whole, ref: string) => {
      if (!raw.has(ref) || within.has(ref) || within.size > MAX_CHAIN || unresolved.has(ref)) {
        broken = true;
        return whole;
      }
      return resolve(ref, within);
    });
    const result = expanded.length > MAX_VALUE_LENGTH ? value : expanded;
    if (broken || HAS_REFERENCE.test(result)) unresolved.add(name);
    values.set(name, result);
    return result;
  };
  for (const name of raw.keys()) resolve(name, new Set());
  return { values, unresolved };
}
