// The boundaries between the layers of src/ (docs/architecture.md, Boundaries), checked by `npm run lint:deps`.
// Every rule reads the TypeScript sources (src/, parsed with swc), where `import type` and `export type ... from`
// count like any other import: a cycle made only of types is a cycle too.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'protocol-no-io',
      comment: 'protocol/ sees a Connection and the core interfaces: no WebSocket library, no broker client.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: 'node_modules/(@types/)?(ws|ioredis|nats)/' },
    },
    {
      name: 'protocol-no-sockets',
      comment: 'protocol/ never opens or reads a socket: WebSocket and RawSocket live in transport/.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { dependencyTypes: ['core'], path: '^(node:)?(net|tls|http|https|http2|dgram)$' },
    },
    {
      name: 'core-no-broker',
      comment: 'core/ holds interfaces and in-memory implementations: the broker clients live in adapters/.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: 'node_modules/(@types/)?(ioredis|nats)/' },
    },
    {
      name: 'database-drivers-in-apps',
      comment: 'The PostgreSQL and MySQL clients serve the app stores: only src/apps/ talks to a database.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/apps/' },
      to: { path: 'node_modules/(@types/)?(pg|pg-[a-z-]+|mysql2)/' },
    },
    {
      name: 'core-no-upper-layer',
      comment: 'core/ imports nothing above it.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/(webhooks|protocol|adapters)/' },
    },
    {
      name: 'adapters-no-protocol-or-webhooks',
      comment: 'Adapters move opaque envelopes: they know nothing of the protocols or of webhooks.',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/(webhooks|protocol)/' },
    },
    {
      name: 'http-no-protocol',
      comment: 'http/ is the generic HTTP layer: the Pusher HTTP API lives in protocol/pusher/http-api/.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/protocol/' },
    },
    {
      name: 'no-cycles',
      comment: 'No module of src/ imports itself through others, not even through the imports of types.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'resolvable',
      comment: 'Every import resolves, so that the rules above see every edge.',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: 'swc',
    includeOnly: { path: ['^src/', 'node_modules/'] },
    doNotFollow: { path: 'node_modules' },
    moduleSystems: ['es6'],
  },
};
