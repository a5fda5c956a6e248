import fc from 'fast-check';
import { anyJson } from './harness.js';

/**
 * Crossbar.io node configurations for the fuzz suites of `herald import crossbar` and of
 * `herald start --config` with such a file: built from Crossbar's own setting names and kinds,
 * including what Herald refuses (other workers, components, dynamic authentication, router links,
 * the HTTP bridge), so that the cases reach the mapping rather than stopping at "not Crossbar's".
 */

/** A value a setting may hold: the peer's own kinds, and anything at all. */
export const value = fc.oneof(
  { weight: 3, arbitrary: anyJson() },
  { weight: 2, arbitrary: fc.integer({ min: -2, max: 70_000 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(true, false, null, '', 'true', '-1', '6001', '127.0.0.1', '*', `\${X}`),
  },
);

const permission = fc.record(
  {
    uri: value,
    match: fc.oneof(fc.constantFrom('exact', 'prefix', 'wildcard'), value),
    allow: fc.oneof(fc.record({ call: value, publish: fc.boolean() }), value),
    disclose: value,
    cache: value,
  },
  { requiredKeys: [] },
);
const realm = fc.record(
  {
    name: fc.oneof(fc.constantFrom('realm1', 'com.example', '1x', '__proto__'), value),
    roles: fc.oneof(
      fc.array(
        fc.record(
          {
            name: fc.oneof(fc.constantFrom('anonymous', 'backend'), value),
            permissions: fc.oneof(fc.array(permission, { maxLength: 3 }), value),
            authorizer: value,
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      value,
    ),
    options: fc.oneof(fc.record({ uri_check: value, enable_meta_api: value }), value),
    rlinks: value,
    store: fc.oneof(
      fc.record(
        {
          type: fc.oneof(fc.constant('memory'), value),
          limit: fc.oneof(fc.integer({ min: -1, max: 2000 }), value),
          'event-history': fc.oneof(
            fc.array(
              fc.record(
                {
                  uri: fc.oneof(fc.constantFrom('com.a', 'com.', 'com..b', 'wamp.x', 'Com.A', ''), value),
                  match: fc.oneof(fc.constantFrom('exact', 'prefix', 'wildcard'), value),
                  limit: fc.oneof(fc.integer({ min: -1, max: 12_000 }), value),
                },
                { requiredKeys: [] },
              ),
              { maxLength: 4 },
            ),
            value,
          ),
          'call-queue': value,
        },
        { requiredKeys: [] },
      ),
      value,
    ),
  },
  { requiredKeys: [] },
);
const principals = fc.dictionary(
  fc.constantFrom('joe', 'ann', '__proto__', 'constructor', ''),
  fc.oneof(
    fc.record(
      {
        ticket: value,
        secret: value,
        role: fc.oneof(fc.constantFrom('anonymous', 'backend'), value),
        salt: value,
        authorized_keys: fc.oneof(
          fc.constant(['1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d']),
          value,
        ),
      },
      { requiredKeys: [] },
    ),
    value,
  ),
);
const auth = fc.dictionary(
  fc.constantFrom('anonymous', 'ticket', 'wampcra', 'cryptosign', 'cookie', 'scram'),
  fc.oneof(
    fc.record(
      {
        type: fc.oneof(fc.constantFrom('static', 'dynamic'), value),
        role: value,
        principals,
        users: principals,
        authenticator: value,
      },
      { requiredKeys: [] },
    ),
    value,
  ),
);
const endpoint = fc.oneof(
  fc.record(
    {
      type: fc.oneof(fc.constant('tcp'), value),
      port: value,
      interface: value,
      tls: fc.oneof(fc.record({ key: value, certificate: value, chain_certificates: value }), value),
    },
    { requiredKeys: [] },
  ),
  value,
);
const transport = fc.record(
  {
    type: fc.oneof(
      fc.constantFrom('websocket', 'web', 'universal', 'rawsocket', 'mqtt', 'flashpolicy'),
      value,
    ),
    endpoint,
    auth: fc.oneof(auth, value),
    options: fc.oneof(
      fc.record(
        {
          max_message_size: value,
          allowed_origins: fc.oneof(fc.array(value), value),
          allow_null_origin: value,
        },
        { requiredKeys: [] },
      ),
      value,
    ),
    serializers: fc.oneof(fc.array(fc.constantFrom('json', 'msgpack', 'cbor')), value),
    paths: fc.oneof(
      fc.dictionary(
        fc.constantFrom('ws', '/', 'a/b', 'info', '__proto__'),
        fc.oneof(
          fc.record({
            type: fc.constantFrom('websocket', 'static', 'nodeinfo', 'publisher', 'longpoll'),
            auth: fc.oneof(auth, value),
          }),
          value,
        ),
      ),
      value,
    ),
    websocket: fc.oneof(
      fc.dictionary(
        fc.constantFrom('ws', 'wamp'),
        fc.oneof(fc.record({ type: fc.constant('websocket'), auth }), value),
      ),
      value,
    ),
  },
  { requiredKeys: [] },
);
export const crossbarNode = fc.record(
  {
    version: fc.oneof(fc.constant(2), value),
    $schema: value,
    controller: value,
    workers: fc.oneof(
      fc.array(
        fc.record(
          {
            type: fc.oneof(fc.constantFrom('router', 'router', 'container', 'guest', 'proxy'), value),
            realms: fc.oneof(fc.array(realm, { maxLength: 3 }), value),
            transports: fc.oneof(fc.array(transport, { maxLength: 3 }), value),
            options: value,
            components: value,
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      value,
    ),
  },
  { requiredKeys: [] },
);

const ACTIONS = ['call', 'register', 'publish', 'subscribe'] as const;
const ROLES = ['anonymous', 'frontend', 'backend'] as const;

/**
 * A node configuration Crossbar would start: well-formed realms, roles, static principals and
 * WebSocket transports, with harmless extras and, now and then, one thing Herald refuses.
 */
export const wellFormedNode = fc
  .record({
    realms: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom('realm1', 'com.example.shop', 'app-2'),
        roles: fc.uniqueArray(
          fc.record({
            name: fc.constantFrom(...ROLES),
            permissions: fc.array(
              fc.record(
                {
                  uri: fc.constantFrom('', 'com.example.', 'com.example.*', 'com..add', 'wamp.session.'),
                  match: fc.constantFrom('exact', 'prefix', 'wildcard'),
                  allow: fc.dictionary(fc.constantFrom(...ACTIONS), fc.boolean()),
                  disclose: fc.record({ caller: fc.boolean(), publisher: fc.boolean() }),
                  cache: fc.boolean(),
                },
                { requiredKeys: ['uri'] },
              ),
              { maxLength: 3 },
            ),
          }),
          { selector: (r) => r.name, minLength: 1, maxLength: 3 },
        ),
        options: fc.record(
          { uri_check: fc.constantFrom('strict', 'loose'), enable_meta_api: fc.boolean() },
          {
            requiredKeys: [],
          },
        ),
      }),
      { selector: (r) => r.name, minLength: 1, maxLength: 2 },
    ),
    auth: fc.option(
      fc.record(
        {
          anonymous: fc.record({ type: fc.constant('static'), role: fc.constantFrom(...ROLES) }),
          ticket: fc.record({
            type: fc.constant('static'),
            principals: fc.dictionary(
              fc.constantFrom('w1', 'w2'),
              fc.record({
                ticket: fc.constantFrom('t', `\${X}`, `\${UNSET}`),
                role: fc.constantFrom(...ROLES),
              }),
            ),
          }),
          wampcra: fc.record({
            type: fc.constant('static'),
            users: fc.dictionary(
              fc.constantFrom('joe', 'peter'),
              fc.record(
                {
                  secret: fc.constantFrom('secret2', 'prq7+YkJ1/KlW1X0YczMHw=='),
                  role: fc.constantFrom(...ROLES),
                  salt: fc.constant('salt123'),
                  iterations: fc.integer({ min: 1, max: 1000 }),
                  keylen: fc.integer({ min: 1, max: 64 }),
                },
                { requiredKeys: ['secret', 'role'] },
              ),
            ),
          }),
        },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
    port: fc.integer({ min: 0, max: 65535 }),
    path: fc.constantFrom('ws', 'wamp', '/', 'a/b'),
    extras: fc.subarray(['static', 'info', 'rawsocket', 'options', 'refused'] as const),
    refused: fc.constantFrom('guest', 'components', 'rlinks', 'mqtt', 'publisher', 'authorizer'),
  })
  .map(({ realms, auth, port, path, extras, refused }) => {
    const paths: Record<string, unknown> = { [path]: { type: 'websocket', ...(auth ? { auth } : {}) } };
    if (extras.includes('static')) paths['/'] = { type: 'static', directory: '../web' };
    if (extras.includes('info')) paths.info = { type: 'nodeinfo' };
    const transports: unknown[] = [{ type: 'web', endpoint: { type: 'tcp', port }, paths }];
    if (extras.includes('rawsocket'))
      transports.push({
        type: 'rawsocket',
        endpoint: { type: 'tcp', port: 8081 },
        ...(auth ? { auth } : {}),
      });
    const router: Record<string, unknown> = { type: 'router', realms, transports };
    if (extras.includes('options')) router.options = { pythonpath: ['..'] };
    const workers: unknown[] = [router];
    if (extras.includes('refused')) {
      if (refused === 'guest') workers.push({ type: 'guest', executable: 'node' });
      if (refused === 'components')
        router.components = [{ type: 'class', classname: 'a.B', realm: 'realm1' }];
      if (refused === 'rlinks') Object.assign(realms[0]!, { rlinks: [{ id: 'r2' }] });
      if (refused === 'mqtt') transports.push({ type: 'mqtt', endpoint: { type: 'tcp', port: 1883 } });
      if (refused === 'publisher') paths.push = { type: 'publisher', realm: 'realm1', role: 'anonymous' };
      if (refused === 'authorizer')
        Object.assign(realms[0]!.roles[0]!, { authorizer: 'com.example.authorize' });
    }
    return { version: 2, controller: {}, workers } as Record<string, unknown>;
  });
