import type { z } from 'zod';
import { type appSchema, WEBHOOK_EVENTS, webhookSchema } from '../config/schema.js';
import { boolean, decimal, integer, isObject, type Json, own, roundedUp, safeKey, text } from './notes.js';
import type { Settings } from './settings.js';

/**
 * soketi's array app manager (`appManager.array.apps`) as Herald's `apps`. soketi reads each field
 * under three spellings (`maxConnections`, `MaxConnections`, `max_connections`), treats `''` and
 * `null` as unset, and fills an unset id, key or secret with `app-id`, `app-key`, `app-secret`
 * (`src/app.ts`); its server-wide limits (`presence.*`, `channelLimits.*`, `eventLimits.*`) are the
 * defaults of every app's own.
 */

type AppInput = z.input<typeof appSchema>;
type WebhookInput = z.input<typeof webhookSchema>;

export interface AppDefaults {
  maxPresenceMembers: number | undefined;
  maxPresenceMemberKb: number | undefined;
  maxChannelNameLength: number | undefined;
  cacheTtlSeconds: number | undefined;
  maxChannelsPerTrigger: number | undefined;
  maxEventNameLength: number | undefined;
  maxEventPayloadKb: number | undefined;
  maxBatchSize: number | undefined;
  userAuthenticationTimeoutMs: number | undefined;
  batchWebhooks: boolean | undefined;
}

const SOKETI_DEFAULT_APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' };

export function soketiApps(s: Settings, defaults: AppDefaults): AppInput[] {
  const path = 'appManager.array.apps';
  const value = s.take(path);
  if (value !== undefined && !Array.isArray(value)) s.notes.invalid(s.label(path), value, 'a list of apps');
  const entries: unknown[] = Array.isArray(value) ? value : [{ ...SOKETI_DEFAULT_APP }];
  const apps: AppInput[] = [];
  const seen = { id: new Set<string>(), key: new Set<string>() };
  for (const [i, entry] of entries.entries()) {
    if (entry === undefined) continue; // a hole soketi's dotted paths left (apps.2 set, apps.1 not)
    const label = (field: string) => s.label(`${path}.${i}${field ? `.${field}` : ''}`);
    if (!isObject(entry)) {
      s.notes.invalid(label(''), entry, 'an app');
      continue;
    }
    const app = soketiApp(entry, label, s, defaults);
    if (!app) continue;
    const taken = (['id', 'key'] as const).find((field) => seen[field].has(app[field]));
    if (taken) {
      s.notes.warn(label(''), `a second app with ${taken} "${app[taken]}"; left out`);
      continue;
    }
    seen.id.add(app.id);
    seen.key.add(app.key);
    apps.push(app);
  }
  if (apps.length === 0)
    s.notes.warn(s.label(path), "no app to carry: Herald's default app serves in their place");
  return apps.length > 0 ? apps : [{ ...SOKETI_DEFAULT_APP }];
}

