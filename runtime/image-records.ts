// containerd image records. Berth keeps image metadata in its own store; these records exist so
// containerd's GC treats an image's manifest (and, through gc.ref labels, its config, layers and
// snapshots) as live.

import type { Containerd } from './containerd';
import type { Image } from './gen/github.com/containerd/containerd/api/services/images/v1/images';
import { isAlreadyExists, isNotFound } from './grpc-errors';

export interface ImageTarget {
  mediaType: string;
  digest: string;
  size: number;
}

export interface ImageRecord {
  name: string;
  target: ImageTarget;
  labels: Record<string, string>;
  createdAt?: Date;
  updatedAt?: Date;
}

function toRecord(image: Image | undefined, fallbackName: string): ImageRecord {
  return {
    name: image?.name ?? fallbackName,
    target: {
      mediaType: image?.target?.mediaType ?? '',
      digest: image?.target?.digest ?? '',
      size: image?.target?.size ?? 0,
    },
    labels: image?.labels ?? {},
    createdAt: image?.createdAt,
    updatedAt: image?.updatedAt,
  };
}

/** Creates or replaces (target and labels) the record `name`. */
export async function putImageRecord(
  ctd: Containerd,
  name: string,
  target: ImageTarget,
  labels: Record<string, string> = {},
  lease?: string,
): Promise<ImageRecord> {
  const image: Image = { name, target, labels };
  try {
    const res = await ctd.images.create({ image }, { lease });
    return toRecord(res.image, name);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  // No update mask: containerd replaces target and labels wholesale, keeping createdAt.
  const res = await ctd.images.update({ image }, { lease });
  return toRecord(res.image, name);
}

/** Deletes the record; returns false when it did not exist. `sync` runs GC before returning. */
export async function deleteImageRecord(ctd: Containerd, name: string, opts: { sync?: boolean } = {}): Promise<boolean> {
  try {
    await ctd.images.delete({ name, sync: opts.sync ?? false });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export async function getImageRecord(ctd: Containerd, name: string): Promise<ImageRecord | undefined> {
  try {
    const res = await ctd.images.get({ name });
    return toRecord(res.image, name);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Lists records, optionally narrowed by a containerd filter such as `name~="^berth/"`. */
export async function listImageRecords(ctd: Containerd, filter?: string): Promise<ImageRecord[]> {
  const res = await ctd.images.list({ filters: filter ? [filter] : [] });
  return (res.images ?? []).map((img) => toRecord(img, ''));
}
