// Writes dist/herald-recovery.global.js, for a <script> tag without a bundler: the ES module tsc
// wrote, its `export function`s made local to a function that puts them on `window.HeraldRecovery`.
import { readFile, writeFile } from 'node:fs/promises';

const dist = new URL('./dist/', import.meta.url);
const module = await readFile(new URL('herald-recovery.js', dist), 'utf8');
const names = [...module.matchAll(/^export function (\w+)/gm)].map((m) => m[1]);
const body = module.replace(/^export function /gm, 'function ');
if (names.length === 0 || /^\s*(export|import)\b/m.test(body)) {
  throw new Error(
    'herald-recovery.js has imports or exports other than `export function`: update build-global.mjs',
  );
}
const global = `(function (root) {\n${body}\nroot.HeraldRecovery = { ${names.join(', ')} };\n})(typeof globalThis !== 'undefined' ? globalThis : window);\n`;
await writeFile(new URL('herald-recovery.global.js', dist), global);
