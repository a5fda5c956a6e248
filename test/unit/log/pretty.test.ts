import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { prettyDestination, prettyLine } from '../../../src/log/pretty.js';

/** What a pino logger writing through `prettyDestination` prints, line by line. */
function printed(log: (logger: pino.Logger) => void, colours = false): string[] {
  const out: string[] = [];
  const logger = pino(
    { level: 'trace' },
    prettyDestination({ write: (s: string) => out.push(s) }, { colours }),
  );
  log(logger);
  return out.join('').split('\n').slice(0, -1);
}

describe('prettyLine', () => {
  test('time, level and message, then the fields as key=value, one line', () => {
    const [line, ...rest] = printed((l) => l.info({ port: 6001, host: '0.0.0.0', ok: true }, 'listening'));
    assert.deepEqual(rest, []);
    assert.match(line!, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}listening port=6001 host=0\.0\.0\.0 ok=true$/);
  });

  test('strings with spaces or control characters are quoted and escaped; JSON frames stay readable', () => {
    const [line] = printed((l) =>
      l.warn(
        {
          frame: '{"event":"pusher:ping","data":{}}',
          reason: 'gone away',
          evil: '\u001b[31mred\n',
          empty: '',
        },
        'note\u001b[2J\nnext',
      ),
    );
    assert.ok(
      line!.endsWith(
        'WARN  note\\u001b[2J\\u000anext frame={"event":"pusher:ping","data":{}} reason="gone away" ' +
          'evil="\\u001b[31mred\\n" empty=""',
      ),
      line,
    );
  });

  test("an error's message goes on the line, its stack below it, indented", () => {
    const err = new Error('broker down');
    const lines = printed((l) => l.error({ err }, 'cut off'));
    assert.match(lines[0]!, /ERROR cut off err="broker down"$/);
    assert.ok(lines.length > 1);
    for (const line of lines.slice(1)) assert.match(line, /^\s+at /);
  });

  test('levels by name; colours only when asked', () => {
    const lines = printed((l) => {
      l.trace('t');
      l.debug('d');
      l.fatal('f');
    });
    assert.deepEqual(
      lines.map((line) => line.slice(13)),
      ['TRACE t', 'DEBUG d', 'FATAL f'],
    );
    const [coloured] = printed((l) => l.info('c'), true);
    assert.ok(coloured!.endsWith('\x1b[32mINFO \x1b[0m c'), JSON.stringify(coloured));
  });

  test('a line that is not JSON passes through', () => {
    assert.equal(prettyLine('plain text'), 'plain text\n');
  });
});
