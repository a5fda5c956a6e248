import { HeraldError } from '../core/errors.js';

/**
 * What every importer shares: the warnings it collects, the error it throws for input it cannot read,
 * and readers that take a peer's loosely typed values (numbers written as strings, booleans as `"1"`)
 * without trusting them. Input is untrusted: a key is read only when it is the object's own (`own`),
 * and names that would reach an object's prototype are never written (`safeKey`).
 */

export const ERR_IMPORT_INVALID = 'ERR_IMPORT_INVALID';

/** The peer's file cannot be imported at all: unreadable, malformed, or not that peer's. */
export class ImportError extends HeraldError {
  constructor(message: string) {
    super(ERR_IMPORT_INVALID, message);
  }
}

/**
 * How much a setting left out matters: `warn` when leaving it out is harmless, `refuse` when Herald
 * would then behave differently where correctness or security depends on it. `herald import` prints
 * both as warnings; `herald start` with the peer's file itself refuses to start on a `refuse`.
 */
export type NoteKind = 'warn' | 'refuse';

/** A setting of the peer's file that the Herald configuration does not carry, and why. */
export interface ImportNote {
  /** The setting as the file writes it: `adapter.redis.prefix`, `REVERB_APP_PING_INTERVAL`. */
  readonly setting: string;
  readonly reason: string;
  readonly kind: NoteKind;
}

/** Notes in the order they were found, each setting named once (a refusal wins over a warning). */
export class Notes {
  readonly notes: ImportNote[] = [];
  readonly #at = new Map<string, number>();
  /** What a value of the wrong kind is: some peers refuse to start with one themselves. */
  readonly #malformed: NoteKind;

  constructor(malformed: NoteKind = 'warn') {
    this.#malformed = malformed;
  }

  warn(setting: string, reason: string): void {
    this.#note({ setting, reason, kind: 'warn' });
  }

  refuse(setting: string, reason: string): void {
    this.#note({ setting, reason, kind: 'refuse' });
  }

  /** A value of the wrong kind: not carried, and said so. */
  invalid(setting: string, value: unknown, expected: string): void {
    this.#note({ setting, reason: `${preview(value)} is not ${expected}; left out`, kind: this.#malformed });
  }

  get refusals(): ImportNote[] {
    return this.notes.filter((n) => n.kind === 'refuse');
  }

  #note(note: ImportNote): void {
    const i = this.#at.get(note.setting);
    if (i === undefined) {
      this.#at.set(note.setting, this.notes.length);
      this.notes.push(note);
    } else if (note.kind === 'refuse' && this.notes[i]!.kind === 'warn') {
      this.notes[i] = note;
    }
  }
}

export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** `object[key]` when it is the object's own property, so that `__proto__` or `toString` read nothing. */
export function own(object: unknown, key: string): unknown {
  return isObject(object) && Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Keys that must never be written into an object: they would change its prototype. */
export const safeKey = (key: string) => key !== '__proto__' && key !== 'constructor' && key !== 'prototype';

/** A whole number from a number or a string of digits; undefined for anything else. */
export function integer(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
}

/** A finite number from a number or a numeric string. */
export function decimal(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** `x` rounded up to a whole number; undefined past the whole numbers a double holds exactly. */
export function roundedUp(x: number): number | undefined {
  const n = Math.ceil(x);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `true`/`false`, and the `"true"`, `"1"`, `"false"`, `"0"` (any case) that environment files hold. */
export function boolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'on' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'off' || v === 'no' || v === '') return false;
  return undefined;
}

/** A string, or a number written as one (ids are often numbers); undefined for anything else. */
export function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
}

/**
 * A path prefix as Herald's `pathPrefix` takes it: empty, or `/a/b` without a trailing slash; the
 * peers also accept `a/b` and `/a/`. Undefined when no such prefix can be made.
 */
export function pathPrefix(value: string): string | undefined {
  const trimmed = value.trim().replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  return /^[^/\s?#]+(\/[^/\s?#]+)*$/.test(trimmed) ? `/${trimmed}` : undefined;
}

/** A short, one-line rendering of a value for a warning. */
export function preview(value: unknown): string {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return shown.length > 60 ? `${shown.slice(0, 57)}...` : shown;
}
