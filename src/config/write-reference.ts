import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { configurationReference } from './reference.js';

/** `npm run docs`: writes `docs/configuration.md` from the schema (run from `dist/src/config/`). */
const target = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));
await writeFile(target, configurationReference());
process.stdout.write(`wrote ${target}\n`);
