import { MalformedBusMessage } from '../../adapters/bus-payload.js';

/**
 * Checks a channel event that came from another node before this node's subscribers get it as it is:
 * a JSON object whose `event` is a string and whose `channel` is the channel it was published to, as
 * every frame Herald publishes (Pusher docs, "Pusher Channels Protocol", "Channel events"). Anything
 * else would reach clients as a frame their library cannot read, or on a channel they never joined.
 */
export function checkBusFrame(text: string, channel: string): void {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    throw new MalformedBusMessage(`the event on "${channel}" is not JSON`);
  }
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) {
    throw new MalformedBusMessage(`the event on "${channel}" is not a JSON object`);
  }
  const { event, channel: named, user_id: userId } = frame as Record<string, unknown>;
  if (typeof event !== 'string' || event === '') {
    throw new MalformedBusMessage(`the event on "${channel}" has no event name`);
  }
  if (named !== channel) throw new MalformedBusMessage(`an event for another channel came on "${channel}"`);
  if (userId !== undefined && typeof userId !== 'string') {
    throw new MalformedBusMessage(`the event on "${channel}" has a user_id that is not a string`);
  }
}
