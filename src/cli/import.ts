import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { visibleText } from '../core/visible-text.js';
import { importConfig, PEERS, type Peer } from '../import/import.js';
import { ImportError } from '../import/notes.js';

const USAGE = `Usage:
  herald import soketi|reverb|crossbar FILE [--format json|yaml]

Reads another server's configuration and prints a Herald configuration for it on standard output:
  soketi     soketi's --config file (config.json), or a .env file of SOKETI_* variables
  reverb     a Laravel .env file with the REVERB_* variables (config/reverb.php is PHP and is not
             read: carry what it sets beyond them by hand, see docs/migrating.md)
  crossbar   Crossbar.io's node configuration (.crossbar/config.json, or config.yaml), which
             herald start --config also takes as it is

Each setting of FILE that the Herald configuration does not carry is named on standard error, with
the reason. docs/migrating.md maps every setting of soketi, Laravel Reverb, laravel-websockets,
Slanger and Crossbar.io to Herald's.

  herald import soketi config.json > herald.json && herald start --config herald.json

Options:
  --format F    json (the default) or yaml
  -h, --help    this text

Exit code 0: printed (warnings or not); 1: FILE cannot be read or imported (why, on standard
error); 2: bad usage.`;

/** Where `herald import` writes; the process's unless a test gives its own. */
export interface ImportIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: ImportIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Runs `herald import <argv>`; resolves with the exit code: 0 printed, 1 not importable, 2 bad usage. */
export async function importCommand(argv: readonly string[], io: ImportIo = processIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.err(`herald import: ${visibleText((err as Error).message)}\n\n${USAGE}\n`);
    return 2;
  }
  if (parsed === 'help') {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const { peer, file, format } = parsed;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    io.err(`herald import: ${visibleText(file)}: cannot be read (${code})\n`);
    return 1;
  }
  let imported: ReturnType<typeof importConfig>;
  try {
    imported = importConfig(peer, text, file);
  } catch (err) {
    if (!(err instanceof ImportError)) throw err;
    io.err(`herald import: ${err.message.split('\n').map(visibleText).join('\n')}\n`);
    return 1;
  }
  for (const { setting, reason } of imported.notes) {
    io.err(`herald import: warning: ${visibleText(setting)}: ${visibleText(reason)}\n`);
  }
  io.out(
    format === 'yaml'
      ? stringify(imported.config, { aliasDuplicateObjects: false })
      : `${JSON.stringify(imported.config, null, 2)}\n`,
  );
  return 0;
}

function parse(argv: readonly string[]): 'help' | { peer: Peer; file: string; format: 'json' | 'yaml' } {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { format: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help || positionals[0] === 'help') return 'help';
  const [peer, file, ...rest] = positionals;
  if (peer === undefined) throw new Error('name the server the file is from: soketi, reverb or crossbar');
  if (!(PEERS as readonly string[]).includes(peer)) {
    throw new Error(`"${peer}" is not one of ${PEERS.join(', ')}`);
  }
  if (file === undefined || rest.length > 0) throw new Error(`herald import ${peer} takes one FILE`);
  const format = values.format ?? 'json';
  if (format !== 'json' && format !== 'yaml') throw new Error(`--format "${format}": json or yaml`);
  return { peer: peer as Peer, file, format };
}
