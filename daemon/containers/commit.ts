// docker commit: the container's changes become one new layer on top of its image. containerd's
// Diff service compares a view of the image's top snapshot with the container's snapshot under a
// lease; the image config is the container's config (with the body's config merged over it and
// `changes` applied), the parent's history plus one entry, the parent's diff_ids plus the new one.
import { randomBytes } from 'node:crypto';
import type { Containerd } from '../../runtime/containerd';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { blobInfo, readBlob } from '../../runtime/content';
import { withLease } from '../../runtime/leases';
import { removeSnapshot, SNAPSHOTTER, snapshotMounts } from '../../runtime/snapshots';
import type { ContainerConfig as ApiContainerConfig } from './api-types';
import { containerEventAttributes } from './model';
import type { ContainerRecord } from './model';
import type { RootOwner } from './rootfs-access';
import type { EventBus } from '../events';
import { SystemError } from '../../lib/errors';
import { exactStringify } from '../../lib/int64';
import { applyChanges } from '../images/changes';
import type { ContainerConfig, ImageConfig } from '../images/image-config';
import { MediaType } from '../images/image-config';
import { storeImage, type NewLayer } from '../images/image-writer';
import { familiarString, repoTagReference } from '../images/reference';
import type { ImageService } from '../images/service';

/** sha256 of an empty tar (1024 zero bytes): a commit without changes adds no layer. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export interface CommitRequest {
  container: string;
  repo: string;
  tag: string;
  comment: string;
  author: string;
  pause: boolean;
  changes: string[];
  /** The request body's config, when one was sent. */
  config?: ApiContainerConfig;
  /**
   * A build step (moby's CommitBuildStep): the image config and container config exactly as given,
   * nothing merged, no event.
   */
  buildStep?: { config: ApiContainerConfig; containerConfig: ApiContainerConfig };
}

export interface CommitContainers {
  get(input: string): RootOwner;
  pause(input: string): Promise<void>;
  unpause(input: string): Promise<void>;
}

