import { ConfigError, parseConfig } from '../config/load.js';
import type { ConfigInput } from '../config/schema.js';
import { CROSSBAR_MALFORMED, importCrossbar } from './crossbar.js';
import { ImportError, type ImportNote, type NoteKind, Notes } from './notes.js';
import { importReverb } from './reverb.js';
import { importSoketi } from './soketi.js';

/**
 * `herald import`: a peer's configuration file as a Herald configuration (docs/migrating.md). The
 * result holds only what the file set, and is checked by Herald's own schema before it is returned,
 * so that what `herald import` prints is a file `herald start --config` accepts.
 */

export const PEERS = ['soketi', 'reverb', 'crossbar'] as const;
export type Peer = (typeof PEERS)[number];

export interface Imported {
  /** The settings to write to a Herald config file. */
  readonly config: ConfigInput;
  /** Each setting of the peer's file that the configuration does not carry, and why. */
  readonly notes: readonly ImportNote[];
}

const IMPORTERS: Record<
  Peer,
  { read: (text: string, file: string, notes: Notes) => ConfigInput; malformed: NoteKind }
> = {
  soketi: { read: importSoketi, malformed: 'warn' },
  reverb: { read: importReverb, malformed: 'warn' },
  crossbar: { read: importCrossbar, malformed: CROSSBAR_MALFORMED },
};

/** Throws `ImportError` when the file cannot be imported; never anything else for any text. */
export function importConfig(peer: Peer, text: string, file: string): Imported {
  const importer = IMPORTERS[peer];
  const notes = new Notes(importer.malformed);
  const config = importer.read(text, file, notes);
  try {
    parseConfig(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ImportError(
      `${file}: the configuration made from it is not one Herald accepts:\n  ${err.problems.join('\n  ')}`,
    );
  }
  return { config, notes: notes.notes };
}
