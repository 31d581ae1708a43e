// Reads an image archive (docker load / POST /images/load) from a stream without holding it in
// memory. Accepts what docker save writes, old and new:
//  - docker-archive: manifest.json ([{Config, RepoTags, Layers}]), layers as "<id>/layer.tar"
//    (dockerd <= 24, which dedups shared layers with symlinks "../<id>/layer.tar") or as
//    "blobs/sha256/<hex>" (dockerd >= 25, which also writes an OCI layout);
//  - OCI image layout: oci-layout + index.json (manifests or nested indexes), image names from the
//    io.containerd.image.name / org.opencontainers.image.ref.name annotations.
// manifest.json wins when both are present, as in dockerd. The archive itself may be gzip
// compressed; layers may be plain or gzip tars (detected by magic bytes, never by name).
//
// Every regular file is streamed to a temp file with a generated name while its sha256 (and, for
// compressed files, the sha256 of the decompressed bytes, the diff ID) is computed. With a blob
// store (the load path), large files go straight into containerd's content store instead: layers
// are then written once, while the archive is still arriving, rather than staged and copied. Entry names are
// only keys in an in-memory map: nothing is ever written at a path taken from the archive, and
// symlinks/hardlinks are resolved within the archive's own namespace.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, open, readFile, rm, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import * as tar from 'tar-stream';
import { SNIFF_BYTES, decompressStream, detectCompression, inProcessDecompressor, type Compression } from './compression';
import { BerthError, InvalidParameter, SystemError, errorMessage } from '../../lib/errors';
import { readLegacyArchive, type LegacyArchive } from './archive-legacy';
import type { ArchiveImage, ArchiveLayer } from './archive-types';

import {
  Annotation,
  hostArchitecture,
  isIndexMediaType,
  isManifestMediaType,
  layerMediaTypeCompression,
  ociLayerMediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
  type Descriptor,
  type Platform,
} from './image-config';

export interface ImageArchive {
  images: ArchiveImage[];
  /** Removes every temp file. Layer paths are invalid afterwards. */
  cleanup(): Promise<void>;
}

/** One streamed write into a blob store (runtime/content's BlobWriter fits). */
export interface BlobSink {
  write(chunk: Buffer): Promise<void>;
  /** Ends the write; the store checks the content against `digest`. */
  commit(digest: string): Promise<void>;
  abort(): Promise<void>;
}

/** Where large archive entries are streamed instead of temp files. */
export interface BlobStore {
  /** Entries of at least this many bytes go to the store. */
  minSize: number;
  /** `expected` is the digest the entry's name claims (blobs/sha256/<hex>), if any. */
  open(opts: { size: number; expected?: string }): Promise<BlobSink>;
  read(digest: string): Promise<Buffer>;
}

export interface ReadArchiveOptions {
  /** Platform to pick from multi-platform OCI indexes; defaults to linux/<host arch>. */
  platform?: { os: string; architecture: string; variant?: string };
  /** Large entries are streamed here; without it every entry becomes a temp file. */
  store?: BlobStore;
}

/** Bounds for hostile input. */
const MAX_ENTRIES = 100_000;
const MAX_JSON_BYTES = 32 * 1024 * 1024;
const MAX_LINK_HOPS = 255;

interface StoredFile {
  /** The temp file, or undefined when the content is in the blob store. */
  path?: string;
  read(): Promise<Buffer>;
  size: number;
  digest: string;
  compression: Compression;
  /** Digest and size of the decompressed content; equal to digest/size for plain files. */
  diffId?: string;
  uncompressedSize?: number;
  /** Why the content could not be decompressed (only an error if the file is used as a layer). */
  decompressError?: string;
}

type ArchiveEntry =
  { kind: 'file'; file: StoredFile } | { kind: 'symlink'; target: string } | { kind: 'hardlink'; target: string } | { kind: 'dir' };

/** Archive path as a map key: relative, normalised, ".." clamped at the root (like a chroot). */
function entryKey(name: string): string {
  return posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

function invalid(message: string): InvalidParameter {
  return new InvalidParameter(`invalid archive: ${message}`);
}

/** Node fs/system errors keep their kind; anything else from parsing is the client's fault. */
function classify(err: unknown): Error {
  if (err instanceof BerthError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && code !== 'ERR_STREAM_PREMATURE_CLOSE') {
    return new SystemError(errorMessage(err));
  }
  return invalid(errorMessage(err));
}

/** Where storeEntry puts an entry's bytes. */
interface EntryTarget {
  path?: string;
  sink: BlobSink;
  read(digest: string): Promise<Buffer>;
}

async function fileTarget(path: string): Promise<EntryTarget> {
  const fh = await open(path, 'wx', 0o600);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fh.close();
  };
  return {
    path,
    read: () => readFile(path),
    sink: {
      async write(chunk: Buffer): Promise<void> {
        let offset = 0;
        while (offset < chunk.length) {
          const { bytesWritten } = await fh.write(chunk, offset, chunk.length - offset);
          offset += bytesWritten;
        }
      },
      commit: close,
      abort: close,
    },
  };
}