function soketiApp(
  entry: Json,
  label: (field: string) => string,
  s: Settings,
  defaults: AppDefaults,
): AppInput | undefined {
  const read = new Set<string>();
  /** The value soketi would read: the last of the spellings that is set. */
  const field = (...names: string[]): [string, unknown] | undefined => {
    let found: [string, unknown] | undefined;
    for (const name of names) {
      read.add(name);
      const v = own(entry, name);
      if (v !== undefined && v !== null && v !== '') found = [name, v];
    }
    return found;
  };
  const spellings = (camel: string, snake = camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) => [
    camel,
    camel[0]!.toUpperCase() + camel.slice(1),
    snake,
  ];
  const invalid = (name: string, value: unknown, expected: string): undefined => {
    s.notes.invalid(label(name), value, expected);
    return undefined;
  };
  /** A whole number of at least 1; `-1` (soketi's "no limit") and anything below 1 are `null`. */
  const limit = (found: [string, unknown] | undefined): number | null | undefined => {
    if (!found) return undefined;
    const n = integer(found[1]);
    if (n === undefined) return invalid(found[0], found[1], 'a whole number');
    return n > 0 ? n : null;
  };
  const kb = (found: [string, unknown] | undefined, fallback: number | undefined): number | undefined => {
    if (!found) return fallback === undefined ? undefined : roundedUp(fallback * 1024);
    const n = decimal(found[1]);
    const bytes = n === undefined || n <= 0 ? undefined : roundedUp(n * 1024);
    return bytes ?? invalid(found[0], found[1], 'a number of KB above 0');
  };
  const positive = (found: [string, unknown] | undefined, fallback: number | undefined) => {
    const n = limit(found);
    if (n === null) invalid(found![0], found![1], 'a whole number above 0');
    return n ?? fallback;
  };
  const credential = (name: 'id' | 'key' | 'secret', pascal: string): string | undefined => {
    const found = field(name, pascal);
    const value = found ? text(found[1]) : SOKETI_DEFAULT_APP[name];
    if (!found) s.notes.warn(label(name), `not set: soketi's default "${value}" carried`);
    if (value === undefined || value.length > 255) {
      invalid(name, found?.[1], 'text of 1 to 255 characters');
      return undefined;
    }
    return value;
  };

  const id = credential('id', 'AppId');
  const key = credential('key', 'AppKey');
  const secret = credential('secret', 'AppSecret');
  if (id === undefined || key === undefined || secret === undefined) {
    s.notes.warn(label(''), 'an app without a usable id, key and secret; left out');
    return undefined;
  }
  const app: AppInput = { id, key, secret };
  const flag = (names: string[], set: (b: boolean) => void) => {
    const found = field(...names);
    if (!found) return;
    const b = boolean(found[1]);
    if (b === undefined) invalid(found[0], found[1], 'true or false');
    else set(b);
  };
  flag(spellings('enabled'), (b) => (app.enabled = b));
  flag(spellings('enableClientMessages'), (b) => (app.clientEvents = b));
  flag(spellings('enableUserAuthentication'), (b) => (app.userAuthentication = b));

  const maxConnections = limit(field(...spellings('maxConnections')));
  if (maxConnections !== undefined) app.maxConnections = maxConnections;
  const clientRate = field(...spellings('maxClientEventsPerSecond', 'max_client_events_per_sec'));
  const perSecond = limit(clientRate);
  if (perSecond) app.maxClientEventsPerSecond = perSecond;
  else if (app.clientEvents) {
    s.notes.warn(
      label(clientRate?.[0] ?? 'maxClientEventsPerSecond'),
      'no limit: Herald always limits client events, to maxClientEventsPerSecond (10 by default) per connection',
    );
  }
  httpLimit(app, field, limit, label, s);

  const set = <K extends keyof AppInput>(k: K, v: AppInput[K] | undefined) => {
    if (v !== undefined) app[k] = v;
  };
  set(
    'maxPresenceMembers',
    positive(field(...spellings('maxPresenceMembersPerChannel')), defaults.maxPresenceMembers),
  );
  set(
    'maxPresenceUserInfoBytes',
    kb(field(...spellings('maxPresenceMemberSizeInKb')), defaults.maxPresenceMemberKb),
  );
  set(
    'maxChannelNameLength',
    positive(field(...spellings('maxChannelNameLength')), defaults.maxChannelNameLength),
  );
  set(
    'maxChannelsPerTrigger',
    positive(field(...spellings('maxEventChannelsAtOnce')), defaults.maxChannelsPerTrigger),
  );
  set('maxEventNameLength', positive(field(...spellings('maxEventNameLength')), defaults.maxEventNameLength));
  set('maxEventPayloadBytes', kb(field(...spellings('maxEventPayloadInKb')), defaults.maxEventPayloadKb));
  set('maxBatchSize', positive(field(...spellings('maxEventBatchSize')), defaults.maxBatchSize));
  set('cacheTtlSeconds', defaults.cacheTtlSeconds);
  set('userAuthenticationTimeoutMs', defaults.userAuthenticationTimeoutMs);
  set('batchWebhooks', defaults.batchWebhooks);

  const hooks = field('webhooks', 'Webhooks');
  const carried = hooks ? webhooks(hooks, label, s) : [];
  if (carried.length > 0) app.webhooks = carried;

  for (const name of Object.keys(entry)) {
    if (!read.has(name)) s.notes.warn(label(name), 'not an app setting Herald has; left out');
  }
  return app;
}

