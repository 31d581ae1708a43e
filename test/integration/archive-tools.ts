// Tar helpers for the image integration tests: build image archives with full control over
// configs, layers and entry names (hostile ones included), read archives back, and ask Berth's
// own containerd what it holds. Independent of Berth's image code, so a test never checks Berth
// against itself.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { containerdNamespaceFor } from '../../daemon/config';
import { busyboxConfig, tarBuffer } from '../fixtures/busybox-image';
import { run, type Berth } from './harness';

export const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const hex = (digest: string): string => digest.replace(/^sha256:/, '');
export const short = (digest: string): string => hex(digest).slice(0, 12);

export interface TarEntry {
  name: string;
  data?: Buffer | string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
  mode?: number;
  mtime?: Date;
}

const FIXED = new Date('2024-01-01T00:00:00Z');

/** A tar of the given entries, in order. */
export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  return tarBuffer(
    entries.map((e) => {
      const type = e.type ?? (e.data !== undefined ? 'file' : 'directory');
      const data = e.data === undefined ? undefined : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
      const header: Partial<tar.Header> & { name: string } = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        mtime: e.mtime ?? FIXED,
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
        ...(data !== undefined ? { size: data.length } : {}),
      };
      return { header, data };
    }),
  );
}

/** Every regular file of a (possibly gzipped) tar, by name as written. Links are listed with their target. */
export async function untar(archive: Buffer): Promise<Map<string, Buffer>> {
  const buf = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const files = new Map<string, Buffer>();
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (d: unknown) => {
        parts.push(d as Buffer);
      });
      stream.on('end', () => {
        if (header.type === 'file') files.set(header.name, Buffer.concat(parts));
        else if (header.type === 'symlink' || header.type === 'link') files.set(header.name, Buffer.from(`-> ${header.linkname ?? ''}`));
        next();
      });
      stream.resume();
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return files;
}

export interface ArchiveImageSpec {
  /** Image config as an object (serialised compactly) or exact bytes. */
  config: Record<string, unknown> | Buffer;
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
  tags: string[];
  gzipLayers?: boolean;
}

/** The config of a small test image: one layer per diff ID, created at `created`, with labels. */
export function imageConfig(
  diffIds: string[],
  opts: { created?: string; labels?: Record<string, string>; cmd?: string[] } = {},
): Record<string, unknown> {
  const created = opts.created ?? '2024-01-01T00:00:00Z';
  return {
    architecture: JSON.parse(busyboxConfig('sha256:0').toString()).architecture,
    os: 'linux',
    created,
    config: { Env: ['PATH=/usr/bin:/bin'], Cmd: opts.cmd ?? ['sh'], ...(opts.labels ? { Labels: opts.labels } : {}) },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((d) => ({ created, created_by: `/bin/sh -c #(nop) ADD file:${hex(d)} in / ` })),
  };
}

/** A small image: one layer holding `files`, as an archive spec. */
export async function smallImage(
  files: Record<string, string>,
  tags: string[],
  opts: { created?: string; labels?: Record<string, string> } = {},
): Promise<ArchiveImageSpec & { id: string; diffId: string }> {
  const layer = await tarOf(Object.entries(files).map(([name, data]) => ({ name, data })));
  const diffId = sha256(layer);
  const config = Buffer.from(JSON.stringify(imageConfig([diffId], opts)));
  return { config, layers: [layer], tags, id: sha256(config), diffId };
}

/**
 * A docker-archive (manifest.json, repositories, blobs/sha256/...) holding every image given, as
 * current `docker save` lays it out minus the OCI index.
 */