async function storeTarget(store: BlobStore, size: number, key: string): Promise<EntryTarget> {
  const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(key);
  const sink = await store.open({ size, expected: m ? `sha256:${m[1]}` : undefined });
  return { sink, read: (digest) => store.read(digest) };
}

/** Writes one tar entry to `target`, hashing the stored and the decompressed bytes on the way. */
async function storeEntry(entry: AsyncIterable<unknown>, target: EntryTarget): Promise<StoredFile> {
  const hash = createHash('sha256');
  let size = 0;
  let head: Buffer[] = [];
  let headLen = 0;
  let compression: Compression | undefined;
  let inner: Transform | undefined;
  let innerDone: Promise<void> | undefined;
  let innerError: string | undefined;
  const uhash = createHash('sha256');
  let usize = 0;

  const startInner = (): void => {
    compression = detectCompression(Buffer.concat(head));
    if (compression === 'none') return;
    inner = inProcessDecompressor(compression);
    if (inner === undefined) {
      innerError = `${compression} compressed layers are not supported`;
      return;
    }
    const s = inner;
    s.on('data', (d: Buffer) => {
      uhash.update(d);
      usize += d.length;
    });
    innerDone = new Promise<void>((resolve) => {
      s.on('end', () => resolve());
      s.on('error', (err: Error) => {
        innerError = `corrupt ${compression ?? ''} data: ${err.message}`;
        inner = undefined;
        resolve();
      });
    });
  };
  const feedInner = async (chunk: Buffer): Promise<void> => {
    const s = inner;
    if (s === undefined) return;
    if (!s.write(chunk)) {
      await Promise.race([once(s, 'drain').catch(() => undefined), innerDone]);
    }
  };

  let digest: string;
  try {
    for await (const c of entry) {
      const chunk = c as Buffer;
      hash.update(chunk);
      size += chunk.length;
      await target.sink.write(chunk);
      if (compression === undefined) {
        head.push(chunk);
        headLen += chunk.length;
        if (headLen < SNIFF_BYTES) continue;
        startInner();
        const buffered = Buffer.concat(head);
        head = [];
        await feedInner(buffered);
      } else {
        await feedInner(chunk);
      }
    }
    if (compression === undefined) {
      startInner();
      await feedInner(Buffer.concat(head));
    }
    if (inner !== undefined) {
      inner.end();
      await innerDone;
    }
    digest = `sha256:${hash.digest('hex')}`;
    await target.sink.commit(digest);
  } catch (err) {
    await target.sink.abort().catch(() => undefined);
    throw err;
  }
  const read = (): Promise<Buffer> => target.read(digest);
  const file: StoredFile = { path: target.path, read, size, digest, compression: compression ?? 'none' };
  if (file.compression === 'none') {
    file.diffId = digest;
    file.uncompressedSize = size;
  } else if (innerError !== undefined) {
    file.decompressError = innerError;
  } else {
    file.diffId = `sha256:${uhash.digest('hex')}`;
    file.uncompressedSize = usize;
  }
  return file;
}

type TarEntryStream = tar.ExtractEvents['entry'][1];

