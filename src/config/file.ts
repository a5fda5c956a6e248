import { readFile } from 'node:fs/promises';
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type YAMLError,
} from 'yaml';
import { jsonSyntaxError } from './json-syntax.js';

type Json = Record<string, unknown>;

/** A configuration file's settings, and where in the file each of them is written. */
export interface ConfigFile {
  readonly name: string;
  readonly settings: Json;
  /** The line that writes the setting at `path`, or the deepest part of it the file has; undefined when none. */
  line(path: readonly PropertyKey[]): number | undefined;
}

/** Syntax errors listed per file; a broken file rarely has more worth reading. */
const MAX_SYNTAX_ERRORS = 5;
/** Aliases one YAML file may expand, against "billion laughs" files. */
const MAX_ALIAS_COUNT = 100;

/** `.yaml` and `.yml` files are YAML (1.2, the core schema); any other file is JSON. */
const isYamlFile = (file: string) => /\.ya?ml$/i.test(file);

/**
 * Reads a JSON or YAML configuration file. Every way it can be unusable (unreadable, not valid JSON or
 * YAML, not a mapping at the top) becomes a problem naming the file (and the line, for syntax), and
 * the result is then undefined.
 */
export async function readConfigFile(file: string, problems: string[]): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    problems.push(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return undefined;
  }
  return parseConfigText(file, text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, problems);
}

/** `readConfigFile` once the text is read; `file` decides the format and names the problems. */
export function parseConfigText(file: string, text: string, problems: string[]): ConfigFile | undefined {
  return isYamlFile(file) ? parseYaml(file, text, problems) : parseJson(file, text, problems);
}

function parseJson(file: string, text: string, problems: string[]): ConfigFile | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // V8's message quotes the whole file and gives no line: find the spot ourselves.
    const { offset, message } = jsonSyntaxError(text);
    const { line, col } = linePosition(text, offset);
    problems.push(`${file}: not valid JSON at line ${line}, column ${col}: ${message}`);
    return undefined;
  }
  if (!isObject(parsed)) {
    problems.push(`${file}: must hold a JSON object`);
    return undefined;
  }
  // JSON is YAML: its document, read only when a problem needs a line, locates the settings.
  let located: Located | null | undefined;
  const line = (path: readonly PropertyKey[]) => {
    if (located === undefined) {
      try {
        located = yamlDocument(text);
      } catch {
        // Nested too deep for the YAML parser: the problems are still listed, without lines.
        located = null;
      }
    }
    return located && located.errors.length === 0 ? lineOf(located, path) : undefined;
  };
  return { name: file, settings: parsed, line };
}

function parseYaml(file: string, text: string, problems: string[]): ConfigFile | undefined {
  let located: Located;
  let parsed: unknown;
  try {
    located = yamlDocument(text);
    if (located.errors.length > 0) {
      for (const error of located.errors.slice(0, MAX_SYNTAX_ERRORS)) {
        const { line, col } = located.lines.linePos(error.pos[0]);
        problems.push(`${file}: not valid YAML at line ${line}, column ${col}: ${firstLine(error.message)}`);
      }
      const more = located.errors.length - MAX_SYNTAX_ERRORS;
      if (more > 0) problems.push(`${file}: ${more} more YAML errors`);
      return undefined;
    }
    parsed = located.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // Too many aliases, or nesting too deep to convert: the file is refused, not the process.
    problems.push(`${file}: not usable YAML (${firstLine((err as Error).message)})`);
    return undefined;
  }
  // A file with nothing but comments sets nothing.
  if (parsed === null || parsed === undefined) return { name: file, settings: {}, line: () => undefined };
  if (!isObject(parsed)) {
    problems.push(`${file}: must hold a YAML mapping of settings`);
    return undefined;
  }
  return { name: file, settings: parsed, line: (path) => lineOf(located, path) };
}

interface Located {
  doc: Document.Parsed;
  lines: LineCounter;
  errors: YAMLError[];
}

function yamlDocument(text: string): Located {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  return { doc, lines, errors: doc.errors };
}

/** Walks `path` down the document: the line of the last key or item of it that the file has. */
function lineOf({ doc, lines }: Located, path: readonly PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      node = node.items[segment];
      offset = (node as Node).range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

function linePosition(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: offset - start + 1 };
}

const firstLine = (message: string) => message.split('\n', 1)[0]!;

const isObject = (value: unknown): value is Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
