import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { withColumnsTable } from '../apps/columns-doc.js';
import { configurationReference } from './reference.js';

/**
 * `npm run docs`: writes `docs/configuration.md` from the config schema, and the columns of an apps
 * table in `docs/apps.md` from the app schema (run from `dist/src/config/`).
 */
const docs = (name: string) => fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url));
await writeFile(docs('configuration.md'), configurationReference());
const apps = docs('apps.md');
await writeFile(apps, withColumnsTable(await readFile(apps, 'utf8')));
process.stdout.write(`wrote ${docs('configuration.md')} and the columns of ${apps}\n`);
