import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HttpRequest, HttpResult } from '../http/router.js';

/**
 * The dashboard's browser side: plain HTML, CSS and JavaScript in `ui/` next to this module, read
 * once when the dashboard starts. The build copies `src/dashboard/ui` into `dist/src/dashboard/ui`
 * (package.json, `build`), so the files are in the npm package as well.
 */

/** One static file, its bytes and the strong ETag (RFC 9110 section 8.8.3, "ETag") they are served with. */
export interface Asset {
  readonly body: string;
  readonly contentType: string;
  readonly etag: string;
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/** The files of the page: `index.html` (the page), `app.js`, `app.css`. */
export const ASSET_NAMES = ['index.html', 'app.js', 'app.css'] as const;
export type AssetName = (typeof ASSET_NAMES)[number];

/** Reads every file of `ui/`; throws at start, not at the first visit, when one is missing. */
export function loadAssets(dir = new URL('./ui/', import.meta.url)): Record<AssetName, Asset> {
  const entries = ASSET_NAMES.map((name) => {
    const body = readFileSync(new URL(name, dir), 'utf8');
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 22);
    const extension = name.slice(name.lastIndexOf('.') + 1);
    return [name, { body, contentType: TYPES[extension]!, etag: `"${hash}"` }] as const;
  });
  return Object.fromEntries(entries) as Record<AssetName, Asset>;
}

/**
 * A script or style sheet, cached by the browser but checked again at every use (`no-cache`): the
 * URLs carry no version, so after an upgrade a browser must not keep the old file; the check costs a
 * 304 without a body while the ETag still matches.
 */
export function assetResult(asset: Asset, request: HttpRequest): HttpResult {
  const headers = {
    'Cache-Control': 'no-cache',
    ETag: asset.etag,
    'X-Content-Type-Options': 'nosniff',
  };
  if (matches(request.headers['if-none-match'], asset.etag)) {
    return { status: 304, body: '', contentType: asset.contentType, headers };
  }
  return { status: 200, body: asset.body, contentType: asset.contentType, headers };
}

/** `If-None-Match` lists `etag` or is `*` (RFC 9110 section 13.1.2, weak comparison). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}
