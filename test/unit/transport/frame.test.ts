import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { encodeBinaryFrame, encodeTextFrame } from '../../../src/transport/frame.js';

interface SenderStatic {
  frame(data: Buffer, options: Record<string, unknown>): Buffer[];
}
// ws exports its Sender at runtime; its typings leave it out.
const { Sender } = createRequire(import.meta.url)('ws') as { Sender: SenderStatic };

function wsFrame(payload: string | Buffer): Buffer {
  const parts = Sender.frame(Buffer.from(payload), {
    fin: true,
    opcode: typeof payload === 'string' ? 1 : 2,
    mask: false,
    readOnly: false,
    rsv1: false,
  });
  return Buffer.concat(parts);
}

test('text frames are byte-identical to those ws builds, at every length boundary', () => {
  const lengths = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000];
  for (const n of lengths) {
    const text = 'x'.repeat(n);
    assert.deepEqual(encodeTextFrame(text), wsFrame(text), `length ${n}`);
  }
});

test('the length field counts UTF-8 bytes, not characters', () => {
  for (const text of ['é', '€'.repeat(42), '😀'.repeat(40), `{"data":"${'ü'.repeat(70_000)}"}`]) {
    const frame = encodeTextFrame(text);
    assert.deepEqual(frame, wsFrame(text));
    assert.equal(frame.subarray(frame.length - Buffer.byteLength(text)).toString('utf8'), text);
  }
});

test('binary frames are byte-identical to those ws builds, at every length boundary', () => {
  for (const n of [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]) {
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i++) data[i] = (i * 31 + 7) & 0xff;
    assert.deepEqual(encodeBinaryFrame(data), wsFrame(data), `length ${n}`);
  }
});
