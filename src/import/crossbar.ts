import type { z } from 'zod';
import type { ConfigInput, wampRealmSchema } from '../config/schema.js';
import { originEntryProblem } from '../core/origin.js';
import { CrossbarAuth } from './crossbar-auth.js';
import { crossbarRealm } from './crossbar-realms.js';
import { ImportError, integer, isObject, type Json, type Notes, own, text } from './notes.js';
import { readObjectFile } from './source.js';

/**
 * A Crossbar.io node configuration (`.crossbar/config.json`, or `config.yaml`; version 2) to a
 * Herald configuration: the router workers' realms (roles, permissions), their WebSocket transports
 * (port, path, TLS, origins, message size) and authentication. Herald is one router on one port
 * with one WAMP path, so the first WebSocket endpoint is the one carried; everything else is warned
 * about (docs/migrating.md).
 */

type RealmInput = z.input<typeof wampRealmSchema>;

/** A place clients reach the router over WebSocket. */
interface WebSocketEndpoint {
  at: string;
  endpoint: unknown;
  path: string;
  service: Json;
}

export function importCrossbar(input: string, file: string, notes: Notes): ConfigInput {
  const node = readObjectFile(input, file);
  for (const [key, value] of Object.entries(node)) {
    if (key === 'version' && value !== 2) notes.warn(key, `${JSON.stringify(value)}: read as version 2`);
    else if (key === 'controller' && isObject(value)) {
      for (const k of Object.keys(value))
        notes.warn(`controller.${k}`, 'Herald is one process, with no node controller');
    } else if (!['$schema', 'version', 'controller', 'workers'].includes(key)) {
      notes.warn(key, 'not a Crossbar node setting Herald has; left out');
    }
  }
  const workers = own(node, 'workers');
  if (!Array.isArray(workers))
    throw new ImportError(`${file}: no workers list: not a Crossbar node configuration`);
  const routers: [Json, string][] = [];
  workers.forEach((worker, i) => {
    const type = own(worker, 'type');
    if (type === 'router' && isObject(worker)) routers.push([worker, `workers.${i}`]);
    else
      notes.warn(
        `workers.${i}`,
        `a ${text(type) ?? 'typeless'} worker: Herald runs only the router; run it as a WAMP client of Herald`,
      );
  });
  if (routers.length === 0)
    throw new ImportError(`${file}: no router worker: not a Crossbar node configuration`);

  const realms: RealmInput[] = [];
  const websockets: WebSocketEndpoint[] = [];
  const auth = new CrossbarAuth(notes);
  routers.forEach(([router, at], i) => {
    if (i > 0) notes.warn(at, 'Herald runs one router: its realms and transports are merged into the first');
    for (const [key, value] of Object.entries(router)) {
      if (key === 'realms') collectRealms(value, `${at}.realms`, realms, notes);
      else if (key === 'transports') collectTransports(value, `${at}.transports`, websockets, auth, notes);
      else if (key !== 'type' && key !== 'id')
        notes.warn(`${at}.${key}`, ROUTER_REASONS[key] ?? 'not a router setting Herald has; left out');
    }
  });
  if (realms.length === 0) throw new ImportError(`${file}: no realm Herald can carry in any router worker`);

  const config: ConfigInput = {};
  const wamp: NonNullable<ConfigInput['wamp']> = { realms };
  const [first, ...others] = websockets;
  for (const other of others) {
    notes.warn(other.at, `Herald serves WAMP on one port and path: ${first!.at} is the one carried`);
  }
  if (first) {
    listen(first, config, notes);
    if (first.path !== '/ws') wamp.path = first.path;
    websocketOptions(first, wamp, realms, notes);
  } else {
    notes.warn(
      'workers',
      'no WebSocket transport: Herald serves WAMP over WebSocket at wamp.path (/ws) on its port',
    );
  }
  wamp.auth = auth.build(new Set(realms.flatMap((r) => (r.roles ?? []).map((role) => role.name))));
  config.wamp = wamp;
  return config;
}

const ROUTER_REASONS: Readonly<Record<string, string>> = {
  options: 'worker process options (Python path, CPU affinity, environment): Herald is one Node.js process',
  components: 'components run inside the router: run them as WAMP clients of Herald',
  connections: 'database connections for router components: Herald has none',
};

