// Writes images as the archive current docker save produces (GET /images/get, /images/{name}/get):
// an OCI image layout (oci-layout, index.json, blobs/sha256/...) that also carries docker's
// manifest.json and the legacy repositories file, so dockerd of any version, containerd and Berth
// can load it. Layers are stored uncompressed under their diff ID, each once even when shared.
// Entries come in lexical order with docker's timestamps (blobs of an image at its creation time,
// metadata at the epoch), so the same images always give the same bytes.

import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import * as tar from 'tar-stream';
import { sha256Digest } from '../../runtime/content';
import { InvalidParameter, SystemError } from '../../lib/errors';
import { Annotation, MediaType, type Descriptor, type Index, type Manifest } from './image-config';
import { canonicalString, familiarName, familiarString, parseNormalizedNamed, type Named } from './reference';

export interface SaveLayer {
  diffId: string;
  /** Uncompressed size in bytes. */
  size: number;
  /** A fresh stream of the uncompressed tar bytes. */
  open(): Readable;
}

export interface SaveImage {
  configDigest: string;
  config: Buffer;
  layers: SaveLayer[];
  /** Tags to record, familiar or full ("busybox:latest"); must be tagged, not digested. */
  repoTags: string[];
}

const EPOCH = new Date(0);

type Blob = { name: string; mtime: Date } & ({ data: Buffer } | { layer: SaveLayer });

interface PlannedImage {
  configDigest: string;
  tags: Named[];
  layers: SaveLayer[];
  manifest: Buffer;
  manifestDigest: string;
}

const hexOf = (digest: string): string => digest.slice(digest.indexOf(':') + 1);
const blobName = (digest: string): string => `blobs/sha256/${hexOf(digest)}`;

/** The image's creation time from its config, or the epoch (docker's choice for blob mtimes). */
function createdTime(config: Buffer): Date {
  try {
    const created = (JSON.parse(config.toString('utf8')) as { created?: unknown }).created;
    if (typeof created === 'string') {
      const t = Date.parse(created);
      if (!Number.isNaN(t) && t >= 0) return new Date(t);
    }
  } catch {
    // a config that is not JSON still gets saved; it just has no creation time
  }
  return EPOCH;
}

function parseTag(tag: string): Named {
  const n = parseNormalizedNamed(tag);
  if (n.digest !== undefined || n.tag === undefined) throw new InvalidParameter(`invalid tag ${JSON.stringify(tag)}: must be name:tag`);
  return n;
}

/** Validates the input and computes every JSON document before a single byte is written. */
function plan(images: SaveImage[]): { blobs: Blob[]; files: Blob[] } {
  const merged = new Map<string, SaveImage & { tagList: Named[] }>();
  for (const img of images) {
    if (!/^sha256:[a-f0-9]{64}$/.test(img.configDigest)) throw new SystemError(`invalid config digest ${img.configDigest}`);
    if (sha256Digest(img.config) !== img.configDigest)
      throw new SystemError(`config of image ${img.configDigest} does not match its digest`);
    for (const l of img.layers) {
      if (!/^sha256:[a-f0-9]{64}$/.test(l.diffId)) throw new SystemError(`invalid layer diff ID ${l.diffId}`);
    }
    const seen = merged.get(img.configDigest);
    const target = seen ?? { ...img, tagList: [] };
    for (const t of img.repoTags) {
      const n = parseTag(t);
      if (!target.tagList.some((x) => canonicalString(x) === canonicalString(n))) target.tagList.push(n);
    }
    merged.set(img.configDigest, target);
  }

  const blobs = new Map<string, Blob>();
  const layerSizes = new Map<string, number>();
  const planned: PlannedImage[] = [];
  for (const img of merged.values()) {
    const mtime = createdTime(img.config);
    const configName = blobName(img.configDigest);
    if (!blobs.has(configName)) blobs.set(configName, { name: configName, mtime, data: img.config });
    const layerDescs: Descriptor[] = [];
    for (const l of img.layers) {
      const known = layerSizes.get(l.diffId);
      if (known !== undefined && known !== l.size) throw new SystemError(`layer ${l.diffId} has two sizes: ${known} and ${l.size}`);
      layerSizes.set(l.diffId, l.size);
      const name = blobName(l.diffId);
      if (!blobs.has(name)) blobs.set(name, { name, mtime, layer: l });
      layerDescs.push({ mediaType: MediaType.OciLayer, digest: l.diffId, size: l.size });
    }
    const m: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: img.configDigest, size: img.config.length },
      layers: layerDescs,
    };
    const manifest = Buffer.from(JSON.stringify(m));
    const manifestDigest = sha256Digest(manifest);
    const mName = blobName(manifestDigest);
    if (!blobs.has(mName)) blobs.set(mName, { name: mName, mtime: EPOCH, data: manifest });
    planned.push({ configDigest: img.configDigest, tags: img.tagList, layers: img.layers, manifest, manifestDigest });
  }

  const index: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  const dockerManifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const p of planned) {
    const desc: Descriptor = { mediaType: MediaType.OciManifest, digest: p.manifestDigest, size: p.manifest.length };
    if (p.tags.length === 0) index.manifests.push(desc);
    for (const t of p.tags) {
      index.manifests.push({
        ...desc,
        annotations: { [Annotation.ImageName]: canonicalString(t), [Annotation.RefName]: t.tag ?? '' },
      });
      if (p.layers.length > 0) {
        const repo = (repositories[familiarName(t)] ??= {});
        repo[t.tag ?? ''] = hexOf(p.layers[p.layers.length - 1].diffId);
      }
    }
    dockerManifest.push({
      Config: blobName(p.configDigest),
      RepoTags: p.tags.length > 0 ? p.tags.map(familiarString) : null,
      Layers: p.layers.map((l) => blobName(l.diffId)),
    });
  }

  const files: Blob[] = [
    { name: 'index.json', mtime: EPOCH, data: Buffer.from(JSON.stringify(index)) },
    { name: 'manifest.json', mtime: EPOCH, data: Buffer.from(`${JSON.stringify(dockerManifest)}\n`) },
    { name: 'oci-layout', mtime: EPOCH, data: Buffer.from('{"imageLayoutVersion": "1.0.0"}') },
  ];
  if (Object.keys(repositories).length > 0) {
    files.push({ name: 'repositories', mtime: EPOCH, data: Buffer.from(`${JSON.stringify(repositories)}\n`) });
  }
  const sorted = [...blobs.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { blobs: sorted, files };
}

