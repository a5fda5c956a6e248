import { HttpError, httpError } from './errors.js';

/** Every origin-form target is resolved against this fixed origin, so its path can never become a host. */
const ORIGIN = 'http://localhost';
/** A `%` not followed by two hex digits (RFC 3986 section 2.1, "Percent-Encoding"). */
const BROKEN_PERCENT = /%(?![0-9A-Fa-f]{2})/;
const ABSOLUTE_FORM = /^https?:\/\//i;

/**
 * The request target of an HTTP request or WebSocket upgrade, parsed without throwing anything but
 * an `HttpError` 400. The HTTP router and the upgrade path both parse through here.
 *
 * Forms (RFC 9112 section 3.2, "Request Target"): origin-form (`/path?query`) is the path itself, so
 * a target starting with `//` is a path whose first segment is empty, never an authority; absolute-form
 * (`http://host/path`) is accepted as RFC 9112 asks of servers; asterisk-form (`*`) has the path `*`,
 * which no route matches. Anything else, an absolute-form URL that does not parse, and a path with a
 * `%` not followed by two hex digits are refused. Query strings are decoded leniently, as
 * `URLSearchParams` does.
 *
 * A WebSocket upgrade is refused here too, before any protocol sees it, rather than upgraded and then
 * closed with a `pusher:error`: a path that does not decode cannot name an app key (which pusher-js puts
 * in the path as it is) nor the WAMP path, and one HTTP answer serves every route alike (docs/pusher.md,
 * "WebSocket protocol").
 */
export function parseRequestTarget(target: string | undefined): URL {
  const raw = target ?? '/';
  let url: URL;
  try {
    if (raw.startsWith('/')) url = new URL(ORIGIN + raw);
    else if (raw === '*') url = new URL(`${ORIGIN}/*`);
    else if (ABSOLUTE_FORM.test(raw)) url = new URL(raw);
    else throw httpError('MALFORMED_TARGET', preview(raw));
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw httpError('MALFORMED_TARGET', preview(raw));
  }
  if (BROKEN_PERCENT.test(url.pathname)) throw httpError('MALFORMED_PATH_ENCODING', preview(url.pathname));
  return url;
}

/**
 * The captures of a route pattern matched against a parsed path, percent-decoded. Well-formed escapes
 * that are not UTF-8 (`%E0%A4`) are refused with 400.
 */
export function decodePathParams(match: RegExpExecArray): string[] {
  return match.slice(1).map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw httpError('MALFORMED_SEGMENT_ENCODING', preview(segment));
    }
  });
}

/** Error messages quote at most this much of what the client sent. */
const PREVIEW_CHARS = 100;

function preview(text: string): string {
  const cut = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  return JSON.stringify(cut);
}
