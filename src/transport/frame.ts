/**
 * Server-to-client WebSocket frames (RFC 6455 §5.2): FIN set, unmasked. One buffer holds header and
 * payload, so a frame is one write and can be shared by every connection it goes to.
 */
export function encodeTextFrame(text: string): Buffer {
  return encodeFrame(0x1, text);
}

function encodeFrame(opcode: number, text: string): Buffer {
  const length = Buffer.byteLength(text);
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
  buf.write(text, header, 'utf8');
  return buf;
}
