// Serves the WAMP pages with wampy from node_modules, so they run offline:
//   node examples/wamp/server.mjs   then open http://127.0.0.1:8080/callee.html, caller.html, ...
// The pages find Herald's WAMP endpoint (ws://HERALD_HOST:HERALD_PORT/ws) in /config.js.
import { fileURLToPath } from 'node:url';
import { serveExample } from '../lib/serve.mjs';

serveExample({ root: fileURLToPath(new URL('.', import.meta.url)) });