export async function dockerArchive(images: ArchiveImageSpec[]): Promise<Buffer> {
  const blobs = new Map<string, Buffer>();
  const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const img of images) {
    const config = Buffer.isBuffer(img.config) ? img.config : Buffer.from(JSON.stringify(img.config));
    const configDigest = sha256(config);
    blobs.set(hex(configDigest), config);
    const layerNames = img.layers.map((l) => {
      const blob = img.gzipLayers ? gzipSync(l) : l;
      const d = hex(sha256(blob));
      blobs.set(d, blob);
      return `blobs/sha256/${d}`;
    });
    manifest.push({ Config: `blobs/sha256/${hex(configDigest)}`, RepoTags: img.tags.length ? img.tags : null, Layers: layerNames });
    for (const t of img.tags) {
      const i = t.lastIndexOf(':');
      (repositories[t.slice(0, i)] ??= {})[t.slice(i + 1)] = hex(sha256(img.layers[img.layers.length - 1]));
    }
  }
  const entries: TarEntry[] = [{ name: 'blobs/' }, { name: 'blobs/sha256/' }];
  for (const [d, data] of [...blobs.entries()].sort()) entries.push({ name: `blobs/sha256/${d}`, data });
  entries.push({ name: 'manifest.json', data: `${JSON.stringify(manifest)}\n` });
  if (Object.keys(repositories).length > 0) entries.push({ name: 'repositories', data: `${JSON.stringify(repositories)}\n` });
  return tarOf(entries);
}

/** The image ID an archive's manifest.json names for entry `i` (the sha256 of its config). */
export async function archiveImageId(archive: Buffer, i = 0): Promise<string> {
  const files = await untar(archive);
  const manifest = JSON.parse(String(files.get('manifest.json'))) as { Config: string }[];
  const config = files.get(manifest[i].Config);
  if (!config) throw new Error(`config ${manifest[i].Config} missing from archive`);
  return sha256(config);
}

/** The files of layer `layerIndex` of image `imageIndex` in a docker-archive, by path. */
export async function archiveLayerFiles(archive: Buffer, imageIndex = 0, layerIndex = 0): Promise<Map<string, Buffer>> {
  const files = await untar(archive);
  const manifest = JSON.parse(String(files.get('manifest.json'))) as { Layers: string[] }[];
  const name = manifest[imageIndex].Layers[layerIndex];
  const layer = files.get(name);
  if (!layer) throw new Error(`layer ${name} missing from archive`);
  const inner = await untar(layer);
  // Layer entries may be written "./etc/x" or "etc/x".
  return new Map([...inner.entries()].map(([k, v]) => [k.replace(/^\.\//, ''), v]));
}

/** Runs ctr against the containerd berthd started, in the namespace Berth derives from its data root. */
export async function ctr(b: Berth, args: string[]): Promise<string> {
  const address = path.join(b.execRoot, 'containerd', 'containerd.sock');
  const r = await run('ctr', ['-a', address, '-n', containerdNamespaceFor(b.dataRoot), ...args], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`ctr ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Digests in containerd's content store. */
export async function contentDigests(b: Berth): Promise<string[]> {
  const out = await ctr(b, ['content', 'ls', '-q']);
  return out
    .split('\n')
    .filter((l) => l.startsWith('sha256:'))
    .sort();
}

/** Everything containerd holds for Berth: content, image records, snapshots, leases, ingests. */
export async function containerdState(
  b: Berth,
): Promise<{ content: string[]; images: string[]; snapshots: string[]; leases: string[]; ingests: string[] }> {
  const lines = (s: string): string[] =>
    s
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
  const content = await contentDigests(b);
  const images = lines(await ctr(b, ['images', 'ls', '-q'])).sort();
  const snapshots = lines(await ctr(b, ['snapshots', '--snapshotter', 'overlayfs', 'ls']))
    .slice(1)
    .map((l) => l.split(/\s+/)[0])
    .sort();
  const leases = lines(await ctr(b, ['leases', 'ls', '-q'])).sort();
  const ingests = lines(await ctr(b, ['content', 'active'])).slice(1);
  return { content, images, snapshots, leases, ingests };
}

/** Every path under `root` (relative), for checking nothing was written outside where it belongs. */
export function walk(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string): void => {
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of names) {
      const p = path.join(dir, d.name);
      out.push(path.relative(root, p));
      if (d.isDirectory()) visit(p);
    }
  };
  visit(root);
  return out;
}

/** docker's units.HumanSize: decimal units, four significant digits. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${goG4(size)}${units[i]}`;
}

/** Go's %.4g for the values humanSize produces. */
function goG4(v: number): string {
  if (v === 0) return '0';
  const s = v.toPrecision(4);
  // %g drops trailing zeros and a trailing point; toPrecision may use exponent form for big values.
  if (s.includes('e')) return String(Number(s));
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}
