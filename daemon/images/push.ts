// `docker push`: uploads a local image's layers and config to a registry and PUTs its manifest,
// as dockerd's distribution/push_v2.go does: layers bottom first, a few at once; a layer the
// registry has is skipped, one it has in another repository is mounted, the rest is uploaded
// (uncompressed layers gzipped while streaming). Where each layer's compressed blob went is
// remembered (store/blob-location-repo.ts) so that the next push need not compress it again.
import { Readable, Transform, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import { readBlob, sha256Digest } from '../../runtime/content';
import type { BlobLocation, BlobLocationRepo } from '../../store/blob-location-repo';
import type { ImageLayerRow } from '../../store/image-repo';
import type { Credentials, Endpoint, Platform, RepositoryClient } from '../../registry/types';
import { formatPlatform, matchPlatforms } from '../../registry/manifest';
import { RegistryError } from '../../registry/types';
import { Forbidden, InvalidParameter, NotFound, SystemError, Unauthorized, Unavailable } from '../../lib/errors';
import { layerMediaTypeCompression, MediaType } from './image-config';
import { resolveImage } from './lookup';
import { buildManifest, manifestLayerType, type PushedLayer } from './push-manifest';
import { auxMessage, digestLine, layerStatus, pushingMessage, PushThrottle, refersTo, type PushSink } from './push-progress';
import {
  canonicalString,
  familiarName,
  familiarString,
  fullName,
  parseNormalizedNamed,
  repoTagReference,
  tagNameOnly,
  trimNamed,
  withDigest,
  type Named,
} from './reference';
import type { ImageCore } from './image-core';

/** What push needs of the registry client (registry/), injected so tests can fake it. */
export interface RegistryAccess {
  /** Endpoints for a registry host in the order to try (mirrors included; push skips them). */
  endpoints(domain: string): Promise<Endpoint[]>;
  open(
    endpoint: Endpoint,
    name: string,
    opts: { credentials?: Credentials; actions: ('pull' | 'push')[]; mountFrom?: string[] },
  ): RepositoryClient;
}

export interface PushSettings {
  registry: RegistryAccess;
  locations: BlobLocationRepo;
  /** `max-concurrent-uploads` (dockerd's default 5). */
  maxConcurrentUploads: number;
}

export interface PushRequest {
  /** The `{name}` of the route: a repository, possibly with a tag. */
  name: string;
  /** The `tag` query parameter; empty pushes every tag of the repository. */
  tag: string;
  credentials: Credentials;
  /** API 1.46+: the platform the named image must be for. */
  platform?: Platform;
  signal?: AbortSignal;
}

/** Mount attempts per layer: each costs a round trip, and a stale candidate just falls through. */
const MAX_MOUNT_ATTEMPTS = 3;

/**
 * The reference a push request names, as dockerd's router parses it (before any output, so a bad
 * name is a 400): name + tag, or the bare repository for "all tags".
 */
export function pushReference(name: string, tag: string): Named {
  if (tag !== '') return repoTagReference(name, tag);
  return parseNormalizedNamed(name);
}

/** RegistryError → dockerd's words (errcode's "<code in lower case>: <message>") and our kinds. */
export function pushError(err: unknown): Error {
  if (!(err instanceof RegistryError)) return err instanceof Error ? err : new SystemError(String(err));
  // errcode's Error(): the code in lower case with spaces ("denied: requested access …").
  const text = err.code !== undefined && !err.transport ? `${err.code.toLowerCase().replace(/_/g, ' ')}: ${err.message}` : err.message;
  if (err.status === 401) return new Unauthorized(text);
  if (err.status === 403) return new Forbidden(text);
  if (err.status === 404) return new NotFound(text);
  if (err.transport) return new Unavailable(text);
  return new SystemError(text);
}

/** Runs `tasks` with at most `limit` at once, in order; `onQueued` for those that had to wait. */
export async function runLimited<T>(tasks: (() => Promise<T>)[], limit: number, onQueued: (i: number) => void): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  const width = Math.max(1, limit);
  for (let i = width; i < tasks.length; i++) onQueued(i);
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < tasks.length && failed === undefined) {
      const i = next++;
      try {
        results[i] = await tasks[i]();
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, tasks.length) }, () => worker()));
  if (failed !== undefined) throw failed;
  return results;
}

/** Counts bytes that pass through. */
function byteCounter(onBytes: (n: number) => void): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
}

