// Unpacks image layers into committed overlayfs snapshots named by chainID, the way containerd's
// own unpacker does: Prepare an extract snapshot, Diff.Apply the blob into it, Commit it.

import { randomBytes } from 'node:crypto';
import { InvalidParameter } from '../lib/errors';
import type { Containerd } from './containerd';
import { sha256Digest } from './content';
import { isAlreadyExists } from './grpc-errors';
import { removeSnapshot, SNAPSHOTTER, statSnapshot } from './snapshots';

/** Layer media types the walking differ can apply (plain, gzip and, for OCI, zstd). */
export const LAYER_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
]);

/** Decompressing and applying a large layer can take minutes on a slow disk. */
const APPLY_TIMEOUT_MS = 30 * 60 * 1000;

export interface UnpackLayer {
  digest: string;
  mediaType: string;
  size: number;
  diffId: string;
}

/** OCI chain IDs: chain[0] = diffID[0], chain[n] = sha256(chain[n-1] + " " + diffID[n]). */
export function chainIds(diffIds: string[]): string[] {
  const chain: string[] = [];
  for (const diffId of diffIds) {
    chain.push(chain.length === 0 ? diffId : sha256Digest(`${chain[chain.length - 1]} ${diffId}`));
  }
  return chain;
}

/**
 * Makes sure a snapshot found already committed survives until our caller has anchored it
 * (the image config's gc.ref.snapshot label): it may be an orphan GC is about to collect.
 */
async function leaseSnapshot(ctd: Containerd, lease: string, snapshotter: string, key: string): Promise<void> {
  await ctd.leases.addResource({ id: lease, resource: { id: key, type: `snapshots/${snapshotter}` } });
}

async function applyLayer(
  ctd: Containerd,
  layer: UnpackLayer,
  chainId: string,
  parent: string,
  lease: string,
  snapshotter: string,
): Promise<void> {
  // Same key shape as containerd's unpacker, so `ctr snapshots ls` shows what it is.
  const key = `extract-${randomBytes(6).toString('hex')} ${chainId}`;
  const labels = { 'containerd.io/snapshot.ref': chainId };
  let prepared;
  try {
    prepared = await ctd.snapshots.prepare({ snapshotter, key, parent, labels }, { lease });
  } catch (err) {
    // containerd refuses to prepare for a target (snapshot.ref) that exists: a concurrent unpack
    // of the same chain committed it between our stat and here. Its snapshot serves us too.
    if (!isAlreadyExists(err)) throw err;
    await leaseSnapshot(ctd, lease, snapshotter, chainId);
    return;
  }
  let committed = false;
  try {
    const res = await ctd.diff.apply(
      { diff: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size }, mounts: prepared.mounts },
      { lease, timeoutMs: APPLY_TIMEOUT_MS },
    );
    const applied = res.applied?.digest ?? '';
    if (applied !== layer.diffId) {
      throw new InvalidParameter(`layer ${layer.digest}: diff ID ${applied} calculated on extraction does not match ${layer.diffId}`);
    }
    try {
      await ctd.snapshots.commit({ snapshotter, name: chainId, key, labels }, { lease });
      committed = true;
    } catch (err) {
      // A concurrent unpack of the same chain won the race; its snapshot serves us too.
      if (!isAlreadyExists(err)) throw err;
      await leaseSnapshot(ctd, lease, snapshotter, chainId);
    }
  } finally {
    // Commit consumes the extract snapshot; anything else must not leave it behind.
    if (!committed) {
      await removeSnapshot(ctd, key).catch((err: unknown) => ctd.logger.warn({ err, key }, 'could not remove extract snapshot'));
    }
  }
}

/** Unpacks `layers` (bottom first) under `lease`; returns their chain IDs. Present chains are skipped. */
export async function unpackLayers(
  ctd: Containerd,
  layers: UnpackLayer[],
  opts: {
    lease: string;
    snapshotter?: 'overlayfs';
    /** Awaited before layer i is applied (a pull waits for its download there). */
    beforeApply?: (index: number) => Promise<void>;
    /** Called once layer i is in place; `existed` when its chain was already unpacked. */
    afterLayer?: (index: number, existed: boolean) => void;
  },
): Promise<string[]> {
  const snapshotter = opts.snapshotter ?? SNAPSHOTTER;
  for (const layer of layers) {
    if (!LAYER_MEDIA_TYPES.has(layer.mediaType)) {
      throw new InvalidParameter(`unsupported layer media type "${layer.mediaType}" (${layer.digest})`);
    }
  }
  const chain = chainIds(layers.map((l) => l.diffId));
  for (let i = 0; i < layers.length; i++) {
    const parent = i > 0 ? chain[i - 1] : '';
    if (await statSnapshot(ctd, chain[i])) {
      await leaseSnapshot(ctd, opts.lease, snapshotter, chain[i]);
      opts.afterLayer?.(i, true);
      continue;
    }
    await opts.beforeApply?.(i);
    await applyLayer(ctd, layers[i], chain[i], parent, opts.lease, snapshotter);
    opts.afterLayer?.(i, false);
  }
  return chain;
}
