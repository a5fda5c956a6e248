/**
 * The floor of the HTTP API scenario: a bare `node:http` server that reads each request's body and
 * answers `200 {}`, with no routing, parsing or signature check. What Herald's `POST /events` costs
 * above this is Herald's; the rest is Node's HTTP and the kernel's.
 *
 *   node dist/bench/lib/floor-server.js <port>
 */
import http from 'node:http';

const port = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    // Touch the body as any server must: one Buffer of it.
    Buffer.concat(chunks);
    // With its length, as Herald answers: without it Node would send the body chunked.
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 });
    res.end('{}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
