// The pre-1.10 `docker save` layout (moby image/tarexport legacyLoad): no manifest.json, a
// `repositories` file {"repo": {"tag": "<v1 id>"}}, and one directory per v1 image holding its
// `json` (the v1 image: config, container_config, created, parent...) and its `layer.tar`. Each
// named image is rebuilt from its parent chain as dockerd rebuilds it: the diff IDs of the chain's
// layers as rootfs, one history entry per v1 image, and the v1 JSON minus its v1-only fields as
// the config, encoded as Go's json.Marshal of a map encodes it (keys sorted, compact, HTML-safe),
// so the image IDs are the ones dockerd gives the same archive.
import { createHash } from 'node:crypto';
import type { ArchiveImage, ArchiveLayer } from './archive-types';

/** What the legacy reader needs of the archive reader (archive-read.ts). */
export interface LegacyArchive {
  /** The file at `name` (links resolved in the archive), if any. */
  lookup(name: string): { size: number } | undefined;
  /** A small JSON file's bytes; throws the archive reader's error for a missing or huge file. */
  readJson(name: string): Promise<Buffer>;
  /** The layer at `name` as a layer of the image (its diff ID is its own). */
  layer(name: string, index: number): ArchiveLayer;
  invalid(message: string): Error;
}

/** moby's v1 image ID rule. */
const V1_ID = /^[a-f0-9]{64}$/;
/** A parent chain longer than this is a loop or an attack, not an image. */
const MAX_CHAIN = 1000;
/** Fields of the v1 JSON that are not part of the config (moby MakeConfigFromV1Config). */
const V1_ONLY = new Set(['id', 'parent', 'Size', 'parent_id', 'layer_id', 'throwaway']);

interface V1Image {
  raw: Map<string, string>;
  parent: string;
  historyEntry: string;
}

export async function readLegacyArchive(a: LegacyArchive): Promise<ArchiveImage[]> {
  const repos = parseRepositories(await a.readJson('repositories'), a);
  const cache = new Map<string, V1Image>();
  const load = async (id: string): Promise<V1Image> => {
    const seen = cache.get(id);
    if (seen) return seen;
    if (!V1_ID.test(id)) throw a.invalid(`invalid image ID ${JSON.stringify(id)}`);
    const img = parseV1Json(await a.readJson(`${id}/json`), id, a);
    cache.set(id, img);
    return img;
  };
  const images = new Map<string, ArchiveImage>();
  for (const { name, id } of repos) {
    let image = images.get(id);
    if (!image) {
      // The chain from the base up.
      const chain: { id: string; img: V1Image }[] = [];
      for (let cur = id; cur !== '';) {
        if (chain.length >= MAX_CHAIN || chain.some((c) => c.id === cur)) throw a.invalid(`image ${id}: parent chain loops or is too long`);
        const img = await load(cur);
        chain.unshift({ id: cur, img });
        cur = img.parent;
      }
      const layers = chain.map((c, i) => a.layer(`${c.id}/layer.tar`, i));
      const top = chain[chain.length - 1].img;
      const raw = new Map(top.raw);
      raw.set('rootfs', `{"type":"layers","diff_ids":[${layers.map((l) => JSON.stringify(l.diffId)).join(',')}]}`);
      raw.set('history', `[${chain.map((c) => c.img.historyEntry).join(',')}]`);
      const config = Buffer.from(goObject(raw));
      image = { config, configDigest: `sha256:${createHash('sha256').update(config).digest('hex')}`, layers, repoTags: [] };
      images.set(id, image);
    }
    if (!image.repoTags.includes(name)) image.repoTags.push(name);
  }
  return [...images.values()];
}

