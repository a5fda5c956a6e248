import type { z } from 'zod';
import { type ConfigInput, configSchema, type wampRealmSchema } from '../config/schema.js';
import { originEntryProblem } from '../core/origin.js';
import { CrossbarAuth } from './crossbar-auth.js';
import { crossbarRealm } from './crossbar-realms.js';
import { ImportError, integer, isObject, type Json, type NoteKind, type Notes, own, text } from './notes.js';
import { readObjectFile } from './source.js';

/**
 * A Crossbar.io node configuration (`.crossbar/config.json`, or `config.yaml`; version 2) to a
 * Herald configuration: the router workers' realms (roles, permissions), their WebSocket transports
 * (port, path, TLS, origins, message size) and authentication. Herald is one router on one port
 * with one WAMP path, so the first WebSocket endpoint is the one carried. Every setting left out is
 * noted: a warning where leaving it out is harmless (static Web paths, the controller, worker
 * options), a refusal where Herald would behave differently in a way that matters (application code
 * run by the node, dynamic authentication and authorization, links to other routers, access wider
 * than Crossbar's). `herald import` prints both; `herald start --config` with the node configuration
 * itself refuses to start on a refusal (docs/migrating.md, From Crossbar.io).
 */

type RealmInput = z.input<typeof wampRealmSchema>;

/** A value of the wrong kind is refused at start: Crossbar's own check refuses it too. */
export const CROSSBAR_MALFORMED: NoteKind = 'refuse';

/** A place clients reach the router over WebSocket. */
interface WebSocketEndpoint {
  at: string;
  endpoint: unknown;
  path: string;
  service: Json;
}

/** Herald's own top-level settings; `workers` is both Herald's and Crossbar's. */
const HERALD_KEYS = Object.keys(configSchema.shape).filter((k) => k !== 'workers');

/**
 * A configuration file's settings that are Crossbar's node configuration rather than Herald's:
 * `version: 2` and a list of `workers`, and no setting of Herald's own.
 */
export function isCrossbarNode(settings: Json): boolean {
  return (
    own(settings, 'version') === 2 &&
    Array.isArray(own(settings, 'workers')) &&
    !HERALD_KEYS.some((k) => Object.hasOwn(settings, k))
  );
}

/** The Herald settings of a file with Crossbar's list of workers; [] for any other. */
export function mixedWithCrossbar(settings: Json): string[] {
  if (!Array.isArray(own(settings, 'workers'))) return [];
  return HERALD_KEYS.filter((k) => Object.hasOwn(settings, k));
}

/** `herald import crossbar`: the file's text read as JSON or YAML, then mapped. */
export function importCrossbar(input: string, file: string, notes: Notes): ConfigInput {
  return crossbarConfig(readObjectFile(input, file), file, notes);
}

/**
 * The node configuration's settings as Herald's. With `env`, `${NAME}` secrets are read from it as
 * Crossbar reads them at its start; without, they are noted and left out.
 */
