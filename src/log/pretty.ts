import type { DestinationStream } from 'pino';
import { visibleText } from '../core/visible-text.js';

/** pino's level numbers, by name as `pretty` prints them. */
const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};

/** ANSI colours of the levels, on a terminal that wants them. */
const COLOURS: Readonly<Record<number, string>> = {
  10: '\x1b[90m',
  20: '\x1b[36m',
  30: '\x1b[32m',
  40: '\x1b[33m',
  50: '\x1b[31m',
  60: '\x1b[35m',
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';

/** Fields every pino line has, printed in front or not at all. */
const FRONT = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/**
 * A pino destination that prints each JSON line pino writes as one readable line:
 * `12:00:00.123 INFO  message key=value …`, then an error's stack, indented, when it has one.
 *
 * Strings without spaces or control characters are printed as they are (a frame's JSON stays
 * readable), others as JSON strings;
 * control, format and separator characters never reach the terminal unescaped, whoever chose the
 * text (a client's frame, a channel name).
 */
export function prettyDestination(out: DestinationStream, options: { colours: boolean }): DestinationStream {
  return {
    write(line: string) {
      out.write(prettyLine(line, options.colours));
    },
  };
}

/** One JSON log line as `prettyDestination` prints it, newline included. */
export function prettyLine(line: string, colours = false): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    // Not pino's JSON: nothing to rearrange.
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = typeof record.level === 'number' ? record.level : 30;
  const time = typeof record.time === 'number' ? clock(record.time) : '';
  const name = LEVELS[level] ?? String(level);
  const head = colours ? `${DIM}${time}${RESET} ${COLOURS[level] ?? ''}${name}${RESET}` : `${time} ${name}`;
  let text = `${head} ${visibleText(String(record.msg ?? ''))}`;
  let stack = '';
  for (const [key, value] of Object.entries(record)) {
    if (FRONT.has(key)) continue;
    if (key === 'err' && value !== null && typeof value === 'object') {
      const err = value as { message?: unknown; stack?: unknown };
      text += ` err=${show(err.message ?? '')}`;
      if (typeof err.stack === 'string') stack = err.stack.split('\n').slice(1).map(visibleText).join('\n');
      continue;
    }
    text += ` ${visibleText(key)}=${show(value)}`;
  }
  return `${text}\n${stack ? `${stack}\n` : ''}`;
}

function clock(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function show(value: unknown): string {
  if (typeof value === 'string') {
    return value !== '' && !/[\p{C}\p{Z}]/u.test(value) ? value : visibleText(JSON.stringify(value));
  }
  if (value !== null && typeof value === 'object') return visibleText(JSON.stringify(value));
  return String(value);
}
