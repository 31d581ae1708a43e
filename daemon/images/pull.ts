// `docker pull` (POST /images/create?fromImage=): resolves the reference on the registry's
// endpoints, picks the platform's manifest from an index, streams the layers into containerd's
// content store (shared, limited, retried downloads), unpacks them and stores the image with the
// registry's own manifest, reporting progress in dockerd's shape. Everything happens under one
// lease and the image row is written last, so an interrupted pull leaves no image behind.
import type { Containerd } from '../../runtime/containerd';
import { blobInfo, sha256Digest } from '../../runtime/content';
import { withLease } from '../../runtime/leases';
import { statSnapshot } from '../../runtime/snapshots';
import { chainIds, LAYER_MEDIA_TYPES } from '../../runtime/unpack';
import { openRepository } from '../../registry/client';
import { endpointsFor } from '../../registry/endpoints';
import {
  FOREIGN_LAYER_TYPES,
  formatPlatform,
  hostPlatform,
  layerCompression,
  matchPlatforms,
  MediaType,
  normalizePlatform,
  parseManifest,
  selectPlatform,
} from '../../registry/manifest';
import {
  RegistryError,
  type Credentials,
  type Descriptor,
  type FetchedManifest,
  type Platform,
  type RegistrySettings,
  type RepositoryClient,
} from '../../registry/types';
import { InvalidParameter, NotFound, NotImplemented } from '../../lib/errors';
import { progressBar, ProgressThrottle, type ProgressSink } from '../progress';
import type { BlobDownloads, DownloadListener } from './blob-downloads';
import { parseImageConfig } from './image-config';
import { storeImageUnderLease, type NewLayer } from './image-writer';
import { endpointsOrInvalid } from '../registry/errors';
import { pullError } from './pull-errors';
import {
  canonicalString,
  digestError,
  familiarName,
  familiarString,
  parseNormalizedNamed,
  trimNamed,
  withDigest,
  withTag,
  type Named,
} from './reference';
import type { ImageCore } from './image-core';

/** How long the content of a pull interrupted by a crash stays for a retry. */
const PULL_LEASE_TTL_MS = 60 * 60 * 1000;

/** Image configs are small JSON; a registry is untrusted, so the read is capped. */
const CONFIG_CAP = 8 * 1024 * 1024;

export interface PullSettings {
  registry: RegistrySettings;
  maxConcurrentDownloads: number;
  maxDownloadAttempts: number;
  /** Told of the bytes of each chunk downloaded. */
  onBytes?: (n: number) => void;
}

export interface PullRequest {
  named: Named;
  /** `platform` query parameter, parsed; the host's platform when absent. */
  platform?: Platform;
  credentials: Credentials;
  signal?: AbortSignal;
}

/**
 * fromImage and tag as moby's PullImage combines them: a trailing ":" is dropped ("pull -a"), and
 * the tag may be a digest. A reference without tag or digest means every tag of the repository.
 */
export function pullReference(fromImage: string, tag: string): Named {
  let named = parseNormalizedNamed(fromImage.replace(/:$/, ''));
  if (tag !== '') named = digestError(tag) === undefined ? withDigest(trimNamed(named), tag) : withTag(named, tag);
  return named;
}

/** `docker pull --all-tags`: neither tag nor digest. */
export function isNameOnly(named: Named): boolean {
  return named.tag === undefined && named.digest === undefined;
}

/** moby 28's refusal of schema 1 manifests. */
function schema1Error(named: Named): Error {
  return new NotImplemented(
    `[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of ${familiarString(named)} to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/`,
  );
}

