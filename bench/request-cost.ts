#!/usr/bin/env node
/**
 * The CPU that checking one `POST /events` takes in Herald's own code, with no HTTP around it: the
 * request of the `http-api` scenario (same body, signed once), its target parsed, its query split, its
 * signature verified (body MD5 and HMAC-SHA256, through node:crypto's OpenSSL), its body parsed. Set
 * against what the `http-api` scenario's bare `node:http` server spends on a whole request, it shows how
 * much of a request the HTTP API's contract (Pusher docs, HTTP API reference, "Authentication") costs
 * before Herald does anything of its own (docs/performance.md).
 *
 *   node dist/bench/request-cost.js      (after npm run build)
 */
import { appSchema } from '../src/config/schema.js';
import { parseRequestTarget } from '../src/http/request-target.js';
import { hmacSha256Hex, httpSignatureString, md5Hex, signRequest } from '../src/protocol/pusher/auth.js';
import { queryParams, verifyRequest } from '../src/protocol/pusher/http-api/verify.js';
import { APP } from './lib/servers.js';

const ROUNDS = 5;
const CALLS = 200_000;

const app = appSchema.parse({ ...APP });
const body = Buffer.from(JSON.stringify({ name: 'bench', channel: 'nobody-listens', data: 'x'.repeat(100) }));
const path = `/apps/${APP.id}/events`;
const target = `${path}?${new URLSearchParams(signRequest('POST', path, APP, body.toString())).toString()}`;
const now = () => Math.floor(Date.now() / 1000);

/** µs of CPU (user + system) per call of `step`, the median of ROUNDS rounds after a warm-up. */
function cost(step: () => unknown): number {
  for (let i = 0; i < CALLS / 10; i++) step();
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < CALLS; i++) step();
    const used = process.cpuUsage(before);
    rounds.push((used.user + used.system) / CALLS);
  }
  return rounds.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
}

const params = queryParams(parseRequestTarget(target));
const signed = httpSignatureString('POST', path, params);
const steps: [string, () => unknown][] = [
  ['parse the target (URL)', () => parseRequestTarget(target)],
  ['parse the target and split the query', () => queryParams(parseRequestTarget(target))],
  ['MD5 of the body (node:crypto)', () => md5Hex(body)],
  ['the string to sign', () => httpSignatureString('POST', path, params)],
  ['HMAC-SHA256 of it (node:crypto)', () => hmacSha256Hex(APP.secret, signed)],
  [
    'verifyRequest: key, timestamp, MD5, HMAC',
    () => verifyRequest(app, 'POST', path, params, body, now(), 600),
  ],
  ['JSON.parse of the body', () => JSON.parse(body.toString())],
  [
    'all of the above, as a request needs them',
    () => {
      const p = queryParams(parseRequestTarget(target));
      verifyRequest(app, 'POST', path, p, body, now(), 600);
      return JSON.parse(body.toString());
    },
  ],
];
console.log(`Node ${process.version}; µs of CPU per call, median of ${ROUNDS} rounds of ${CALLS}:`);
for (const [name, step] of steps) console.log(`${cost(step).toFixed(2).padStart(8)} µs  ${name}`);
