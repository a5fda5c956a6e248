import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import type { Session } from '../../src/core/connection.js';
import { type FrameReader, logFrames, REDACTED } from '../../src/log/frame-log.js';
import { pusherFrameReader } from '../../src/protocol/pusher/frame-log.js';
import { SERIALIZERS } from '../../src/protocol/wamp/codec.js';
import { wampFrameReader } from '../../src/protocol/wamp/frame-log.js';
import { anyJson, fuzz } from './harness.js';

/**
 * The frame log (`--verbose`): whatever else a frame holds and however it is written, a secret in
 * one of the fields it redacts (the `auth` of pusher:subscribe and pusher:signin, WAMP AUTHENTICATE's
 * signature, HELLO's authextra) never reaches a logged line, in any quoting.
 */

const PLACEHOLDER = '\u2603PLACEHOLDER\u2603';

/** `secret` written into JSON text with every character escaped as `\uXXXX`, as a client may. */
const escapedJson = (secret: string) =>
  `"${[...secret].map((c) => [...c].map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')).join('')}"`;

/** The forms in which `secret` would show through in a line. */
function forms(secret: string): string[] {
  const once = JSON.stringify(secret).slice(1, -1);
  return [...new Set([secret, once, JSON.stringify(once).slice(1, -1)])];
}

/** Logs `frame` (text or bytes) in through `reader`'s wrapper; the `frame` field of every line. */
function logged(reader: FrameReader, protocol: string, frame: string | Buffer): string[] {
  const lines: string[] = [];
  // The marker itself may hold a short secret ("re"): only what is not the marker counts.
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => lines.push((JSON.parse(line).frame as string).replaceAll(REDACTED, '\u2022')),
    },
  );
  const noop: Session = {
    onMessage: () => {},
    onBinary: () => {},
    onActivity: () => {},
    onOverflow: () => {},
    onClose: () => {},
  };
  const open = logFrames(() => noop, reader, logger);
  const session = open(
    { send: () => {}, close: () => {}, remoteAddress: '' },
    { params: ['key'], query: new URLSearchParams(), protocol, headers: {} },
  );
  if (typeof frame === 'string') session.onMessage(frame, frame.length);
  else session.onBinary(frame);
  return lines;
}

const secretArb = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
const otherFields = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((k) => k !== 'auth' && k !== 'authextra'),
  anyJson(),
  { maxKeys: 4 },
);

describe('frame log redaction', () => {
  test('Pusher: the auth of pusher:subscribe and pusher:signin never shows', async () => {
    await fuzz(
      'frame log pusher auth',
      500,
      [
        secretArb,
        fc.constantFrom('pusher:subscribe', 'pusher:signin'),
        otherFields,
        otherFields,
        fc.constantFrom('object', 'string', 'escaped', 'duplicate'),
      ],
      async (secret, event, fields, top, shape) => {
        const data = { ...fields, auth: PLACEHOLDER };
        let text: string;
        if (shape === 'string') {
          text = JSON.stringify({ ...top, event, data: JSON.stringify(data) });
        } else {
          text = JSON.stringify({ ...top, event, data });
          if (shape === 'duplicate') text = text.replace(`"auth":`, `"auth":"decoy","auth":`);
        }
        // Nothing but the redacted field may hold the secret, or showing it would be right.
        const clean = text.replace(JSON.stringify(PLACEHOLDER), '""');
        fc.pre(forms(secret).every((f) => !clean.includes(f)) && !clean.includes('\\u'));
        const quoted =
          shape === 'string' ? JSON.stringify(JSON.stringify(secret)).slice(1, -1) : JSON.stringify(secret);
        text = text.replace(
          shape === 'string'
            ? JSON.stringify(JSON.stringify(PLACEHOLDER)).slice(1, -1)
            : JSON.stringify(PLACEHOLDER),
          shape === 'escaped' ? escapedJson(secret) : quoted,
        );
        for (const line of logged(pusherFrameReader, '', text)) {
          for (const form of forms(secret))
            assert.ok(!line.includes(form), `${JSON.stringify(form)} in ${line}`);
        }
      },
    );
  });

  test('WAMP: the AUTHENTICATE signature and HELLO authextra never show, in every serializer', async () => {
    await fuzz(
      'frame log wamp secrets',
      500,
      [
        secretArb,
        fc.constantFrom(...SERIALIZERS.keys()),
        fc.constantFrom('authenticate', 'authextra', 'authextra-whole'),
        otherFields,
        fc.string({ maxLength: 8 }).filter((k) => k !== 'pubkey' && k !== 'channel_binding'),
        fc.boolean(),
      ],
      async (secret, protocol, where, extra, key, escaped) => {
        const serializer = SERIALIZERS.get(protocol)!;
        const items =
          where === 'authenticate'
            ? [5, PLACEHOLDER, extra]
            : [
                1,
                'realm1',
                { ...extra, authextra: where === 'authextra' ? { [key]: PLACEHOLDER } : PLACEHOLDER },
              ];
        const clean = JSON.stringify(items).replace(JSON.stringify(PLACEHOLDER), '""');
        fc.pre(
          forms(secret).every((f) => !clean.includes(f)) && !clean.includes('\\u') && secret !== 'realm1',
        );
        let frame: string | Buffer;
        if (serializer.binary) {
          const withSecret = JSON.parse(
            JSON.stringify(items).replace(JSON.stringify(PLACEHOLDER), JSON.stringify(secret)),
          );
          frame = serializer.encode(withSecret, undefined) as Buffer;
        } else {
          const text = serializer.encode(items, undefined) as string;
          frame = text.replace(
            JSON.stringify(PLACEHOLDER),
            escaped ? escapedJson(secret) : JSON.stringify(secret),
          );
        }
        for (const line of logged(wampFrameReader, protocol, frame)) {
          for (const form of forms(secret))
            assert.ok(!line.includes(form), `${JSON.stringify(form)} in ${line}`);
        }
      },
    );
  });
});
