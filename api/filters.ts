// The `filters` query parameter, parsed and matched as moby's filters package does. Clients send
// a JSON object mapping each filter name to its values, either as `{"name": ["a", "b"]}` or in the
// older `{"name": {"a": true, "b": true}}` form; both land in the same set-of-values model.

import { tryCompileClientPattern, type ClientPattern } from '../daemon/client-pattern';
import { InvalidParameter } from '../lib/errors';
import { queryString, type Query } from './query';

export { parseTimestamp, parseUnixTimestamp, Timestamp } from './timestamp';

/** dockerd's invalidFilter error text: `invalid filter`, `invalid filter 'k'`, `invalid filter 'k=[a b]'`. */
export function invalidFilter(key?: string, values?: readonly string[]): InvalidParameter {
  let msg = 'invalid filter';
  if (key !== undefined && key !== '') {
    msg += ` '${key}`;
    if (values !== undefined) msg += `=[${values.join(' ')}]`;
    msg += `'`;
  }
  return new InvalidParameter(msg);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class Filters {
  // key -> value -> the boolean of the legacy form (always true for the list form). Insertion
  // ordered, so values come back in the order the client sent them.
  private readonly fields = new Map<string, Map<string, boolean>>();
  // Compiled `match` patterns (null: does not compile), so a list compiles each value once.
  private readonly patterns = new Map<string, ClientPattern | null>();

  /** Parses the JSON text of a `filters` parameter; "" (or absent) means no filters. */
  static fromJSON(text: string | undefined): Filters {
    const f = new Filters();
    if (text === undefined || text === '') return f;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw invalidFilter();
    }
    if (doc === null) return f; // Go decodes JSON null into an empty map
    if (!isPlainObject(doc)) throw invalidFilter();
    const entries = Object.entries(doc);
    // Current form: map[string]map[string]bool.
    if (entries.every(([, v]) => v === null || (isPlainObject(v) && Object.values(v).every((b) => typeof b === 'boolean')))) {
      for (const [k, v] of entries) {
        const set = new Map<string, boolean>();
        if (v !== null) for (const [val, b] of Object.entries(v as Record<string, boolean>)) set.set(val, b);
        f.fields.set(k, set);
      }
      return f;
    }
    // Legacy form: map[string][]string.
    if (entries.every(([, v]) => v === null || (Array.isArray(v) && v.every((s) => typeof s === 'string')))) {
      for (const [k, v] of entries) {
        const set = new Map<string, boolean>();
        if (v !== null) for (const val of v as string[]) set.set(val, true);
        f.fields.set(k, set);
      }
      return f;
    }
    throw invalidFilter();
  }

  /** The `filters` query parameter of a request, parsed. */
  static fromQuery(query: Query, param = 'filters'): Filters {
    return Filters.fromJSON(queryString(query, param));
  }

  /** Builds filters from key/value pairs (for services that filter internally). */
  static of(pairs: ReadonlyArray<readonly [string, string]>): Filters {
    const f = new Filters();
    for (const [k, v] of pairs) f.add(k, v);
    return f;
  }

  add(key: string, value: string): void {
    let set = this.fields.get(key);
    if (!set) {
      set = new Map();
      this.fields.set(key, set);
    }
    set.set(value, true);
  }

  get size(): number {
    return this.fields.size;
  }

  keys(): string[] {
    return [...this.fields.keys()];
  }

  /** Values given for `key` (empty when none). */
  get(key: string): string[] {
    const set = this.fields.get(key);
    return set ? [...set.keys()] : [];
  }

  /** Whether the key was given at all (moby's Contains). */
  has(key: string): boolean {
    return this.fields.has(key);
  }

  /** Throws `invalid filter 'k'` for the first key not in `allowed`. */
  validate(allowed: readonly string[]): void {
    for (const key of this.fields.keys()) {
      if (!allowed.includes(key)) throw invalidFilter(key);
    }
  }

  /** True when no value is set for `key`, or `source` is exactly one of them. */
  exactMatch(key: string, source: string): boolean {
    const set = this.fields.get(key);
    if (!set || set.size === 0) return true;
    return set.get(source) === true;
  }

  /** True when no value is set, or there is exactly one value and it equals `source`. */
  uniqueExactMatch(key: string, source: string): boolean {
    const set = this.fields.get(key);
    if (!set || set.size === 0) return true;
    if (set.size !== 1) return false;
    return set.get(source) === true;
  }

  /** Exact match, or `source` starts with one of the values (ID prefixes). */
  fuzzyMatch(key: string, source: string): boolean {
    if (this.exactMatch(key, source)) return true;
    for (const prefix of this.fields.get(key)?.keys() ?? []) {
      if (source.startsWith(prefix)) return true;
    }
    return false;
  }

  /**
   * Exact match, or one of the values, read as a Go regular expression, matches anywhere in
   * `source`. Matching is linear-time (re2js); an overlong value is a 400.
   */
  match(key: string, source: string): boolean {
    if (this.exactMatch(key, source)) return true;
    for (const pattern of this.fields.get(key)?.keys() ?? []) {
      let re = this.patterns.get(pattern);
      if (re === undefined) {
        re = tryCompileClientPattern(pattern); // like moby: a value that does not compile matches nothing
        this.patterns.set(pattern, re);
      }
      if (re?.test(source)) return true;
    }
    return false;
  }

  /**
   * moby's MatchKVList: true when no values are set for `key`; otherwise every value must be
   * present in `labels`, either as a key (`k`) or as a key with that exact value (`k=v`).
   */
  matchKVList(key: string, labels: Readonly<Record<string, string>> | undefined): boolean {
    const set = this.fields.get(key);
    if (!set || set.size === 0) return true;
    if (!labels || Object.keys(labels).length === 0) return false;
    for (const value of set.keys()) {
      const eq = value.indexOf('=');
      const k = eq === -1 ? value : value.slice(0, eq);
      if (!Object.prototype.hasOwnProperty.call(labels, k)) return false;
      if (eq !== -1 && labels[k] !== value.slice(eq + 1)) return false;
    }
    return true;
  }

  /**
   * Label filtering: `key` (default "label") must match as matchKVList; and when `key!` is given
   * (the CLI's `label!=k` / `label!=k=v`, used by prune), labels matching it are excluded.
   */
  matchLabels(labels: Readonly<Record<string, string>> | undefined, key = 'label'): boolean {
    if (!this.matchKVList(key, labels)) return false;
    const negated = `${key}!`;
    if (this.has(negated) && this.matchKVList(negated, labels)) return false;
    return true;
  }

  /**
   * moby's GetBoolOrDefault: `def` when the key is absent; true/1 or false/0 otherwise, and
   * `invalid filter 'k=[values]'` when the values are neither or both.
   */
  boolValue(key: string, def: boolean): boolean {
    const set = this.fields.get(key);
    if (!set) return def;
    if (set.size === 0) throw invalidFilter(key);
    const isFalse = set.get('0') === true || set.get('false') === true;
    const isTrue = set.get('1') === true || set.get('true') === true;
    if (isFalse === isTrue) throw invalidFilter(key, this.get(key));
    return isTrue;
  }

  /** JSON in the current (map of sets) form, as moby marshals filters. */
  toJSON(): Record<string, Record<string, boolean>> {
    const out: Record<string, Record<string, boolean>> = {};
    for (const [k, set] of this.fields) out[k] = Object.fromEntries(set);
    return out;
  }
}
