import type { z } from 'zod';
import type { wampRoleSchema } from '../../config/schema.js';
import type { MatchPolicy } from './uri.js';
import { UriMap } from './uri-map.js';

export type RoleConfig = z.infer<typeof wampRoleSchema>;
export type Action = 'call' | 'register' | 'publish' | 'subscribe';

export interface Decision {
  readonly allow: boolean;
  /** The role's rule forces disclosure of the caller (call) or publisher (publish). */
  readonly disclose: boolean;
  /**
   * The rule that applies names the router's `wamp.` namespace itself, not a catch-all: what the
   * privileged meta API needs (`privileged.ts`).
   */
  readonly namesMeta: boolean;
}

interface Rule {
  readonly allow: Readonly<Record<Action, boolean>>;
  readonly disclose: { readonly caller: boolean; readonly publisher: boolean };
  readonly namesMeta: boolean;
}

const DENY: Decision = { allow: false, disclose: false, namesMeta: false };

/**
 * Crossbar's starred URIs for rules without `match` (docs/wamp.md, Authorization): no `*` is exact, one
 * trailing `*` is a prefix (`com.app.*` → `com.app.`), any other `*` makes a wildcard (`com.*.x` → `com..x`).
 */
export function ruleUri(uri: string, match: MatchPolicy | undefined): { uri: string; match: MatchPolicy } {
  if (match !== undefined) return { uri, match };
  const stars = uri.split('*').length - 1;
  if (stars === 0) return { uri, match: 'exact' };
  if (stars === 1 && uri.endsWith('*')) return { uri: uri.slice(0, -1), match: 'prefix' };
  return { uri: uri.replaceAll('*', ''), match: 'wildcard' };
}

/**
 * Static per-realm authorization by role (docs/wamp.md, Authorization): each role maps URIs to allowed
 * actions. The rule that applies to a URI is the one a CALL would pick among registrations: exact, else the
 * longest prefix, else the most specific wildcard. No rule means deny. For a pattern SUBSCRIBE or REGISTER
 * the URI checked is the pattern itself.
 */
export class Authorizer {
  readonly #roles = new Map<string, UriMap<Rule>>();

  constructor(roles: readonly RoleConfig[]) {
    for (const role of roles) {
      const rules = new UriMap<Rule>();
      for (const p of role.permissions) {
        const { uri, match } = ruleUri(p.uri, p.match);
        rules.set(uri, match, { allow: p.allow, disclose: p.disclose, namesMeta: uri.startsWith('wamp.') });
      }
      this.#roles.set(role.name, rules);
    }
  }

  hasRole(role: string): boolean {
    return this.#roles.has(role);
  }

  authorize(role: string, uri: string, action: Action): Decision {
    const rule = this.#roles.get(role)?.best(uri);
    if (rule === undefined || !rule.allow[action]) return DENY;
    const disclose =
      action === 'call' ? rule.disclose.caller : action === 'publish' ? rule.disclose.publisher : false;
    return { allow: true, disclose, namesMeta: rule.namesMeta };
  }
}
