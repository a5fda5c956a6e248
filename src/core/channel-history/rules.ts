import type { HistoryConfig, HistoryStreamConfig } from '../../config/schema.js';
import type { StreamLimits } from './store.js';

/** A channel's stream rule: the app's first `history.streams` entry whose `channels` match it. */
export interface StreamRule {
  readonly limits: StreamLimits;
  readonly config: HistoryStreamConfig;
}

/** Whether `name` matches `pattern`, where each `*` stands for any characters (none included). */
export function matchesPattern(pattern: string, name: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === name;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (name.length < first.length + last.length || !name.startsWith(first) || !name.endsWith(last))
    return false;
  let at = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i]!;
    const found = name.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** The rules of each history setting, with their limits in milliseconds, made once per setting. */
const compiled = new WeakMap<HistoryConfig, readonly StreamRule[]>();

function rulesOf(history: HistoryConfig): readonly StreamRule[] {
  let rules = compiled.get(history);
  if (!rules) {
    const resumeMs = history.resumeTtlSeconds * 1000;
    rules = history.streams.map((config) => ({
      config,
      limits: {
        maxEvents: config.maxEvents,
        ttlMs: config.ttlSeconds * 1000,
        streamTtlMs: Math.max(config.ttlSeconds * 1000, resumeMs),
      },
    }));
    compiled.set(history, rules);
  }
  return rules;
}

/** The stream rule of `channel` under an app's `history`; undefined when the channel keeps none. */
export function streamRule(history: HistoryConfig | null, channel: string): StreamRule | undefined {
  if (history === null) return undefined;
  for (const rule of rulesOf(history)) {
    if (rule.config.channels.some((pattern) => matchesPattern(pattern, channel))) return rule;
  }
  return undefined;
}
