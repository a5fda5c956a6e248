import { createRequire } from 'node:module';
import { WebSocket } from 'ws';

/**
 * autobahn-js 26 (CommonJS, untyped) with the types the tests use. It needs a global WebSocket, which
 * Node 20 only has behind --experimental-websocket (docs/wamp.md, "Connecting clients"): the `ws` class
 * stands in for it.
 */
const globals = globalThis as { WebSocket?: unknown };
globals.WebSocket ??= WebSocket;

export interface AutobahnRegistration {
  readonly id: number;
}
export interface AutobahnSubscription {
  readonly id: number;
}
export interface AutobahnDetails {
  [key: string]: unknown;
}
export interface AutobahnResult {
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown>;
}
/** A promise autobahn-js can cancel (`CANCEL` on the wire). */
export type CancellablePromise<T> = Promise<T> & { cancel?: (options?: { mode: string }) => void };

export interface AutobahnSession {
  readonly id: number;
  readonly isOpen: boolean;
  readonly features: Record<string, unknown>;
  register(
    procedure: string,
    endpoint: (args: unknown[], kwargs: Record<string, unknown>, details: AutobahnDetails) => unknown,
    options?: Record<string, unknown>,
  ): Promise<AutobahnRegistration>;
  unregister(registration: AutobahnRegistration): Promise<void>;
  call<T = unknown>(
    procedure: string,
    args?: unknown[],
    kwargs?: Record<string, unknown>,
    options?: Record<string, unknown>,
  ): CancellablePromise<T>;
  subscribe(
    topic: string,
    handler: (args: unknown[], kwargs: Record<string, unknown>, details: AutobahnDetails) => void,
    options?: Record<string, unknown>,
  ): Promise<AutobahnSubscription>;
  unsubscribe(subscription: AutobahnSubscription): Promise<void>;
  publish(
    topic: string,
    args?: unknown[],
    kwargs?: Record<string, unknown>,
    options?: Record<string, unknown>,
  ): Promise<{ id: number }> | undefined;
  leave(reason?: string, message?: string): void;
}

export interface AutobahnConnectionOptions {
  /** The WebSocket URL; a `transports` list may name other transports instead (`rawsocket`: `host`, `port`). */
  url?: string;
  transports?: Record<string, unknown>[];
  realm: string;
  authmethods?: string[];
  authid?: string;
  authextra?: Record<string, unknown>;
  onchallenge?: (session: AutobahnSession, method: string, extra: Record<string, unknown>) => string;
  serializers?: unknown[];
  max_retries?: number;
  initial_retry_delay?: number;
  retry_if_unreachable?: boolean;
}

export interface AutobahnConnection {
  onopen: (session: AutobahnSession, details: AutobahnDetails) => void;
  onclose: (reason: string, details: AutobahnDetails) => boolean | undefined;
  open(): void;
  close(reason?: string, message?: string): void;
  readonly session: AutobahnSession | null;
}

export interface Autobahn {
  Connection: new (options: AutobahnConnectionOptions) => AutobahnConnection;
  Error: new (error: string, args?: unknown[], kwargs?: Record<string, unknown>) => Error;
  Result: new (args?: unknown[], kwargs?: Record<string, unknown>) => AutobahnResult;
  serializer: {
    JSONSerializer: new () => unknown;
    MsgpackSerializer: new () => unknown;
    CBORSerializer: new () => unknown;
  };
  auth_cra: {
    derive_key(secret: string, salt: string, iterations?: number, keylen?: number): string;
    sign(key: string, challenge: string): string;
  };
  auth_cryptosign: { sign_challenge(pkey: { secretKey: Uint8Array }, extra: { challenge: string }): string };
  nacl: {
    sign: { keyPair: { fromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } } };
  };
}

export const autobahn = createRequire(import.meta.url)('autobahn') as Autobahn;

/** Opens an autobahn-js connection that does not retry; resolves once joined, rejects if it closes first. */
export function openAutobahn(
  options: AutobahnConnectionOptions,
): Promise<{ connection: AutobahnConnection; session: AutobahnSession; details: AutobahnDetails }> {
  const connection = new autobahn.Connection({ max_retries: 0, retry_if_unreachable: false, ...options });
  return new Promise((resolve, reject) => {
    connection.onopen = (session, details) => resolve({ connection, session, details });
    connection.onclose = (reason, details) => {
      reject(new Error(`autobahn connection ${reason}: ${JSON.stringify(details)}`));
      return true;
    };
    connection.open();
  });
}

/** Closes an autobahn-js connection and resolves once it is closed. */
export function closeAutobahn(connection: AutobahnConnection): Promise<string> {
  return new Promise((resolve) => {
    if (!connection.session?.isOpen) return resolve('closed');
    connection.onclose = (reason) => {
      resolve(reason);
      return true;
    };
    connection.close();
  });
}
