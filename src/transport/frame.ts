/**
 * Server-to-client WebSocket frames (RFC 6455 §5.2): FIN set, unmasked. One buffer holds header and
 * payload, so a frame is one write and can be shared by every connection it goes to.
 */
export function encodeTextFrame(text: string): Buffer {
  return encodeFrame(0x1, text);
}

export function encodeBinaryFrame(data: Buffer): Buffer {
  return encodeFrame(0x2, data);
}

function encodeFrame(opcode: number, payload: string | Buffer): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const buf = Buffer.allocUnsafe(header + length);
  buf[0] = 0x80 | opcode;
  if (header === 2) {
    buf[1] = length;
  } else if (header === 4) {
    buf[1] = 126;
    buf.writeUInt16BE(length, 2);
  } else {
    buf[1] = 127;
    buf.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    buf.writeUInt32BE(length >>> 0, 6);
  }
  if (typeof payload === 'string') buf.write(payload, header, 'utf8');
  else payload.copy(buf, header);
  return buf;
}