class TagPusher {
  constructor(
    private readonly svc: ImageCore,
    private readonly cfg: PushSettings,
    private readonly client: RepositoryClient,
    private readonly repoName: Named,
    private readonly progress: PushSink,
    /** Layers already announced: a retry on the next endpoint (https → http) does not repeat them. */
    private readonly prepared: Set<string>,
    private readonly signal?: AbortSignal,
  ) {}

  private get registry(): string {
    return this.repoName.domain;
  }

  private remember(layer: ImageLayerRow, d: PushedLayer, repository = this.client.name): void {
    this.cfg.locations.record({
      diffId: layer.diffId,
      registry: this.registry,
      repository,
      digest: d.digest,
      size: d.size,
      mediaType: d.mediaType,
    });
  }

  async push(tag: string, imageId: string): Promise<void> {
    const image = this.svc.repo.get(imageId);
    if (!image) throw new NotFound(`could not find image from tag ${familiarString({ ...this.repoName, tag })}: No such image: ${imageId}`);
    const config = Buffer.from(image.configJson, 'utf8');
    if (sha256Digest(config) !== imageId) throw new SystemError(`stored config of ${imageId} does not match its ID`);
    const layers = this.svc.repo.layers(imageId);
    // Identical layers (same diff ID) are pushed once, as dockerd's upload manager dedups by key.
    const unique = [...new Map(layers.map((l) => [l.diffId, l])).values()];
    const oci = unique.some((l) => layerMediaTypeCompression(l.mediaType) === 'zstd');
    // The first request reaches the registry (ping, auth) before any layer line, as dockerd's
    // pusher does: an unreachable endpoint fails or falls back without "Preparing".
    const configKnown = (await this.client.headBlob(imageId)) !== undefined;
    for (const l of unique) {
      if (this.prepared.has(l.diffId)) continue;
      this.prepared.add(l.diffId);
      this.progress(layerStatus(l.diffId, 'Preparing'));
    }
    const sources = sourceRepositories(this.svc, imageId, this.repoName);
    const pushed = await runLimited(
      unique.map((l) => () => this.pushLayer(l, oci, sources)),
      this.cfg.maxConcurrentUploads,
      (i) => this.progress(layerStatus(unique[i].diffId, 'Waiting')),
    );
    const byDiffId = new Map(unique.map((l, i) => [l.diffId, pushed[i]]));

    if (!configKnown) {
      await this.client.pushBlob(Readable.from([config]), { expected: imageId });
    }
    const manifest = buildManifest(
      { digest: imageId, size: config.length },
      layers.map((l) => byDiffId.get(l.diffId) as PushedLayer),
      oci,
    );
    const digest = await this.client.putManifest(tag, manifest.mediaType, manifest.body);
    this.progress(digestLine(tag, digest, manifest.body.length));
    this.progress(auxMessage(tag, digest, manifest.body.length));
    // The repository digest, as dockerd records it after a push (silently: no "tag" event).
    this.svc.addTag(imageId, withDigest(this.repoName, digest), { touch: false, event: false });
  }

  private async pushLayer(layer: ImageLayerRow, oci: boolean, sources: string[]): Promise<PushedLayer> {
    const compression = layerMediaTypeCompression(layer.mediaType);
    if (compression === undefined)
      throw new InvalidParameter(`cannot push layer ${layer.blobDigest}: unknown media type ${layer.mediaType}`);
    const known = this.cfg.locations.find(layer.diffId, this.registry);
    if (compression !== 'none') {
      // The stored blob is what goes up, as it is: its digest is known before sending.
      const d: PushedLayer = { mediaType: manifestLayerType(compression, oci), digest: layer.blobDigest, size: layer.blobSize };
      const here = (repository: string): BlobLocation => ({ ...d, diffId: layer.diffId, registry: this.registry, repository });
      // A pulled layer is also where the image was pulled from (its RepoDigests on this registry).
      const candidates = [here(this.client.name), ...known.filter((k) => k.digest === d.digest), ...sources.map(here)];
      const found = await this.tryExisting(layer, candidates, oci);
      if (found) return found;
      return this.upload(layer, d, readBlob(this.svc.ctd, layer.blobDigest), layer.blobSize, false);
    }
    // Only gzip blobs stand in for a plain layer: a zstd one would not fit a schema2 manifest.
    const found = await this.tryExisting(
      layer,
      known.filter((k) => layerMediaTypeCompression(k.mediaType) === 'gzip'),
      oci,
    );
    if (found) return found;
    const gz = zlib.createGzip();
    const total = layer.uncompressedSize > 0 ? layer.uncompressedSize : layer.blobSize;
    const throttle = new PushThrottle(total);
    // dockerd counts the bytes read from the layer, before compression.
    const counter = byteCounter((n) => {
      if (throttle.due(n)) this.progress(pushingMessage(layer.diffId, n, total));
    });
    const body = pipeline(readBlob(this.svc.ctd, layer.blobDigest), counter, gz, () => undefined);
    return this.upload(layer, { mediaType: manifestLayerType('gzip', oci), digest: '', size: 0 }, body, total, true);
  }