export function crossbarConfig(
  node: Json,
  file: string,
  notes: Notes,
  env?: Readonly<Record<string, string | undefined>>,
): ConfigInput {
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
    else notes.refuse(`workers.${i}`, WORKER_REASONS[text(type) ?? ''] ?? otherWorker(type));
  });
  if (routers.length === 0)
    throw new ImportError(`${file}: no router worker: not a Crossbar node configuration`);

  const realms: RealmInput[] = [];
  const websockets: WebSocketEndpoint[] = [];
  const auth = new CrossbarAuth(notes, env);
  routers.forEach(([router, at], i) => {
    if (i > 0) {
      notes.refuse(
        at,
        `a second router: Herald runs one, so its realms and transports would be merged into ${routers[0]![1]}'s ` +
          "(each one's principals reaching the other's realms); merge them by hand, or run a Herald for each",
      );
    }
    for (const [key, value] of Object.entries(router)) {
      if (key === 'realms') collectRealms(value, `${at}.realms`, realms, notes);
      else if (key === 'transports') collectTransports(value, `${at}.transports`, websockets, auth, notes);
      else if (key === 'options' && isObject(value)) {
        for (const k of Object.keys(value))
          notes.warn(`${at}.options.${k}`, 'a worker process option: Herald is one Node.js process');
      } else if (key === 'components') {
        notes.refuse(
          `${at}.components`,
          'components run application code inside the router, which Herald does not: start them as WAMP ' +
            "clients of Herald (autobahn's ApplicationRunner or `python -m`), then remove them here",
        );
      } else if (key !== 'type' && key !== 'id') {
        notes.warn(`${at}.${key}`, ROUTER_REASONS[key] ?? 'not a router setting Herald has; left out');
      }
    }
  });
  if (realms.length === 0) throw new ImportError(`${file}: no realm Herald can carry in any router worker`);

  const config: ConfigInput = {};
  const wamp: NonNullable<ConfigInput['wamp']> = { realms };
  const [first, ...others] = websockets;
  for (const other of others) {
    notes.warn(
      other.at,
      `Herald serves WAMP on one port and path: ${first!.at} is the one carried, and this one's clients connect there`,
    );
  }
  if (first) {
    listen(first, config, notes);
    if (first.path !== '/ws') wamp.path = first.path;
    websocketOptions(first, wamp, realms, notes);
  } else {
    notes.refuse(
      'workers',
      'no WebSocket transport, and Herald serves WAMP over WebSocket only: add a `websocket` transport, or ' +
        'a `websocket` path to a `web` transport',
    );
  }
  wamp.auth = auth.build(realms);
  config.wamp = wamp;
  return config;
}

/** Workers Herald does not run, and what to do instead. */
const WORKER_REASONS: Readonly<Record<string, string>> = {
  guest:
    'a guest worker: Crossbar starts this program with the node, Herald runs no programs; start it yourself ' +
    '(it connects to Herald as a WAMP client), then remove it here',
  container:
    'a container worker runs WAMP components, which Herald does not: start them as WAMP clients of Herald, ' +
    'then remove it here',
  proxy:
    'a proxy worker fronts router workers, and Herald serves its clients itself: point them at Herald (an ' +
    'HTTP proxy may stand in front of it, docs/operations.md), then remove it here',
};

function otherWorker(type: unknown): string {
  return `a ${text(type) === undefined ? 'typeless' : JSON.stringify(type)} worker: Herald runs only the router; remove it here`;
}

const ROUTER_REASONS: Readonly<Record<string, string>> = {
  options: 'worker process options (Python path, CPU affinity, environment): Herald is one Node.js process',
  connections: 'database connections for router components: Herald has none',
  manhole: "a debugging shell into the worker's process: Herald has none",
};

function collectRealms(value: unknown, at: string, realms: RealmInput[], notes: Notes): void {
  if (!Array.isArray(value)) return notes.invalid(at, value, 'a list of realms');
  for (const [i, entry] of value.entries()) {
    const realm = crossbarRealm(entry, `${at}.${i}`, notes);
    if (!realm) continue;
    if (realms.some((r) => r.name === realm.name)) {
      notes.refuse(`${at}.${i}`, `a second realm "${realm.name}": give each realm one entry`);
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
          } else if (key === 'mqtt') {
            notes.refuse(`${here}.mqtt`, MQTT);
          } else if (key !== 'type' && key !== 'endpoint') {
            notes.warn(`${here}.${key}`, 'Herald serves WAMP over WebSocket only');
          }
        }
        break;
      case 'rawsocket':
        rawSocket(transport, here, auth, notes);
        break;
      case 'mqtt':
        notes.refuse(here, MQTT);
        break;
      case 'flashpolicy':
        notes.warn(here, 'a Flash policy file server: browsers no longer run Flash');
        break;
      case 'websocket.testee':
      case 'stream.testee':
        notes.warn(here, 'a test transport of Autobahn|Testsuite, not for clients');
        break;
      default:
        if (typeof type !== 'string') notes.invalid(`${here}.type`, type, 'a transport type');
        else
          notes.refuse(here, `a ${JSON.stringify(type)} transport: Herald cannot serve it; remove it here`);
    }
  }
}

const MQTT =
  'MQTT clients publish and subscribe in the realm through it, and Herald speaks no MQTT: bridge them ' +
  'with an MQTT broker and a WAMP client of Herald, then remove it here';

