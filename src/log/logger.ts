import { type Logger, pino } from 'pino';
import type { Config } from '../config/schema.js';
import { prettyDestination } from './pretty.js';

/** Where the process's logs go, and what `logFormat` reads when it is unset. */
export interface LogOutput {
  /** Whether standard output is a terminal. @default process.stdout.isTTY */
  tty?: boolean;
  /** For `NO_COLOR` (https://no-color.org). @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** `logFormat`, or what it means unset: `pretty` on a terminal, `json` otherwise. */
export function logFormat(config: Pick<Config, 'logFormat'>, output: LogOutput = {}): 'pretty' | 'json' {
  return config.logFormat ?? ((output.tty ?? process.stdout.isTTY) ? 'pretty' : 'json');
}

/**
 * The process's logger on standard output: JSON lines (pino), or one readable line each. Both write
 * synchronously, so that the last line before an exit is not lost.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, output: LogOutput = {}): Logger {
  if (logFormat(config, output) === 'json') return pino({ level: config.logLevel });
  const tty = output.tty ?? process.stdout.isTTY === true;
  const env = output.env ?? process.env;
  const colours = tty && (env.NO_COLOR === undefined || env.NO_COLOR === '');
  return pino(
    { level: config.logLevel },
    prettyDestination(pino.destination({ dest: 1, sync: true }), { colours }),
  );
}