/**
 * soketi limits `/events` publications (`maxBackendEventsPerSecond`) and reads
 * (`maxReadRequestsPerSecond`) apart; Herald has one limit for every signed request of an app.
 */
function httpLimit(
  app: AppInput,
  field: (...names: string[]) => [string, unknown] | undefined,
  limit: (found: [string, unknown] | undefined) => number | null | undefined,
  label: (field: string) => string,
  s: Settings,
): void {
  const backend = field(
    'maxBackendEventsPerSecond',
    'MaxBackendEventsPerSecond',
    'max_backend_events_per_sec',
  );
  const read = field('maxReadRequestsPerSecond', 'MaxReadRequestsPerSecond', 'max_read_req_per_sec');
  const [b, r] = [limit(backend), limit(read)];
  if (b && r && Number.isSafeInteger(b + r)) {
    app.maxHttpRequestsPerSecond = b + r;
    s.notes.warn(
      label(backend![0]),
      `carried with ${read![0]} as maxHttpRequestsPerSecond ${b + r}: Herald counts every signed request together`,
    );
  } else if (b || r) {
    s.notes.warn(
      label((b ? backend : read)![0]),
      'Herald has one limit for every signed request (maxHttpRequestsPerSecond), and the other kind had ' +
        'none in soketi; none set',
    );
  }
}

/** soketi's webhooks (`url`, `event_types`, `headers`, `filter`) as Herald's; Lambda ones are not carried. */
function webhooks(found: [string, unknown], label: (field: string) => string, s: Settings): WebhookInput[] {
  let list = found[1];
  if (typeof list === 'string') {
    try {
      list = JSON.parse(list);
    } catch {
      list = undefined;
    }
  }
  if (!Array.isArray(list)) {
    s.notes.invalid(label(found[0]), found[1], 'a list of webhooks');
    return [];
  }
  const hooks: WebhookInput[] = [];
  for (const [i, hook] of list.entries()) {
    const at = (name: string) => label(`${found[0]}.${i}${name ? `.${name}` : ''}`);
    if (!isObject(hook)) {
      s.notes.invalid(at(''), hook, 'a webhook');
      continue;
    }
    if (own(hook, 'lambda_function') !== undefined || own(hook, 'lambda') !== undefined) {
      s.notes.warn(
        at('lambda_function'),
        'Herald calls webhooks over HTTP only; this AWS Lambda one left out',
      );
      continue;
    }
    const url = own(hook, 'url');
    if (!webhookSchema.shape.url.safeParse(url).success) {
      s.notes.invalid(at('url'), url, 'an http:// or https:// URL; webhook left out');
      continue;
    }
    const types = own(hook, 'event_types');
    const events = (Array.isArray(types) ? types : []).filter((t): t is (typeof WEBHOOK_EVENTS)[number] => {
      const known = (WEBHOOK_EVENTS as readonly unknown[]).includes(t);
      if (!known) s.notes.invalid(at('event_types'), t, `one of ${WEBHOOK_EVENTS.join(', ')}`);
      return known;
    });
    if (events.length === 0) {
      s.notes.warn(at('event_types'), 'no event type Herald sends; webhook left out');
      continue;
    }
    const webhook: WebhookInput = { url: url as string, events: [...new Set(events)] };
    const headers = own(hook, 'headers');
    if (isObject(headers)) {
      const strings = Object.entries(headers).filter(([k, v]) => safeKey(k) && typeof v === 'string');
      if (strings.length) webhook.headers = Object.fromEntries(strings) as Record<string, string>;
    }
    const filter = own(hook, 'filter');
    const startsWith = text(own(filter, 'channel_name_starts_with'));
    if (startsWith) webhook.filter = { channelPrefix: startsWith };
    if (own(filter, 'channel_name_ends_with') !== undefined) {
      s.notes.warn(at('filter.channel_name_ends_with'), 'Herald filters webhooks by channel prefix only');
    }
    for (const name of Object.keys(hook)) {
      if (!['url', 'event_types', 'headers', 'filter'].includes(name)) {
        s.notes.warn(at(name), 'not a webhook setting Herald has; left out');
      }
    }
    hooks.push(webhook);
  }
  return hooks;
}