function rawSocket(transport: unknown, at: string, auth: CrossbarAuth, notes: Notes): void {
  notes.warn(
    at,
    'RawSocket: Herald serves WAMP over WebSocket only; its clients connect to wamp.path with the same credentials',
  );
  // Its clients will come over WebSocket, with the credentials they had.
  auth.add(own(transport, 'auth'), at);
}

/**
 * Web services that bring HTTP requests into the realm (Crossbar's HTTP bridge): leaving them out
 * breaks whoever publishes or calls through them, so they are refused.
 */
const BRIDGE_SERVICES: Readonly<Record<string, string>> = {
  publisher: 'publishes HTTP POSTs to the realm',
  caller: 'calls procedures for HTTP POSTs',
  webhook: 'publishes incoming webhooks to the realm',
};

function webPaths(
  paths: unknown,
  at: string,
  websocket: (service: Json, path: string, where: string) => void,
  notes: Notes,
): void {
  if (!isObject(paths)) return notes.invalid(at, paths, 'a map of paths');
  for (const [path, service] of Object.entries(paths)) {
    const here = `${at}.${path}`;
    const type = own(service, 'type');
    if (type === 'websocket' && isObject(service)) websocket(service, pathOf(path), here);
    else if (typeof type !== 'string') notes.invalid(`${here}.type`, type, 'a Web service type');
    else if (type === 'longpoll') {
      notes.warn(
        here,
        'WAMP over HTTP long-poll: Herald serves WAMP over WebSocket only, which clients try before long-poll',
      );
    } else if (Object.hasOwn(BRIDGE_SERVICES, type)) {
      notes.refuse(
        here,
        `a ${type} service ${BRIDGE_SERVICES[type]} (the HTTP bridge), which Herald does not: make those requests ` +
          'a WAMP client of Herald, then remove it here',
      );
    } else {
      notes.warn(
        here,
        `a ${type} service: Herald serves no web resources, only WAMP and the Pusher protocol; serve it from a ` +
          'web server or proxy in front of Herald',
      );
    }
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
  if (type !== 'tcp') {
    return notes.refuse(
      `${at}.type`,
      `${JSON.stringify(type)}: Herald listens on TCP only (port, host): give this transport a tcp endpoint`,
    );
  }
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
      notes.warn(`${at}.${key}`, 'not a listening setting Herald has (backlog, IP version…); left out');
    }
  }
}

function endpointTls(tls: unknown, at: string, config: ConfigInput, notes: Notes): void {
  const key = text(own(tls, 'key'));
  const cert = text(own(tls, 'certificate'));
  if (!key || !cert) {
    // Serving in clear what Crossbar served over TLS is not an option.
    return notes.refuse(at, 'Herald needs both the key and the certificate to serve TLS; give both');
  }
  config.tls = { key, cert };
  const chain = own(tls, 'chain_certificates');
  if (Array.isArray(chain) && chain.length === 1 && text(chain[0])) config.tls.ca = text(chain[0])!;
  else if (chain !== undefined && !(Array.isArray(chain) && chain.length === 0))
    notes.refuse(
      `${at}.chain_certificates`,
      'Herald takes one file of intermediate certificates (tls.ca): concatenate them into one and name it here',
    );
  for (const k of Object.keys(tls as Json)) {
    if (k === 'ca_certificates') {
      notes.refuse(
        `${at}.${k}`,
        'client certificates: Herald does not ask clients for certificates, so it would admit clients ' +
          'Crossbar refused; authenticate them with ticket, wampcra or cryptosign instead',
      );
    } else if (!['key', 'certificate', 'chain_certificates'].includes(k)) {
      notes.warn(`${at}.${k}`, "a TLS setting Herald does not have (Node.js's defaults apply); left out");
    }
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
      if (n === 0) notes.warn(at, "0, no limit: Herald has one, wamp.maxMessageBytes's default (1 MiB)");
      else if (n === undefined || n < 1) notes.invalid(at, value, 'a number of bytes');
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
    // Left out, pages Crossbar admitted would be refused: the operator decides what to write instead.
    notes.refuse(at, `${problems.join('; ')}: write them in a form of docs/security.md, Origins`);
  }
  return origins;
}