/** Extracts every entry of the tar stream into `dir` (or `store`); returns the archive's namespace. */
async function extractArchive(src: Readable, dir: string, store: BlobStore | undefined): Promise<Map<string, ArchiveEntry>> {
  const entries = new Map<string, ArchiveEntry>();
  const input = await decompressStream(src, 'archives');
  const ex = tar.extract();
  let count = 0;
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      input.destroy();
      ex.destroy();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    ex.on('entry', (header, stream, next) => {
      handle(header, stream).then(
        () => next(),
        (err: unknown) => {
          stream.resume();
          fail(err);
        },
      );
    });
    ex.on('finish', () => {
      if (settled) return;
      settled = true;
      resolve();
    });
    ex.on('error', fail);
    input.on('error', fail);
    input.pipe(ex);
  });
  return entries;

  async function handle(header: tar.Header, stream: TarEntryStream): Promise<void> {
    // A truncated archive destroys the current entry with the same error the extractor reports;
    // that report is the one handled, the entry's copy must not go unlistened.
    stream.on('error', () => undefined);
    if (++count > MAX_ENTRIES) throw invalid(`more than ${MAX_ENTRIES} entries`);
    const key = entryKey(header.name);
    switch (header.type) {
      case 'file':
      case 'contiguous-file': {
        const size = header.size ?? 0;
        const target =
          store !== undefined && size >= store.minSize ? await storeTarget(store, size, key) : await fileTarget(join(dir, `b${count}`));
        const file = await storeEntry(stream, target);
        if (key !== '') entries.set(key, { kind: 'file', file });
        return;
      }
      case 'symlink':
        if (key !== '') entries.set(key, { kind: 'symlink', target: header.linkname ?? '' });
        break;
      case 'link':
        if (key !== '') entries.set(key, { kind: 'hardlink', target: entryKey(header.linkname ?? '') });
        break;
      case 'directory':
        if (key !== '') entries.set(key, { kind: 'dir' });
        break;
      default:
        break; // devices, fifos: meaningless in an image archive
    }
    stream.resume();
    await once(stream, 'end');
  }
}

/** Looks up files by archive path, following symlinks and hardlinks inside the archive. */
class Namespace {
  constructor(private readonly entries: Map<string, ArchiveEntry>) {}

