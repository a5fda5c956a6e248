/**
 * One serialised outgoing message, shared by every connection it is sent to.
 *
 * The protocol layer builds it once per publish; the transport turns it into wire bytes once (and
 * caches them in `wire`), so a message to N subscribers costs one encoding and N cheap writes.
 */
export class Frame {
  /** Wire bytes, filled by the transport the first time the frame is written. */
  wire: Buffer | undefined = undefined;
  /** The same for RawSocket connections, whose frames have a header of their own. */
  rawWire: Buffer | undefined = undefined;

  /** A text message, or a binary one when `text` is a Buffer (WAMP over MessagePack or CBOR). */
  constructor(readonly text: string | Buffer) {}
}