  /**
   * The registry has the layer already: HEAD the digests known for this repository, then try to
   * mount from other repositories of the same registry. Stale rows are forgotten.
   */
  private async tryExisting(layer: ImageLayerRow, candidates: BlobLocation[], oci: boolean): Promise<PushedLayer | undefined> {
    const seen = new Set<string>();
    for (const c of candidates) {
      if (seen.has(c.digest)) continue;
      seen.add(c.digest);
      const size = await this.client.headBlob(c.digest);
      const d = { mediaType: this.layerType(c, oci), digest: c.digest, size: size ?? c.size };
      if (size !== undefined) {
        this.progress(layerStatus(layer.diffId, 'Layer already exists'));
        this.remember(layer, d);
        return d;
      }
      if (c.repository === this.client.name) this.cfg.locations.forget(c);
    }
    let attempts = 0;
    for (const c of candidates) {
      if (c.repository === this.client.name || attempts >= MAX_MOUNT_ATTEMPTS) continue;
      attempts++;
      if (await this.mount(c)) {
        const d = { mediaType: this.layerType(c, oci), digest: c.digest, size: c.size };
        this.progress(layerStatus(layer.diffId, `Mounted from ${c.repository}`));
        this.remember(layer, d);
        return d;
      }
      this.cfg.locations.forget(c);
    }
    return undefined;
  }

  /** A refused mount (no access to the source, say) just means uploading; only transport failures stop the push. */
  private async mount(c: BlobLocation): Promise<boolean> {
    try {
      return await this.client.mountBlob(c.digest, c.repository);
    } catch (err) {
      if (err instanceof RegistryError && !err.transport) return false;
      throw err;
    }
  }

  private layerType(c: BlobLocation, oci: boolean): string {
    const compression = layerMediaTypeCompression(c.mediaType);
    return manifestLayerType(compression === 'zstd' ? 'zstd' : 'gzip', oci);
  }

  private async upload(layer: ImageLayerRow, d: PushedLayer, body: Readable, total: number, counted: boolean): Promise<PushedLayer> {
    const throttle = new PushThrottle(total);
    body.on('error', () => undefined);
    // A client that goes away stops the upload: the failed body fails pushBlob.
    const stop = (): void => {
      body.destroy(new Error('push cancelled: the client disconnected'));
    };
    this.signal?.addEventListener('abort', stop, { once: true });
    try {
      const res = await this.client.pushBlob(body, {
        ...(d.digest !== '' ? { expected: d.digest } : {}),
        onProgress: counted
          ? undefined
          : (sent) => {
              if (throttle.due(sent)) this.progress(pushingMessage(layer.diffId, sent, total));
            },
      });
      const out = { mediaType: d.mediaType, digest: res.digest, size: res.size };
      this.progress(layerStatus(layer.diffId, 'Pushed'));
      this.remember(layer, out);
      return out;
    } finally {
      this.signal?.removeEventListener('abort', stop);
      body.destroy();
    }
  }
}

/**
 * API 1.46's `platform`: the named image must be for it (moby's GetImage with a platform, before
 * any output, so a mismatch is a 404). The classic store holds one platform per name.
 */
function checkPlatform(svc: ImageCore, named: Named, want: Platform): void {
  const { image } = resolveImage(svc.repo, canonicalString(tagNameOnly(named)));
  const cfg = svc.config(image);
  const have: Platform = { os: cfg.os ?? '', architecture: cfg.architecture ?? '', ...(cfg.variant ? { variant: cfg.variant } : {}) };
  if (matchPlatforms([{ mediaType: MediaType.DockerManifest, digest: image.id, size: 0, platform: have }], want).length > 0) return;
  // containerd's FormatAll prints arm64's default variant v8 as nothing.
  const fmt = (p: Platform): string => formatPlatform(p).replace(/^([^/]+\/arm64)\/v8$/, '$1');
  throw new NotFound(
    `image with reference ${familiarString(named)} was found but its platform (${fmt(have)}) does not match the specified platform (${fmt(want)})`,
  );
}