export interface CommitDeps {
  ctd: Containerd;
  images: ImageService;
  containers: CommitContainers;
  events: EventBus;
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

/** moby's commit merge: what the user's config leaves empty comes from the container's. */
export function mergeConfig(user: ContainerConfig, base: ContainerConfig): ContainerConfig {
  const out: Record<string, unknown> = { ...user };
  const b = base as Record<string, unknown>;
  for (const [k, v] of Object.entries(b)) {
    if (k === 'Cmd' || k === 'Entrypoint') continue;
    if (isEmpty(out[k])) out[k] = v;
  }
  if (isEmpty(user.Cmd) && isEmpty(user.Entrypoint)) {
    out.Cmd = base.Cmd;
    out.Entrypoint = base.Entrypoint;
  }
  const envKey = (e: string): string => e.split('=')[0];
  const env = [...(user.Env ?? [])];
  for (const e of base.Env ?? []) if (!env.some((u) => envKey(u) === envKey(e))) env.push(e);
  if (env.length > 0) out.Env = env;
  for (const k of ['Labels', 'ExposedPorts', 'Volumes'] as const) {
    const merged = { ...((b[k] as object | undefined) ?? {}), ...((user[k] as object | undefined) ?? {}) };
    if (Object.keys(merged).length > 0) out[k] = merged;
  }
  return out as ContainerConfig;
}

/** Size of the layer's tar (docker save writes it uncompressed); containerd does not record it. */
async function uncompressedSize(ctd: Containerd, digest: string): Promise<number> {
  let size = 0;
  await pipeline(readBlob(ctd, digest), createGunzip(), async (src: AsyncIterable<Buffer>) => {
    for await (const chunk of src) size += chunk.length;
  });
  return size;
}

async function diffLayer(ctd: Containerd, record: ContainerRecord, lease: string): Promise<NewLayer> {
  const viewKey = `berth-commit-${randomBytes(6).toString('hex')}`;
  const left = record.snapshotParent
    ? ((await ctd.snapshots.view({ snapshotter: SNAPSHOTTER, key: viewKey, parent: record.snapshotParent }, { lease })).mounts ?? [])
    : [];
  try {
    const right = await snapshotMounts(ctd, record.id);
    const res = await ctd.diff.diff({ left, right, mediaType: MediaType.OciLayerGzip, ref: `commit-${viewKey}`, labels: {} }, { lease });
    const d = res.diff;
    if (!d?.digest) throw new SystemError('diff service returned no layer');
    const info = await blobInfo(ctd, d.digest);
    const diffId = info?.labels['containerd.io/uncompressed'];
    if (!diffId) throw new SystemError(`layer ${d.digest} has no uncompressed digest`);
    return {
      digest: d.digest,
      size: d.size ?? info?.size ?? 0,
      mediaType: d.mediaType || MediaType.OciLayerGzip,
      diffId,
      uncompressedSize: await uncompressedSize(ctd, d.digest),
    };
  } finally {
    if (record.snapshotParent) await removeSnapshot(ctd, viewKey);
  }
}

export async function commitContainer(deps: CommitDeps, req: CommitRequest): Promise<string> {
  const c = deps.containers.get(req.container);
  const id = c.record.id;
  // Check the reference before any work, as dockerd parses it first.
  const named = req.repo !== '' ? repoTagReference(req.repo, req.tag) : undefined;
  const step = req.buildStep;
  const containerConfig = (step?.containerConfig ?? c.record.config) as ContainerConfig;
  const userConfig = (req.config ?? containerConfig) as ContainerConfig;
  const newConfig = step ? (step.config as ContainerConfig) : mergeConfig(applyChanges(userConfig, req.changes), containerConfig);

  const parentRow = deps.images.repo.get(c.record.imageId);
  const parent: ImageConfig | undefined = parentRow ? deps.images.config(parentRow) : undefined;
  const parentLayers = parentRow ? deps.images.repo.layers(parentRow.id) : [];

  const pauseIt = req.pause && c.state.running && !c.state.paused;
  if (pauseIt) await deps.containers.pause(id);
  let imageId: string;
  try {
    imageId = await withLease(deps.ctd, async (lease) => {
      const layer = await diffLayer(deps.ctd, c.record, lease);
      const emptyLayer = layer.diffId === EMPTY_LAYER_DIFF_ID;
      const created = new Date().toISOString();
      const history = [...(parent?.history ?? [])];
      const entry: NonNullable<ImageConfig['history']>[number] = { created, created_by: (containerConfig.Cmd ?? []).join(' ') };
      if (req.author) entry.author = req.author;
      if (req.comment) entry.comment = req.comment;
      if (emptyLayer) entry.empty_layer = true;
      history.push(entry);
      const config: ImageConfig = {
        architecture: parent?.architecture ?? 'amd64',
        os: parent?.os ?? 'linux',
        ...(parent?.variant ? { variant: parent.variant } : {}),
        created,
        ...(req.author ? { author: req.author } : {}),
        ...(req.comment ? { comment: req.comment } : {}),
        config: newConfig,
        container: id,
        container_config: containerConfig,
        rootfs: { type: 'layers', diff_ids: [...(parent?.rootfs.diff_ids ?? []), ...(emptyLayer ? [] : [layer.diffId])] },
        history,
      };
      const layers: NewLayer[] = parentLayers.map((l) => ({
        digest: l.blobDigest,
        size: l.blobSize,
        mediaType: l.mediaType,
        diffId: l.diffId,
        uncompressedSize: l.uncompressedSize,
      }));
      if (!emptyLayer) layers.push(layer);
      const stored = await storeImage(
        deps.ctd,
        deps.images.repo,
        {
          // exact: the healthcheck's durations may be beyond 2^53 (bigints).
          config: Buffer.from(exactStringify(config)),
          layers,
          created,
          parent: c.record.imageId,
        },
        { tag: (imageId) => named && deps.images.addTag(imageId, named) },
      );
      return stored.id;
    });
  } finally {
    if (pauseIt) await deps.containers.unpause(id).catch(() => undefined);
  }
  if (step) return imageId;
  deps.events.publish(
    'container',
    'commit',
    id,
    containerEventAttributes(c.record, { comment: req.comment, imageID: imageId, imageRef: named ? familiarString(named) : '' }),
  );
  return imageId;
}
