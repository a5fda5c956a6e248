import { ErrorCode } from 'nats';
import { BrokerUnusableError } from '../parts.js';
import type { NatsClient } from './connection.js';

/** How long the preflight waits for the JetStream API to answer. */
const PREFLIGHT_TIMEOUT_MS = 5000;

/**
 * Presence, occupancy, cache channels and the webhook outbox live in JetStream key-value buckets: a
 * NATS server without JetStream would carry the messages and refuse every presence subscription.
 *
 * Asks over the set's own connection, which it opens: a first connect that fails rejects at once (the
 * client retries without end only once it has been connected), so it needs no probe connection.
 */
export async function checkNats(client: NatsClient): Promise<void> {
  const nc = await client.start().catch((err: Error) => {
    throw new BrokerUnusableError('broker_unreachable', `cannot reach NATS: ${err.message}`);
  });
  try {
    await nc.jetstreamManager({ timeout: PREFLIGHT_TIMEOUT_MS });
  } catch (err) {
    // The JetStream API has no responders when the server runs without JetStream.
    if ((err as { code?: unknown }).code !== ErrorCode.NoResponders) throw err;
    throw new BrokerUnusableError(
      'nats_no_jetstream',
      'the NATS server has no JetStream, which Herald needs for presence, occupancy, cache channels ' +
        'and webhooks: start it with `nats-server -js` (or add `jetstream {}` to its config file)',
    );
  }
}
