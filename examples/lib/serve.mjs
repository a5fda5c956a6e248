// The small web server every example runs: it serves the example's own files, the browser builds of
// pusher-js, laravel-echo and wampy from node_modules (no CDN, so the examples work offline), a
// /config.js that tells the page where Herald is, and the example's own routes (an auth endpoint, a
// "send" button's backend). Plain Node, no framework; read it as part of the example.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { extname, join, resolve, sep } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * Where Herald is and which app to use: the defaults are those of `npm start` (the development app
 * `app-id` / `app-key` / `app-secret` on port 6001); HERALD_HOST, HERALD_PORT, HERALD_APP_ID,
 * HERALD_APP_KEY and HERALD_APP_SECRET point the example elsewhere.
 */
export const herald = {
  host: process.env.HERALD_HOST ?? '127.0.0.1',
  port: Number(process.env.HERALD_PORT ?? 6001),
  appId: process.env.HERALD_APP_ID ?? 'app-id',
  key: process.env.HERALD_APP_KEY ?? 'app-key',
  secret: process.env.HERALD_APP_SECRET ?? 'app-secret',
};

/** The browser builds a page may load from /vendor/. */
const VENDOR = {
  'pusher.min.js': 'pusher-js/dist/web/pusher.min.js',
  'echo.iife.js': 'laravel-echo/dist/echo.iife.js',
  'wampy.min.js': 'wampy/dist/browser/wampy.min.js',
};

/** A file of an installed package, found the way Node finds the package (its `exports` hide dist files). */
function packageFile(path) {
  const dir = require.resolve.paths(path)?.find((modules) => existsSync(join(modules, path)));
  if (!dir) throw Object.assign(new Error(`${path} is not installed (npm install)`), { status: 404 });
  return join(dir, path);
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** A request body of at most 64 KiB, as text. */
async function readBody(request) {
  let body = '';
  for await (const chunk of request) {
    body += chunk;
    if (body.length > 65_536) throw Object.assign(new Error('request body too large'), { status: 413 });
  }
  return body;
}

/**
 * A form (`application/x-www-form-urlencoded`, as pusher-js posts to auth endpoints) or JSON body as
 * a plain object.
 */
export function fields(request, body) {
  if ((request.headers['content-type'] ?? '').startsWith('application/json')) {
    try {
      return JSON.parse(body || '{}');
    } catch {
      throw Object.assign(new Error('request body is not JSON'), { status: 400 });
    }
  }
  return Object.fromEntries(new URLSearchParams(body));
}

function send(response, status, type, body) {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(body);
}

/**
 * Serves `root` (the example's folder) and `routes` on `port` (PORT in the environment, 0 for any free
 * port), and prints the address once listening. A route is `'METHOD /path'` → `async (request, body)`
 * returning `{status, json}` or `{status, text}`.
 */
export function serveExample({ root, port = Number(process.env.PORT ?? 8080), routes = {} }) {
  const base = resolve(root);
  const config = `window.HERALD = ${JSON.stringify({ host: herald.host, port: herald.port, key: herald.key })};\n`;

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    try {
      const route = routes[`${request.method} ${url.pathname}`];
      if (route) {
        const result = await route(request, await readBody(request));
        if (result.json !== undefined)
          return send(response, result.status ?? 200, 'application/json', JSON.stringify(result.json));
        return send(response, result.status ?? 200, 'text/plain; charset=utf-8', result.text ?? '');
      }
      if (request.method !== 'GET' && request.method !== 'HEAD')
        return send(response, 405, 'application/json', JSON.stringify({ error: 'method not allowed' }));
      if (url.pathname === '/config.js') return send(response, 200, TYPES['.js'], config);

      const vendor = url.pathname.startsWith('/vendor/') && VENDOR[url.pathname.slice('/vendor/'.length)];
      const file = vendor
        ? packageFile(vendor)
        : join(base, url.pathname.endsWith('/') ? `${url.pathname}index.html` : url.pathname);
      if (!vendor && !file.startsWith(base + sep))
        return send(response, 404, 'application/json', JSON.stringify({ error: 'not found' }));
      const content = await readFile(file);
      return send(response, 200, TYPES[extname(file)] ?? 'application/octet-stream', content);
    } catch (error) {
      const status = error.status ?? (error.code === 'ENOENT' || error.code === 'EISDIR' ? 404 : 500);
      if (status === 500) console.error(error);
      send(
        response,
        status,
        'application/json',
        JSON.stringify({ error: status === 404 ? 'not found' : error.message }),
      );
    }
  });

  server.listen(port, process.env.HOST ?? '127.0.0.1', () => {
    const { address, port: bound } = server.address();
    console.log(`Example at http://${address}:${bound}/ (Herald at ${herald.host}:${herald.port})`);
  });
  return server;
}