function entryDone(cb: (done: (err?: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => cb((err) => (err ? reject(err) : resolve())));
}

type Sink = ReturnType<tar.Pack['entry']>;

function quiet(sink: Sink): void {
  sink.on('error', () => undefined);
}

/** Resolves when `ws` can take more; rejects when it is destroyed first (the reader left). */
function drainOf(ws: Sink): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      ws.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      ws.off('drain', onDrain);
      reject(new SystemError('archive stream closed'));
    };
    ws.once('drain', onDrain);
    ws.once('close', onClose);
    if (ws.destroyed) onClose();
  });
}

async function writeLayer(pack: tar.Pack, blob: Blob & { layer: SaveLayer }): Promise<void> {
  const { layer } = blob;
  let sink: Sink | undefined;
  const done = entryDone((cb) => {
    sink = pack.entry({ name: blob.name, size: layer.size, mode: 0o644, mtime: blob.mtime, uname: 'root', gname: 'root' }, cb);
  });
  // Awaited on success; when we bail out early the pack is destroyed and this rejection is moot.
  done.catch(() => undefined);
  const ws = sink;
  if (ws === undefined) throw new SystemError('tar entry not created');
  // A reader that leaves destroys the pack, which destroys this entry with an error: handled
  // here (the rejection of `done` and of drainOf carries it), never an unhandled 'error' event.
  ws.on('error', () => undefined);
  const src = layer.open();
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of src) {
      const b = chunk as Buffer;
      hash.update(b);
      size += b.length;
      if (size > layer.size) throw new SystemError(`layer ${layer.diffId} is larger than its recorded size ${layer.size}`);
      if (!ws.write(b)) await drainOf(ws);
    }
  } finally {
    src.destroy();
  }
  if (size !== layer.size) throw new SystemError(`layer ${layer.diffId} is ${size} bytes, expected ${layer.size}`);
  const digest = `sha256:${hash.digest('hex')}`;
  if (digest !== layer.diffId) throw new SystemError(`layer ${layer.diffId} content does not match its diff ID (got ${digest})`);
  ws.end(undefined);
  await done;
}

/**
 * Streams the archive for `images` to `out` and ends it. Input is validated first (digests, tags),
 * so bad input fails before anything is written; a layer whose bytes do not match its diff ID
 * aborts the stream (`out` is destroyed, without an 'error' event) since the archive would not load.
 */
export async function writeImageArchive(images: SaveImage[], out: Writable): Promise<void> {
  const { blobs, files } = plan(images);
  const pack = tar.pack();
  const finished = new Promise<void>((resolve, reject) => {
    out.once('finish', () => resolve());
    // Destroyed by the reader's departure before the end: no 'finish' will ever come.
    out.once('close', () => {
      if (!out.writableFinished) reject(new SystemError('archive stream closed'));
    });
    out.on('error', reject);
    pack.on('error', reject);
  });
  finished.catch(() => undefined);
  pack.pipe(out);
  try {
    // Every entry's sink gets an error listener: a destroyed pack destroys it with an error.
    const dir = (name: string): Promise<void> =>
      entryDone((cb) => quiet(pack.entry({ name, type: 'directory', mode: 0o755, mtime: EPOCH, uname: 'root', gname: 'root' }, cb)));
    await dir('blobs/');
    await dir('blobs/sha256/');
    for (const b of [...blobs, ...files]) {
      if ('layer' in b) await writeLayer(pack, b);
      else
        await entryDone((cb) => quiet(pack.entry({ name: b.name, mode: 0o644, mtime: b.mtime, uname: 'root', gname: 'root' }, b.data, cb)));
    }
    pack.finalize();
    await finished;
  } catch (err) {
    // Abort without emitting 'error' on the caller's stream: the caller gets the rejection.
    pack.destroy();
    out.destroy();
    throw err;
  }
}
