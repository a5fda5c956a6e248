import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assetResult, loadAssets } from '../../../src/dashboard/assets.js';
import type { HttpRequest } from '../../../src/http/router.js';

const request = (headers: Record<string, string> = {}) =>
  ({ method: 'GET', headers, params: [], body: Buffer.alloc(0), url: new URL('http://h/') }) as HttpRequest;

test('every file of the page is read with its type and a strong ETag', () => {
  const assets = loadAssets();
  assert.match(assets['index.html'].contentType, /^text\/html/);
  assert.match(assets['app.js'].contentType, /^text\/javascript/);
  assert.match(assets['app.css'].contentType, /^text\/css/);
  for (const asset of Object.values(assets)) assert.match(asset.etag, /^"[A-Za-z0-9_-]{22}"$/);
  // The page names its script and style sheet, which the CSP allows as the page's own.
  assert.match(assets['index.html'].body, /src="\/dashboard\/app\.js"/);
  assert.match(assets['index.html'].body, /href="\/dashboard\/app\.css"/);
});

test('a script is sent with its ETag, and answered 304 without a body while it matches', () => {
  const script = loadAssets()['app.js'];
  const first = assetResult(script, request());
  assert.equal(first.status, 200);
  assert.equal(first.body, script.body);
  assert.equal(first.headers?.ETag, script.etag);
  assert.equal(first.headers?.['Cache-Control'], 'no-cache');
  for (const header of [script.etag, `W/${script.etag}`, `"other", ${script.etag}`, '*']) {
    const again = assetResult(script, request({ 'if-none-match': header }));
    assert.equal(again.status, 304, header);
    assert.equal(again.body, '');
  }
  assert.equal(assetResult(script, request({ 'if-none-match': '"other"' })).status, 200);
});