function collectRealms(value: unknown, at: string, realms: RealmInput[], notes: Notes): void {
  if (!Array.isArray(value)) return notes.invalid(at, value, 'a list of realms');
  for (const [i, entry] of value.entries()) {
    const realm = crossbarRealm(entry, `${at}.${i}`, notes);
    if (!realm) continue;
    if (realms.some((r) => r.name === realm.name)) {
      notes.warn(`${at}.${i}`, `a second realm "${realm.name}": the first one is kept`);
      continue;
    }
    realms.push(realm);
  }
}

/** Every WebSocket service of the router's transports; the auth of every WAMP transport. */
function collectTransports(
  value: unknown,
  at: string,
  websockets: WebSocketEndpoint[],
  auth: CrossbarAuth,
  notes: Notes,
): void {
  if (!Array.isArray(value)) return notes.invalid(at, value, 'a list of transports');
  for (const [i, transport] of value.entries()) {
    const here = `${at}.${i}`;
    if (!isObject(transport)) {
      notes.invalid(here, transport, 'a transport');
      continue;
    }
    const type = own(transport, 'type');
    const endpoint = own(transport, 'endpoint');
    const websocket = (service: Json, path: string, where: string) => {
      websockets.push({ at: where, endpoint, path, service });
      auth.add(own(service, 'auth'), where);
    };
    switch (type) {
      case 'websocket':
        websocket(transport, '/', here);
        break;
      case 'web':
        webPaths(own(transport, 'paths'), `${here}.paths`, websocket, notes);
        for (const key of Object.keys(transport)) {
          if (!['type', 'endpoint', 'paths'].includes(key))
            notes.warn(`${here}.${key}`, 'a Web transport setting: Herald serves no web resources');
        }
        break;
      case 'universal':
        for (const [key, part] of Object.entries(transport)) {
          if (key === 'websocket' && isObject(part)) {
            for (const [path, service] of Object.entries(part)) {
              if (isObject(service)) websocket(service, pathOf(path), `${here}.websocket.${path}`);
              else notes.invalid(`${here}.websocket.${path}`, service, 'a WebSocket service');
            }
          } else if (key === 'web') {
            webPaths(own(part, 'paths'), `${here}.web.paths`, websocket, notes);
          } else if (key === 'rawsocket') {
            rawSocket(part, `${here}.rawsocket`, auth, notes);
          } else if (key !== 'type' && key !== 'endpoint') {
            notes.warn(`${here}.${key}`, 'Herald serves WAMP over WebSocket only');
          }
        }
        break;
      case 'rawsocket':
        rawSocket(transport, here, auth, notes);
        break;
      default:
        notes.warn(here, `a ${text(type) ?? 'typeless'} transport: Herald serves WAMP over WebSocket only`);
    }
  }
}

function rawSocket(transport: unknown, at: string, auth: CrossbarAuth, notes: Notes): void {
  notes.warn(at, 'RawSocket: Herald serves WAMP over WebSocket only; its clients connect to wamp.path');
  // Its clients will come over WebSocket, with the credentials they had.
  auth.add(own(transport, 'auth'), at);
}

function webPaths(
  paths: unknown,
  at: string,
  websocket: (service: Json, path: string, where: string) => void,
  notes: Notes,
): void {
  if (!isObject(paths)) return notes.invalid(at, paths, 'a map of paths');
  for (const [path, service] of Object.entries(paths)) {
    const type = own(service, 'type');
    if (type === 'websocket' && isObject(service)) websocket(service, pathOf(path), `${at}.${path}`);
    else
      notes.warn(
        `${at}.${path}`,
        `a ${text(type) ?? 'typeless'} service: Herald serves no web resources, only WAMP and the Pusher protocol`,
      );
  }
}

/** A Web transport's path key (`ws`, `/`, `a/b`) as a WebSocket path. */
const pathOf = (key: string) => `/${key.replace(/^\/+|\/+$/g, '')}`;

/** The endpoint's port, interface and TLS files as Herald's `port`, `host` and `tls`. */
function listen(ws: WebSocketEndpoint, config: ConfigInput, notes: Notes): void {
  const at = `${ws.at.split('.').slice(0, 4).join('.')}.endpoint`;
  const endpoint = ws.endpoint;
  if (!isObject(endpoint)) return notes.invalid(at, endpoint, 'a listening endpoint');
  const type = own(endpoint, 'type') ?? 'tcp';
  if (type !== 'tcp') return notes.warn(`${at}.type`, `"${text(type) ?? type}": Herald listens on TCP only`);
  for (const [key, value] of Object.entries(endpoint)) {
    if (key === 'port') {
      const port = integer(value);
      if (port === undefined || port < 0 || port > 65535) notes.invalid(`${at}.port`, value, 'a port');
      else config.port = port;
    } else if (key === 'interface') {
      const host = text(value);
      if (host) config.host = host;
    } else if (key === 'tls') {
      endpointTls(value, `${at}.tls`, config, notes);
    } else if (key !== 'type') {
      notes.warn(`${at}.${key}`, 'not a listening setting Herald has; left out');
    }
  }
}