/** Other repositories of the same registry an image has a digest reference in (pulled from, pushed to). */
function sourceRepositories(svc: ImageCore, imageId: string, repoName: Named): string[] {
  const out = new Set<string>();
  for (const r of svc.repo.refsOf(imageId)) {
    if (r.kind !== 'digest') continue;
    const named = parseNormalizedNamed(r.ref);
    if (named.domain === repoName.domain && named.path !== repoName.path) out.add(named.path);
  }
  return [...out];
}

/** Familiar names of the tags (name-only refs) of `repoName` and the image each points at. */
function tagsOf(svc: ImageCore, repoName: Named): { named: Named; imageId: string }[] {
  const want = fullName(repoName);
  const out: { named: Named; imageId: string }[] = [];
  for (const r of svc.repo.allRefs()) {
    const named = parseNormalizedNamed(r.ref);
    if (fullName(named) === want) out.push({ named, imageId: r.imageId });
  }
  return out;
}

/** Pushes one tag or every tag of a repository; the stream starts with "The push refers to …". */
export async function pushImage(svc: ImageCore, cfg: PushSettings, req: PushRequest, progress: PushSink): Promise<void> {
  const named = pushReference(req.name, req.tag);
  const repoName = trimNamed(named);
  if (req.platform !== undefined) checkPlatform(svc, named, req.platform);
  progress(refersTo(fullName(repoName)));
  const associations = tagsOf(svc, repoName);
  if (associations.length === 0) throw new NotFound(`An image does not exist locally with the tag: ${familiarName(repoName)}`);
  let targets: { tag: string; imageId: string }[];
  if (named.tag !== undefined) {
    const hit = svc.repo.resolveRef(canonicalString(named));
    if (!hit) throw new NotFound(`tag does not exist: ${familiarString(named)}`);
    targets = [{ tag: named.tag, imageId: hit.imageId }];
  } else if (named.digest !== undefined) {
    throw new InvalidParameter('cannot push a digest reference');
  } else {
    targets = associations
      .filter((a) => a.named.tag !== undefined && a.named.digest === undefined)
      .map((a) => ({ tag: a.named.tag ?? '', imageId: a.imageId }));
    if (targets.length === 0) throw new NotFound(`no tags to push for ${familiarName(repoName)}`);
  }

  // After the local checks: deciding whether a host is insecure may resolve its name.
  const endpoints = (await cfg.registry.endpoints(repoName.domain)).filter((e) => !e.mirror);
  // Mount candidates are other repositories of this registry that hold one of our layers.
  const mountFrom = new Set<string>();
  for (const t of targets) {
    for (const p of sourceRepositories(svc, t.imageId, repoName)) mountFrom.add(p);
    for (const l of svc.repo.layers(t.imageId)) {
      for (const loc of cfg.locations.find(l.diffId, repoName.domain)) if (loc.repository !== repoName.path) mountFrom.add(loc.repository);
    }
  }
  const prepared = new Set<string>();
  let lastErr: unknown = new Unavailable(`no endpoints found for ${fullName(repoName)}`);
  for (const endpoint of endpoints) {
    req.signal?.throwIfAborted();
    const client = cfg.registry.open(endpoint, repoName.path, {
      credentials: req.credentials,
      actions: ['pull', 'push'],
      mountFrom: [...mountFrom],
    });
    const pusher = new TagPusher(svc, cfg, client, repoName, progress, prepared, req.signal);
    try {
      for (const t of targets) {
        req.signal?.throwIfAborted();
        await pusher.push(t.tag, t.imageId);
      }
    } catch (err) {
      // Only an endpoint that could not be reached at all lets the next one try (https → http).
      if (err instanceof RegistryError && err.transport && endpoint !== endpoints[endpoints.length - 1]) {
        lastErr = err;
        continue;
      }
      throw pushError(err);
    }
    svc.events.publish('image', 'push', familiarString(named), { name: familiarName(repoName) });
    return;
  }
  throw pushError(lastErr);
}
