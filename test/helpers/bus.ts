import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import { type Logger, pino } from 'pino';
import { NATS_URL, REDIS_URL } from './brokers.js';
import { within } from './raw-client.js';

/**
 * Direct access to the broker topics a Herald node listens on (src/adapters/cluster.ts): to publish
 * what another node, or anyone else with access to the broker, could publish there.
 */

export type Driver = 'redis' | 'nats';

export const allTopic = (prefix: string) => `${prefix}.all`;
export const nodeTopic = (prefix: string, node: string) => `${prefix}.node.${node}`;
export const channelTopic = (prefix: string, namespace: string, channel: string) =>
  `${prefix}.ch.${Buffer.from(`${namespace}\0${channel}`).toString('base64url')}`;

export class BusClient {
  private constructor(
    readonly driver: Driver,
    readonly prefix: string,
    readonly publish: (topic: string, payload: string | Uint8Array) => Promise<void>,
    readonly close: () => Promise<void>,
    /** Resolves with the first node id heard in a heartbeat. */
    readonly nodeId: () => Promise<string>,
  ) {}

  static async connect(driver: Driver, prefix: string): Promise<BusClient> {
    let first: ((node: string) => void) | undefined;
    let failed: ((err: Error) => void) | undefined;
    const heard = new Promise<string>((resolve, reject) => {
      first = resolve;
      failed = reject;
    });
    heard.catch(() => {}); // reported by nodeId()
    let listening = true;
    // Listens until the first heartbeat: what the tests publish there later is not for it.
    const onMessage = (payload: string) => {
      if (!listening) return;
      try {
        const m = JSON.parse(payload) as { t?: unknown; n?: unknown };
        if (m.t !== 'hb' || typeof m.n !== 'string') return;
        listening = false;
        first?.(m.n);
      } catch (err) {
        failed?.(new Error(`unreadable message on ${allTopic(prefix)}: ${(err as Error).message}`));
      }
    };
    if (driver === 'redis') {
      const pub = new Redis(REDIS_URL);
      const sub = new Redis(REDIS_URL);
      sub.on('message', (_topic: string, payload: string) => onMessage(payload));
      await sub.subscribe(allTopic(prefix));
      return new BusClient(
        driver,
        prefix,
        async (topic, payload) => {
          await pub.publish(topic, typeof payload === 'string' ? payload : Buffer.from(payload));
        },
        async () => {
          pub.disconnect();
          sub.disconnect();
        },
        () => within(heard, 10_000, 'a heartbeat of the node'),
      );
    }
    const nc: NatsConnection = await connect({ servers: NATS_URL });
    nc.subscribe(allTopic(prefix), { callback: (_err, msg) => onMessage(msg.string()) });
    await nc.flush();
    return new BusClient(
      driver,
      prefix,
      async (topic, payload) => {
        nc.publish(topic, typeof payload === 'string' ? new TextEncoder().encode(payload) : payload);
        await nc.flush();
      },
      () => nc.close(),
      () => within(heard, 10_000, 'a heartbeat of the node'),
    );
  }
}

export interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A pino logger at warn that keeps its records, for a server in this process. */
export function recordingLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = pino(
    { level: 'warn' },
    {
      write(line: string) {
        records.push(JSON.parse(line) as LogRecord);
      },
    },
  );
  return { logger, records };
}