  /** Resolves `name` to its final archive path, or undefined if a link loops too often. */
  private resolvePath(name: string): string | undefined {
    let remaining = name.split('/');
    let resolved: string[] = [];
    let hops = 0;
    while (remaining.length > 0) {
      const part = remaining.shift() ?? '';
      if (part === '' || part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const e = this.entries.get([...resolved, part].join('/'));
      if (e?.kind === 'symlink') {
        if (++hops > MAX_LINK_HOPS) return undefined;
        if (e.target.startsWith('/')) resolved = [];
        remaining = [...e.target.split('/'), ...remaining];
        continue;
      }
      resolved.push(part);
    }
    return resolved.join('/');
  }

  /** The stored file at `name`, or undefined. */
  lookup(name: string): StoredFile | undefined {
    let path = this.resolvePath(entryKey(name));
    for (let hops = 0; path !== undefined && hops <= MAX_LINK_HOPS; hops++) {
      const e = this.entries.get(path);
      if (e?.kind === 'file') return e.file;
      if (e?.kind !== 'hardlink') return undefined;
      path = this.resolvePath(e.target);
    }
    return undefined;
  }

  require(name: string, what: string): StoredFile {
    const f = this.lookup(name);
    if (f === undefined) throw invalid(`${what} ${JSON.stringify(name)} not found in archive`);
    return f;
  }
}

async function readSmall(f: StoredFile, name: string): Promise<Buffer> {
  if (f.size > MAX_JSON_BYTES) throw invalid(`${name} is too large (${f.size} bytes)`);
  return f.read();
}

/** Parses JSON the way the docker loader reports failures. */
function decodeJson(buf: Buffer, name: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch (err) {
    throw invalid(`failed to decode ${name}: ${errorMessage(err)}`);
  }
}

/** When the archive names a blob by its digest, the content must match it. */
function checkBlobName(name: string, f: StoredFile): void {
  const m = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(entryKey(name));
  if (m === null || m[1] !== 'sha256') return;
  const expected = `sha256:${m[2]}`;
  if (f.digest !== expected) throw invalid(`digest mismatch for ${name}: content is ${f.digest}`);
}

function layerFrom(f: StoredFile, index: number, expectedDiffId: string, declaredType?: string): ArchiveLayer {
  if (f.decompressError !== undefined || f.diffId === undefined || f.uncompressedSize === undefined) {
    throw invalid(`layer ${index}: ${f.decompressError ?? 'unreadable'}`);
  }
  if (f.compression === 'bzip2' || f.compression === 'xz') {
    throw invalid(`layer ${index}: ${f.compression} compressed layers are not supported`);
  }
  if (f.diffId !== expectedDiffId) {
    throw invalid(`invalid diffID for layer ${index}: expected ${JSON.stringify(expectedDiffId)}, got ${JSON.stringify(f.diffId)}`);
  }
  const mediaType =
    declaredType !== undefined && layerMediaTypeCompression(declaredType) === f.compression
      ? declaredType
      : ociLayerMediaType(f.compression);
  return { path: f.path, digest: f.digest, size: f.size, mediaType, diffId: f.diffId, uncompressedSize: f.uncompressedSize };
}

async function configFrom(f: StoredFile, name: string): Promise<{ config: Buffer; diffIds: string[] }> {
  const config = await readSmall(f, name);
  const parsed = parseImageConfig(config);
  return { config, diffIds: parsed.rootfs.diff_ids };
}

// ---- docker-archive (manifest.json) ----

interface ManifestItem {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function parseManifestJson(v: unknown): ManifestItem[] {
  if (v === null) throw new InvalidParameter('invalid manifest, manifest cannot be null (but can be [])');
  if (!Array.isArray(v)) throw invalid('failed to decode manifest.json: not an array');
  return v.map((item: unknown, i) => {
    const o = item as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw invalid(`manifest.json entry ${i} is not an object`);
    const strings = (x: unknown, field: string): string[] => {
      if (x === undefined || x === null) return [];
      if (!Array.isArray(x) || x.some((s) => typeof s !== 'string')) {
        throw invalid(`manifest.json entry ${i}: ${field} must be an array of strings`);
      }
      return x as string[];
    };
    if (typeof o.Config !== 'string' || o.Config === '') throw invalid(`manifest.json entry ${i}: missing Config`);
    return { Config: o.Config, RepoTags: strings(o.RepoTags, 'RepoTags'), Layers: strings(o.Layers, 'Layers') };
  });
}

async function readDockerArchive(ns: Namespace, manifestFile: StoredFile): Promise<ArchiveImage[]> {
  const items = parseManifestJson(decodeJson(await readSmall(manifestFile, 'manifest.json'), 'manifest.json'));
  const images: ArchiveImage[] = [];
  for (const m of items) {
    const cf = ns.require(m.Config, 'config');
    checkBlobName(m.Config, cf);
    const { config, diffIds } = await configFrom(cf, m.Config);
    if (m.Layers.length !== diffIds.length) {
      throw new InvalidParameter(`invalid manifest, layers length mismatch: expected ${m.Layers.length}, got ${diffIds.length}`);
    }
    const layers = m.Layers.map((name, i) => {
      const lf = ns.require(name, 'layer');
      checkBlobName(name, lf);
      return layerFrom(lf, i, diffIds[i]);
    });
    images.push({ config, configDigest: cf.digest, layers, repoTags: m.RepoTags });
  }
  return images;
}

// ---- pre-1.10 layout (repositories + <id>/json, <id>/layer.tar): archive-legacy.ts ----

function legacyView(ns: Namespace): LegacyArchive {
  return {
    lookup: (name) => ns.lookup(name),
    readJson: (name) => readSmall(ns.require(name, 'file'), name),
    layer: (name, index) => {
      const f = ns.require(name, 'layer');
      return layerFrom(f, index, f.diffId ?? '');
    },
    invalid,
  };
}

// ---- OCI image layout (index.json) ----

function blobPath(digest: string): string {
  const i = digest.indexOf(':');
  return `blobs/${digest.slice(0, i)}/${digest.slice(i + 1)}`;
}

function requireBlob(ns: Namespace, d: Descriptor, what: string): StoredFile {
  const f = ns.lookup(blobPath(d.digest));
  if (f === undefined) throw invalid(`${what} blob ${d.digest} not found in archive`);
  if (f.digest !== d.digest) throw invalid(`digest mismatch for ${what} blob ${d.digest}: content is ${f.digest}`);
  if (f.size !== d.size) throw invalid(`size mismatch for ${what} blob ${d.digest}: expected ${d.size}, got ${f.size}`);
  return f;
}

function platformMatches(want: Required<ReadArchiveOptions>['platform'], p: Platform | undefined): boolean {
  if (p === undefined) return false;
  if (p.os !== want.os || p.architecture !== want.architecture) return false;
  return want.variant === undefined || p.variant === undefined || p.variant === want.variant;
}

function isAttestation(d: Descriptor): boolean {
  return d.annotations?.[Annotation.DockerReferenceType] === 'attestation-manifest' || d.platform?.os === 'unknown';
}

/** Image names for an index.json entry. A bare ref.name ("latest") names no repository: skipped. */
function namesOf(d: Descriptor): string[] {
  const full = d.annotations?.[Annotation.ImageName];
  if (full !== undefined && full !== '') return [full];
  const ref = d.annotations?.[Annotation.RefName];
  if (ref !== undefined && (ref.includes(':') || ref.includes('/'))) return [ref];
  return [];
}

async function readOciLayout(
  ns: Namespace,
  indexFile: StoredFile,
  want: Required<ReadArchiveOptions>['platform'],
): Promise<ArchiveImage[]> {
  const index = parseIndex(await readSmall(indexFile, 'index.json'));
  const byManifest = new Map<string, ArchiveImage>();
  const order: ArchiveImage[] = [];

  const loadManifest = async (d: Descriptor): Promise<ArchiveImage> => {
    const seen = byManifest.get(d.digest);
    if (seen !== undefined) return seen;
    const manifest = parseManifest(await readSmall(requireBlob(ns, d, 'manifest'), blobPath(d.digest)));
    const cf = requireBlob(ns, manifest.config, 'config');
    const { config, diffIds } = await configFrom(cf, blobPath(manifest.config.digest));
    if (manifest.layers.length !== diffIds.length) {
      throw new InvalidParameter(`invalid manifest, layers length mismatch: expected ${manifest.layers.length}, got ${diffIds.length}`);
    }
    const layers = manifest.layers.map((l, i) => layerFrom(requireBlob(ns, l, 'layer'), i, diffIds[i], l.mediaType));
    const image: ArchiveImage = { config, configDigest: cf.digest, layers, repoTags: [] };
    byManifest.set(d.digest, image);
    order.push(image);
    return image;
  };

  /** Picks the manifest for `want` from a (possibly nested) index; only blobs present count. */
  const pickFromIndex = async (d: Descriptor, depth: number): Promise<Descriptor> => {
    if (depth > 8) throw invalid('image indexes nested too deeply');
    const nested = parseIndex(await readSmall(requireBlob(ns, d, 'index'), blobPath(d.digest)));
    const present = nested.manifests.filter((m) => !isAttestation(m) && ns.lookup(blobPath(m.digest)) !== undefined);
    const matching = present.filter((m) => platformMatches(want, m.platform));
    const candidates = matching.length > 0 ? matching : present.filter((m) => m.platform === undefined);
    for (const c of candidates) {
      if (isManifestMediaType(c.mediaType)) return c;
      if (isIndexMediaType(c.mediaType)) return pickFromIndex(c, depth + 1);
    }
    const p = `${want.os}/${want.architecture}${want.variant ? `/${want.variant}` : ''}`;
    throw invalid(`no manifest for platform ${p} in index ${d.digest}`);
  };

  for (const d of index.manifests) {
    let target: Descriptor;
    if (isManifestMediaType(d.mediaType)) target = d;
    else if (isIndexMediaType(d.mediaType)) target = await pickFromIndex(d, 0);
    else continue; // artifacts and other content types are not images
    const image = await loadManifest(target);
    for (const name of namesOf(d)) if (!image.repoTags.includes(name)) image.repoTags.push(name);
  }
  return order;
}

// ---- entry point ----

/**
 * Reads an image archive from `src` into temp files under a new directory inside `tmpDir`.
 * Throws InvalidParameter for anything wrong with the archive (after removing its temp files).
 * On success the caller owns the files until it calls cleanup().
 */
export async function readImageArchive(src: Readable, tmpDir: string, opts: ReadArchiveOptions = {}): Promise<ImageArchive> {
  const dir = await mkdtemp(join(tmpDir, 'load-'));
  const cleanup = async (): Promise<void> => {
    await rm(dir, { recursive: true, force: true });
  };
  try {
    let entries: Map<string, ArchiveEntry>;
    try {
      entries = await extractArchive(src, dir, opts.store);
    } catch (err) {
      throw classify(err);
    }
    const ns = new Namespace(entries);
    const want = opts.platform ?? { os: 'linux', architecture: hostArchitecture() };
    const manifestFile = ns.lookup('manifest.json');
    const indexFile = ns.lookup('index.json');
    let images: ArchiveImage[];
    if (manifestFile !== undefined) images = await readDockerArchive(ns, manifestFile);
    else if (indexFile !== undefined) images = await readOciLayout(ns, indexFile, want);
    else if (ns.lookup('repositories') !== undefined) images = await readLegacyArchive(legacyView(ns));
    else throw invalid('does not contain a manifest.json');
    // Free disk early: only layer blobs are handed out.
    const keep = new Set(images.flatMap((i) => i.layers.map((l) => l.path)));
    for (const e of entries.values()) {
      const p = e.kind === 'file' ? e.file.path : undefined;
      if (p !== undefined && !keep.has(p)) await unlink(p).catch(() => undefined);
    }
    return { images, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