function endpointTls(tls: unknown, at: string, config: ConfigInput, notes: Notes): void {
  const key = text(own(tls, 'key'));
  const cert = text(own(tls, 'certificate'));
  if (!key || !cert) return notes.warn(at, 'Herald needs both the key and the certificate; TLS left out');
  config.tls = { key, cert };
  const chain = own(tls, 'chain_certificates');
  if (Array.isArray(chain) && chain.length === 1 && text(chain[0])) config.tls.ca = text(chain[0])!;
  else if (chain !== undefined)
    notes.warn(
      `${at}.chain_certificates`,
      'Herald takes one file of intermediate certificates (tls.ca): concatenate them',
    );
  for (const k of Object.keys(tls as Json)) {
    if (!['key', 'certificate', 'chain_certificates'].includes(k))
      notes.warn(`${at}.${k}`, 'a TLS setting Herald does not have; left out');
  }
}

/** The carried service's serializers and WebSocket options; Herald's are on every connection. */
function websocketOptions(
  ws: WebSocketEndpoint,
  wamp: NonNullable<ConfigInput['wamp']>,
  realms: RealmInput[],
  notes: Notes,
): void {
  const serializers = own(ws.service, 'serializers');
  const unspoken = (Array.isArray(serializers) ? serializers : []).filter(
    (n) => n !== 'json' && n !== 'msgpack',
  );
  if (unspoken.length > 0) {
    notes.warn(
      `${ws.at}.serializers`,
      `${unspoken.map((n) => JSON.stringify(n)).join(', ')}: Herald speaks JSON and MessagePack (each also batched)`,
    );
  }
  for (const key of Object.keys(ws.service)) {
    if (!['type', 'endpoint', 'serializers', 'options', 'auth'].includes(key))
      notes.warn(`${ws.at}.${key}`, 'not a WebSocket setting Herald has; left out');
  }
  const options = own(ws.service, 'options');
  if (options === undefined) return;
  if (!isObject(options)) return notes.invalid(`${ws.at}.options`, options, 'WebSocket options');
  for (const [key, value] of Object.entries(options)) {
    const at = `${ws.at}.options.${key}`;
    if (key === 'max_message_size') {
      const n = integer(value);
      if (n === undefined || n < 1) notes.invalid(at, value, 'a number of bytes');
      else wamp.maxMessageBytes = n;
    } else if (key === 'allowed_origins') {
      const origins = allowedOrigins(value, at, notes);
      // ["*"] is Herald's default too.
      if (origins && !(origins.length === 1 && origins[0] === '*')) {
        for (const realm of realms) realm.allowedOrigins = origins;
      }
    } else if (key === 'allow_null_origin') {
      const all = Array.isArray(own(options, 'allowed_origins'))
        ? (own(options, 'allowed_origins') as unknown[])
        : ['*'];
      if ((value === false) === all.includes('*')) {
        notes.warn(
          at,
          `${value}: in Herald only "*" among allowedOrigins admits the null origin (file:// and sandboxed pages)`,
        );
      }
    } else {
      notes.warn(at, 'a WebSocket option Herald does not have; left out');
    }
  }
}

/** Crossbar's origin patterns as Herald's `allowedOrigins`; an entry Herald cannot read is left out. */
function allowedOrigins(value: unknown, at: string, notes: Notes): string[] | undefined {
  if (!Array.isArray(value)) return void notes.invalid(at, value, 'a list of origins');
  const origins: string[] = [];
  const problems: string[] = [];
  for (const entry of value) {
    const problem =
      typeof entry === 'string' ? originEntryProblem(entry) : `${JSON.stringify(entry)} is not text`;
    if (problem) problems.push(problem);
    else origins.push(entry as string);
  }
  if (problems.length > 0) {
    const none = origins.length === 0 ? '; no entry left, so every page with an Origin is refused' : '';
    notes.warn(at, `${problems.join('; ')}; left out${none}`);
  }
  return origins;
}
