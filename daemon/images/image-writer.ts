// Stores a new image: blobs into containerd's content store, layers unpacked into overlayfs
// snapshots, a containerd image record as the GC root, then the metadata row in SQLite.
// Everything before the SQLite commit happens under a lease, so a crash midway leaves only
// content that containerd collects and a record that startup reconciliation removes.
import type { Containerd } from '../../runtime/containerd';
import { setBlobLabels, sha256Digest, writeBlob } from '../../runtime/content';
import type { ArchiveLayer } from './archive-types';
import { withLease } from '../../runtime/leases';
import { putImageRecord } from '../../runtime/image-records';
import { snapshotUsage } from '../../runtime/snapshots';
import { unpackLayers } from '../../runtime/unpack';
import type { ImageLayerRow, ImageRepo } from '../../store/image-repo';
import { errorMessage, InvalidParameter } from '../../lib/errors';
import { MediaType } from './image-config';

export const SNAPSHOTTER = 'overlayfs';

/** A layer file ready to store: exactly what the archive reader produces. */
export type NewLayer = ArchiveLayer;

/** A manifest as a registry served it: kept byte for byte as the image's manifest record. */
export interface SourceManifest {
  mediaType: string;
  digest: string;
  body: Buffer;
}

export interface NewImage {
  config: Buffer;
  layers: NewLayer[];
  created: string;
  parent?: string;
  /** The registry's manifest (pull); without it a manifest is synthesized. */
  manifest?: SourceManifest;
}

export interface StoreHooks {
  onLayer?: (index: number, layer: NewLayer) => void;
  /** Awaited before layer i is unpacked (its blob may still be downloading). */
  beforeApply?: (index: number) => Promise<void>;
  afterLayer?: (index: number, existed: boolean) => void;
  /** Awaited after unpacking, before the layers' blobs are labelled (all downloads done). */
  contentReady?: () => Promise<void>;
  /**
   * Points the image's references at it in the transaction that records the image (or, when it was
   * stored already, in one of its own), so a kill never leaves a new image listed without its tags.
   */
  tag?: (id: string) => void;
}

export interface StoredImage {
  id: string;
  /** False when an identical image was already stored. */
  added: boolean;
}

/** The containerd image record that keeps an image's content and snapshots from GC. */
export function gcRootName(imageId: string): string {
  return `berth.local/image:${imageId.slice('sha256:'.length)}`;
}

/**
 * containerd reports a layer whose bytes are no valid tar as a failed mount callback naming its
 * temporary mount point. That is the client's bad data, not a daemon fault: say so as dockerd does,
 * without the path.
 */
function layerDataError(err: unknown): InvalidParameter | undefined {
  const m = /^mount callback failed on \S+: (.*)$/s.exec(errorMessage(err));
  if (m === null || !/archive\/tar: |unexpected EOF|gzip: |zstd: |invalid tar header/.test(m[1])) return undefined;
  return new InvalidParameter(`Error processing tar file: ${m[1]}`);
}

export async function storeImage(
  ctd: Containerd,
  repo: ImageRepo,
  img: NewImage,
  hooks: Pick<StoreHooks, 'onLayer' | 'tag'> = {},
): Promise<StoredImage> {
  const id = sha256Digest(img.config);
  if (repo.get(id)) return alreadyStored(repo, id, hooks);
  return withLease(ctd, (lease) => storeImageUnderLease(ctd, repo, img, lease, hooks));
}

function alreadyStored(repo: ImageRepo, id: string, hooks: StoreHooks): StoredImage {
  const { tag } = hooks;
  if (tag) repo.transaction(() => tag(id));
  return { id, added: false };
}

/**
 * storeImage under the caller's lease, for callers (pull) whose content is already in the store
 * under that lease: everything the image needs is anchored before the lease goes.
 */
export async function storeImageUnderLease(
  ctd: Containerd,
  repo: ImageRepo,
  img: NewImage,
  lease: string,
  hooks: StoreHooks = {},
): Promise<StoredImage> {
  const id = sha256Digest(img.config);
  if (repo.get(id)) return alreadyStored(repo, id, hooks);
  img.layers.forEach((l, i) => hooks.onLayer?.(i, l));
  for (const l of img.layers) {
    const labels = { 'containerd.io/uncompressed': l.diffId };
    if (l.path !== undefined) await writeBlob(ctd, { path: l.path }, { lease, expected: l.digest, size: l.size, labels });
  }
  const chainIds = await unpackLayers(
    ctd,
    img.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, diffId: l.diffId })),
    { lease, snapshotter: SNAPSHOTTER, beforeApply: hooks.beforeApply, afterLayer: hooks.afterLayer },
  ).catch((err: unknown) => {
    throw layerDataError(err) ?? err;
  });
  await hooks.contentReady?.();
  // No path: the blob was streamed into the store already (archive reader, pull), under the
  // caller's lease; only its label is missing.
  for (const l of img.layers) {
    if (l.path === undefined) await setBlobLabels(ctd, l.digest, { 'containerd.io/uncompressed': l.diffId });
  }
  const configLabels: Record<string, string> = {};
  if (chainIds.length > 0) configLabels[`containerd.io/gc.ref.snapshot.${SNAPSHOTTER}`] = chainIds[chainIds.length - 1];
  await writeBlob(ctd, { data: img.config }, { lease, expected: id, size: img.config.length, labels: configLabels });

  const manifest =
    img.manifest?.body ??
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: { mediaType: MediaType.OciConfig, digest: id, size: img.config.length },
        layers: img.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      }),
    );
  const manifestDigest = img.manifest?.digest ?? sha256Digest(manifest);
  const manifestMediaType = img.manifest?.mediaType ?? MediaType.OciManifest;
  const manifestLabels: Record<string, string> = { 'containerd.io/gc.ref.content.config': id };
  img.layers.forEach((l, i) => (manifestLabels[`containerd.io/gc.ref.content.l.${i}`] = l.digest));
  await writeBlob(ctd, { data: manifest }, { lease, expected: manifestDigest, size: manifest.length, labels: manifestLabels });

  const layerRows: ImageLayerRow[] = [];
  let total = 0;
  for (let i = 0; i < img.layers.length; i++) {
    const l = img.layers[i];
    const usage = await snapshotUsage(ctd, chainIds[i]);
    total += usage.size;
    layerRows.push({
      idx: i,
      diffId: l.diffId,
      chainId: chainIds[i],
      blobDigest: l.digest,
      mediaType: l.mediaType,
      blobSize: l.size,
      uncompressedSize: l.uncompressedSize,
      unpackedSize: usage.size,
    });
  }

  await putImageRecord(ctd, gcRootName(id), { mediaType: manifestMediaType, digest: manifestDigest, size: manifest.length }, {}, lease);
  const added = repo.transaction(() => {
    const inserted = repo.insert(
      {
        id,
        configJson: img.config.toString('utf8'),
        manifestDigest,
        manifestMediaType,
        manifestSize: manifest.length,
        created: img.created,
        size: total,
        parent: img.parent ?? '',
        addedAt: Date.now(),
      },
      layerRows,
    );
    hooks.tag?.(id);
    return inserted;
  });
  return { id, added };
}