function parseRepositories(buf: Buffer, a: LegacyArchive): { name: string; id: string }[] {
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw a.invalid(`failed to decode repositories: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw a.invalid('repositories is not an object');
  const out: { name: string; id: string }[] = [];
  for (const [repo, tags] of Object.entries(v)) {
    if (typeof tags !== 'object' || tags === null || Array.isArray(tags))
      throw a.invalid(`repositories: ${JSON.stringify(repo)} is not an object`);
    for (const [tag, id] of Object.entries(tags as Record<string, unknown>)) {
      if (typeof id !== 'string') throw a.invalid(`repositories: ${repo}:${tag} is not an image ID`);
      out.push({ name: `${repo}:${tag}`, id });
    }
  }
  return out;
}

function parseV1Json(buf: Buffer, id: string, a: LegacyArchive): V1Image {
  const text = goCompact(buf.toString('utf8'));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw a.invalid(`failed to decode ${id}/json: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw a.invalid(`${id}/json is not an object`);
  const o = parsed as Record<string, unknown>;
  const parent = typeof o.parent === 'string' ? o.parent : '';
  const raw = new Map<string, string>();
  for (const [k, v] of topLevelMembers(text)) if (!V1_ONLY.has(k)) raw.set(k, v);
  return { raw, parent, historyEntry: historyEntry(o) };
}

/** moby's v1.HistoryFromConfig: created, author, created_by (the Cmd joined), comment. */
function historyEntry(o: Record<string, unknown>): string {
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const cc = o.container_config as { Cmd?: unknown } | null | undefined;
  const cmd = Array.isArray(cc?.Cmd) ? cc.Cmd.filter((x): x is string => typeof x === 'string').join(' ') : '';
  const members = new Map<string, string>();
  members.set('created', goJsonString(goTime(str(o.created))));
  if (str(o.author) !== '') members.set('author', goJsonString(str(o.author)));
  if (cmd !== '') members.set('created_by', goJsonString(cmd));
  if (str(o.comment) !== '') members.set('comment', goJsonString(str(o.comment)));
  // Struct order (not sorted): History is a Go struct, not a map.
  return `{${[...members].map(([k, v]) => `"${k}":${v}`).join(',')}}`;
}

/** A time as Go's time.Time marshals it back: RFC 3339 with trailing zeros cut, UTC as "Z". */
export function goTime(s: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return '0001-01-01T00:00:00Z';
  const frac = (m[2] ?? '').replace(/0+$/, '');
  const zone = m[3] === '+00:00' ? 'Z' : m[3];
  return `${m[1]}${frac === '.' ? '' : frac}${zone}`;
}

/** A map as Go's json.Marshal writes it: keys sorted by bytes, values as given (already compact). */
export function goObject(members: Map<string, string>): string {
  const keys = [...members.keys()].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  return `{${keys.map((k) => `${goJsonString(k)}:${members.get(k) ?? 'null'}`).join(',')}}`;
}

function goJsonString(s: string): string {
  return goCompact(JSON.stringify(s));
}

/**
 * Go's json.Compact with HTML escaping, as json.Marshal applies to a RawMessage: whitespace outside
 * strings dropped; <, >, & and U+2028/U+2029 escaped (they can only occur inside strings).
 */
export function goCompact(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') {
        out += ch + (text[i + 1] ?? '');
        i++;
        continue;
      }
      if (ch === '"') inString = false;
    } else if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') continue;
    else if (ch === '"') inString = true;
    if (ch === '<') out += '\\u003c';
    else if (ch === '>') out += '\\u003e';
    else if (ch === '&') out += '\\u0026';
    else if (ch === '\u2028') out += '\\u2028';
    else if (ch === '\u2029') out += '\\u2029';
    else out += ch;
  }
  return out;
}

/** The members of a compact JSON object as [decoded key, raw value text]; the last of a repeated key wins, as in Go. */
export function topLevelMembers(compact: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 1; // after '{'
  const readString = (): string => {
    const start = i;
    i++;
    while (compact[i] !== '"') i += compact[i] === '\\' ? 2 : 1;
    i++;
    return compact.slice(start, i);
  };
  while (i < compact.length && compact[i] !== '}') {
    const key = JSON.parse(readString()) as string;
    i++; // ':'
    const start = i;
    let depth = 0;
    while (i < compact.length) {
      const ch = compact[i];
      if (ch === '"') {
        readString();
        continue;
      }
      if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        if (depth === 0) break;
        depth--;
      } else if (ch === ',' && depth === 0) break;
      i++;
    }
    out.set(key, compact.slice(start, i));
    if (compact[i] === ',') i++;
  }
  return out;
}