async function readCapped(body: AsyncIterable<Buffer>, cap: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    if (n > cap) throw new InvalidParameter(`${what} is larger than ${cap} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

const shortId = (digest: string): string => digest.slice(digest.indexOf(':') + 1, digest.indexOf(':') + 13);

export interface Resolved {
  repo: RepositoryClient;
  /** What was fetched for the reference (an index or a manifest): its digest is recorded. */
  top: FetchedManifest;
}

/**
 * Runs `fn` on the endpoints in order; a mirror's failure or an unreachable endpoint falls back to
 * the next. The last endpoint's failure is the pull's, in dockerd's words.
 */
async function onEndpoints<T>(
  named: Named,
  settings: PullSettings,
  credentials: Credentials,
  onFallback: (endpoint: string, err: RegistryError) => void,
  fn: (repo: RepositoryClient) => Promise<T>,
): Promise<T> {
  const endpoints = await endpointsOrInvalid(endpointsFor(named.domain, settings.registry));
  const anonymous = Object.keys(credentials).length === 0;
  for (let i = 0; i < endpoints.length; i++) {
    const ep = endpoints[i];
    try {
      const repo = openRepository(ep, named.path, { credentials, actions: ['pull'], userAgent: settings.registry.userAgent });
      return await fn(repo);
    } catch (err) {
      const last = i === endpoints.length - 1;
      if (!last && err instanceof RegistryError && (err.transport || ep.mirror)) {
        onFallback(ep.url, err);
        continue;
      }
      throw pullError(err, named, anonymous);
    }
  }
  throw new NotFound(`no endpoint for ${named.domain}`);
}

/** Tries the endpoints in order; a mirror's failure or an unreachable endpoint falls back to the next. */
export function resolveManifest(
  named: Named,
  settings: PullSettings,
  credentials: Credentials,
  onFallback: (endpoint: string, err: RegistryError) => void,
): Promise<Resolved> {
  const reference = named.digest ?? named.tag ?? 'latest';
  return onEndpoints(named, settings, credentials, onFallback, async (repo) => ({ repo, top: await repo.getManifest(reference) }));
}

/**
 * `docker pull`: one reference, or every tag of the repository (moby's pullRepository: each tag
 * pulled in turn with its own `Pulling from` and `Digest:`, then one `Status:` for the name).
 */
export async function pullImage(
  svc: ImageCore,
  downloads: BlobDownloads,
  settings: PullSettings,
  req: PullRequest,
  progress: ProgressSink,
): Promise<void> {
  const { named } = req;
  const onFallback = (endpoint: string, err: RegistryError): void =>
    svc.logger.info({ endpoint, err: err.message }, 'pull: trying the next endpoint');
  let updated = false;
  let checked: { named: Named; imageId: string; fromIndex: boolean } | undefined;
  if (isNameOnly(named)) {
    const anonymous = Object.keys(req.credentials).length === 0;
    const { repo, tags } = await onEndpoints(named, settings, req.credentials, onFallback, async (repo) => ({
      repo,
      tags: await repo.listTags(),
    }));
    for (const tag of tags) {
      const tagged = withTag(named, tag);
      const top = await repo.getManifest(tag).catch((err: unknown) => {
        throw pullError(err, tagged, anonymous);
      });
      const r = await pullTag(svc, downloads, repo, top, { ...req, named: tagged }, progress);
      updated ||= r.updated;
      // dockerd checks the platform of the name's default tag only.
      if (tag === 'latest') checked = { named: tagged, ...r };
    }
  } else {
    const { repo, top } = await resolveManifest(named, settings, req.credentials, onFallback);
    const r = await pullTag(svc, downloads, repo, top, req, progress);
    updated = r.updated;
    checked = { named, ...r };
  }
  progress({ status: `Status: ${updated ? 'Downloaded newer image for' : 'Image is up to date for'} ${familiarString(named)}` });
  const checkedImage = checked !== undefined ? svc.repo.get(checked.imageId) : undefined;
  const checkedConfig = checkedImage !== undefined ? svc.config(checkedImage) : undefined;
  if (req.platform !== undefined && checked !== undefined && !checked.fromIndex && checkedConfig !== undefined) {
    const warning = platformMismatch(checkedConfig, familiarString(checked.named), req.platform);
    if (warning !== undefined) {
      progress({ status: `WARNING: ${warning}` });
      svc.logger.warn({ image: familiarName(named), warning }, 'ignoring platform mismatch on single-arch image');
    }
  }
  const labels = checkedConfig?.config?.Labels ?? {};
  svc.events.publish('image', 'pull', familiarString(named), { ...labels, name: familiarName(named) });
}

/**
 * moby 28's check after a pull with `platform`: an image whose config names a platform the wanted
 * one cannot run (platforms.Only's matching) is kept, with a warning. An image chosen from an index
 * for that platform is not checked (the index said it matches).
 */
export function platformMismatch(
  config: { os?: string; architecture?: string; variant?: string },
  name: string,
  want: Platform,
): string | undefined {
  const have: Platform = {
    os: config.os ?? '',
    architecture: config.architecture ?? '',
    ...(config.variant ? { variant: config.variant } : {}),
  };
  if (matchPlatforms([{ mediaType: MediaType.ociManifest, digest: '', size: 0, platform: have }], want).length > 0) return undefined;
  // As platforms.Parse then FormatAll print them: arm64's v8 is implied and left out.
  const w = normalizePlatform(want);
  if (w.architecture === 'arm64' && w.variant === 'v8') delete w.variant;
  const fmt = (p: Platform): string => (p.os === '' ? 'unknown' : [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/'));
  return `image with reference ${name} was found but its platform (${fmt(have)}) does not match the specified platform (${fmt(w)})`;
}

/** One tag or digest (moby's pullTag): returns the image and whether the reference moved to it. */
async function pullTag(
  svc: ImageCore,
  downloads: BlobDownloads,
  repo: RepositoryClient,
  top: FetchedManifest,
  req: PullRequest,
  progress: ProgressSink,
): Promise<{ imageId: string; updated: boolean; fromIndex: boolean }> {
  const { named } = req;
  const anonymous = Object.keys(req.credentials).length === 0;
  const tagOrDigest = named.digest ?? named.tag ?? 'latest';
  let parsed = parseManifest(top);
  if (parsed.kind === 'schema1') throw schema1Error(named);
  progress({ status: `Pulling from ${named.path}`, id: tagOrDigest });

  let manifest = top;
  if (parsed.kind === 'index') {
    const want = req.platform ?? hostPlatform();
    const chosen = selectPlatform(parsed, want);
    if (chosen === undefined) throw new NotFound(`no matching manifest for ${formatPlatform(want)} in the manifest list entries`);
    manifest = await repo.getManifest(chosen.digest).catch((err: unknown) => {
      throw pullError(err, named, anonymous);
    });
    parsed = parseManifest(manifest);
    if (parsed.kind === 'schema1') throw schema1Error(named);
    if (parsed.kind !== 'manifest') throw new InvalidParameter(`manifest ${chosen.digest} in the index is not an image manifest`);
  }
  const { config: configDesc } = parsed;
  // Foreign (non-distributable) layers come from the registry like any other, as dockerd 28 on
  // Linux does (their `urls` are not used); they are stored and unpacked as ordinary layers.
  const layers = parsed.layers.map((l) => ({ ...l, mediaType: distributableLayerType(l.mediaType) }));
  for (const l of layers) {
    if (!LAYER_MEDIA_TYPES.has(l.mediaType)) throw new InvalidParameter(`unsupported layer media type "${l.mediaType}" (${l.digest})`);
  }

  const before = svc.repo.resolveRef(canonicalString(named))?.imageId;
  // The digest reference and the tag move together (and with the image's record, when it is new).
  const tag = (id: string): void => {
    svc.addTag(id, { domain: named.domain, path: named.path, digest: top.digest }, { touch: false, event: false });
    if (named.digest === undefined) svc.addTag(id, named, { touch: false, event: false });
  };
  let imageId = configDesc.digest;
  let stored = svc.repo.get(imageId) !== undefined;
  if (!stored) {
    const config = await readConfig(repo, configDesc, named, anonymous);
    imageId = sha256Digest(config);
    stored = svc.repo.get(imageId) !== undefined;
    if (!stored) await download(svc, downloads, repo, { config, layers, manifest, req, tag }, progress);
  }
  if (stored) svc.repo.transaction(() => tag(imageId));
  const updated = before !== imageId;
  progress({ status: `Digest: ${top.digest}` });
  return { imageId, updated, fromIndex: top.digest !== manifest.digest };
}

/** A foreign layer's media type as the ordinary layer type of the same compression. */
export function distributableLayerType(mediaType: string): string {
  if (!FOREIGN_LAYER_TYPES.has(mediaType)) return mediaType;
  switch (layerCompression(mediaType)) {
    case 'gzip':
      return MediaType.ociLayerGzip;
    case 'zstd':
      return MediaType.ociLayerZstd;
    default:
      return MediaType.ociLayer;
  }
}

async function readConfig(repo: RepositoryClient, desc: Descriptor, named: Named, anonymous: boolean): Promise<Buffer> {
  try {
    const { body } = await repo.getBlob(desc.digest);
    const config = await readCapped(body, Math.min(CONFIG_CAP, Math.max(desc.size, 0) || CONFIG_CAP), 'image config');
    if (desc.digest.startsWith('sha256:') && sha256Digest(config) !== desc.digest) {
      throw new InvalidParameter(`image config verification failed for digest ${desc.digest}`);
    }
    return config;
  } catch (err) {
    throw pullError(err, named, anonymous);
  }
}

interface Plan {
  config: Buffer;
  layers: Descriptor[];
  manifest: FetchedManifest;
  req: PullRequest;
  /** Sets the pull's references, in the transaction that records the image. */
  tag: (id: string) => void;
}

async function download(
  svc: ImageCore,
  downloads: BlobDownloads,
  repo: RepositoryClient,
  plan: Plan,
  progress: ProgressSink,
): Promise<void> {
  const { layers, config } = plan;
  const cfg = parseImageConfig(config);
  const diffIds = cfg.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layers.length) {
    throw new InvalidParameter(`image config has ${diffIds.length} diff IDs for ${layers.length} layers`);
  }
  const chain = chainIds(diffIds);
  const ctd: Containerd = svc.ctd;
  // Stops this pull's share of the downloads when the client leaves or another layer fails.
  const stop = new AbortController();
  const onClientGone = (): void => stop.abort(new Error('client disconnected'));
  plan.req.signal?.addEventListener('abort', onClientGone, { once: true });
  if (plan.req.signal?.aborted) onClientGone();
  // Kept over a crash (until it expires) so that a retried pull finds the layers already complete.
  await withLease(
    ctd,
    async (lease) => {
      // "Already exists": the layer's snapshot is there and so is its blob (save and push need it).
      const present: boolean[] = [];
      for (let i = 0; i < layers.length; i++) {
        const have = (await statSnapshot(ctd, chain[i])) !== undefined && (await blobInfo(ctd, layers[i].digest)) !== undefined;
        if (have) await ctd.leases.addResource({ id: lease, resource: { id: layers[i].digest, type: 'content' } });
        present.push(have);
      }
      layers.forEach((l, i) =>
        progress({ status: present[i] ? 'Already exists' : 'Pulling fs layer', progressDetail: {}, id: shortId(l.digest) }),
      );

      const fetches: Promise<void>[] = layers.map((l, i) => {
        if (present[i]) return Promise.resolve();
        const id = shortId(l.digest);
        const throttle = new ProgressThrottle((current, total) =>
          progress({ status: 'Downloading', progressDetail: { current, total }, progress: progressBar(current, total), id }),
        );
        const listener: DownloadListener = {
          waiting: () => progress({ status: 'Waiting', progressDetail: {}, id }),
          progress: (current, total) => throttle.update(current, total),
          verifying: () => progress({ status: 'Verifying Checksum', progressDetail: {}, id }),
        };
        const src = {
          digest: l.digest,
          size: l.size,
          open: async (offset: number) => {
            const got = await repo.getBlob(l.digest, offset);
            const start = (got as { offset?: number }).offset;
            return { body: got.body as AsyncIterable<Buffer> & { destroy?: (err?: Error) => void }, offset: start ?? offset };
          },
        };
        const p = downloads
          .fetch(src, lease, listener, stop.signal)
          .then(() => progress({ status: 'Download complete', progressDetail: {}, id }));
        p.catch(() => undefined);
        return p;
      });

      const newLayers: NewLayer[] = layers.map((l, i) => ({
        digest: l.digest,
        size: l.size,
        mediaType: l.mediaType,
        diffId: diffIds[i],
        uncompressedSize: -1,
      }));
      const finished = new Set<number>();
      const complete = (i: number): void => {
        if (present[i] || finished.has(i)) return;
        finished.add(i);
        progress({ status: 'Pull complete', progressDetail: {}, id: shortId(layers[i].digest) });
      };
      try {
        await storeImageUnderLease(
          ctd,
          svc.repo,
          { config, layers: newLayers, created: cfg.created ?? new Date(0).toISOString(), manifest: plan.manifest },
          lease,
          {
            beforeApply: (i) => fetches[i],
            afterLayer: (i, existed) => {
              if (present[i]) return;
              if (existed) {
                // Unpacked meanwhile (or earlier from another blob): complete once the blob is in.
                fetches[i].then(() => complete(i)).catch(() => undefined);
                return;
              }
              const size = layers[i].size;
              progress({
                status: 'Extracting',
                progressDetail: { current: size, total: size },
                progress: progressBar(size, size),
                id: shortId(layers[i].digest),
              });
              complete(i);
            },
            contentReady: async () => {
              await Promise.all(fetches);
            },
            tag: plan.tag,
          },
        );
      } catch (err) {
        // Stop and let every download settle before the lease goes.
        stop.abort(new Error('pull failed'));
        await Promise.allSettled(fetches);
        throw err instanceof RegistryError ? pullError(err, plan.req.named, Object.keys(plan.req.credentials).length === 0) : err;
      }
    },
    { kind: 'pull', ttlMs: PULL_LEASE_TTL_MS },
  ).finally(() => plan.req.signal?.removeEventListener('abort', onClientGone));
}
