// The classic builder's cache with `cachefrom` images (moby image/cache ImageCache): a local child
// counts only when it is an ancestor of a source image; otherwise a step matches the source's
// history entry after the parent's (same parent history and diff_ids as a prefix, the step's Cmd
// joined by spaces equal to the entry's created_by). The source's last entry is the source image
// itself (its parent then set to the step's parent); an earlier entry is restored as a new image
// of the parent's layers plus the entry's layer, and the cache then follows that source only.
import { SystemError } from '../../lib/errors';
import type { ContainerConfig } from '../containers/api-types';
import type { HistoryEntry, ImageConfig } from '../images/image-config';
import { findCached } from './cache';
import type { BuildImage, BuildImages } from './ports';

/** What a step asks the cache: the probe config (moby's), and the config a commit would write. */
export interface StepCache {
  get(parentId: string, probe: ContainerConfig, commitConfig: ContainerConfig): Promise<string | undefined>;
}

export function localCache(images: BuildImages): StepCache {
  return { get: (parentId, probe) => Promise.resolve(findCached(images.children(parentId), probe)) };
}

function sameEntry(a: HistoryEntry, b: HistoryEntry): boolean {
  return (
    (a.created ?? '') === (b.created ?? '') &&
    (a.created_by ?? '') === (b.created_by ?? '') &&
    (a.author ?? '') === (b.author ?? '') &&
    (a.comment ?? '') === (b.comment ?? '') &&
    (a.empty_layer ?? false) === (b.empty_layer ?? false)
  );
}

/** moby's isValidParent: the parent's history and diff_ids are a strict prefix of the image's. */
export function isValidParent(img: ImageConfig, parent: ImageConfig | undefined): boolean {
  const history = img.history ?? [];
  if (history.length === 0) return false;
  const ph = parent?.history ?? [];
  const pd = parent?.rootfs.diff_ids ?? [];
  if (parent === undefined || (ph.length === 0 && pd.length === 0)) return true;
  if (ph.length >= history.length || pd.length > img.rootfs.diff_ids.length) return false;
  return ph.every((h, i) => sameEntry(h, history[i])) && pd.every((d, i) => d === img.rootfs.diff_ids[i]);
}

/** The index in rootfs.diff_ids of history entry `index`'s layer; undefined for an empty layer. */
export function layerIndexOf(img: ImageConfig, index: number): number | undefined {
  const history = img.history ?? [];
  if (history[index]?.empty_layer === true) return undefined;
  let n = 0;
  for (let i = 0; i < index; i++) if (history[i].empty_layer !== true) n++;
  return n < img.rootfs.diff_ids.length ? n : undefined;
}

export class HistoryCache implements StepCache {
  constructor(
    private readonly images: BuildImages,
    private sources: BuildImage[],
  ) {}

  /** moby's isParent: `ancestor` is a parent, grandparent, … of `id` (not `id` itself). */
  private isAncestor(id: string, ancestor: string): boolean {
    const seen = new Set<string>();
    let next = this.images.byId(id)?.parent ?? '';
    while (next !== '' && !seen.has(next)) {
      if (next === ancestor) return true;
      seen.add(next);
      next = this.images.byId(next)?.parent ?? '';
    }
    return false;
  }

  async get(parentId: string, probe: ContainerConfig, commitConfig: ContainerConfig): Promise<string | undefined> {
    const local = findCached(this.images.children(parentId), probe);
    if (local !== undefined && this.sources.some((s) => this.isAncestor(s.id, local))) return local;
    let parent: BuildImage | undefined;
    if (parentId !== '') {
      parent = this.images.byId(parentId);
      if (parent === undefined) throw new SystemError(`unable to find image ${parentId}`);
    }
    const lenHistory = parent?.config.history?.length ?? 0;
    const createdBy = (probe.Cmd ?? []).join(' ');
    for (const target of this.sources) {
      const history = target.config.history ?? [];
      if (!isValidParent(target.config, parent?.config) || (history[lenHistory]?.created_by ?? '') !== createdBy) continue;
      if (history.length - 1 === lenHistory) {
        if (parent !== undefined) this.images.setParent(target.id, parent.id);
        return target.id;
      }
      const id = await this.restore(parent, target, lenHistory, commitConfig);
      this.sources = [target];
      return id;
    }
    return undefined;
  }

  /** A cached image of the parent plus the target's entry `index` (and its layer, if any). */
  private async restore(parent: BuildImage | undefined, target: BuildImage, index: number, config: ContainerConfig): Promise<string> {
    const t = target.config;
    const entry = (t.history ?? [])[index];
    const layerIndex = layerIndexOf(t, index);
    const diffIds = [...(parent?.config.rootfs.diff_ids ?? [])];
    if (layerIndex !== undefined) diffIds.push(t.rootfs.diff_ids[layerIndex]);
    const image: ImageConfig = {
      architecture: t.architecture,
      os: t.os,
      ...(t['os.version'] !== undefined ? { 'os.version': t['os.version'] } : {}),
      ...(t['os.features'] !== undefined ? { 'os.features': t['os.features'] } : {}),
      ...(t.author !== undefined ? { author: t.author } : {}),
      ...(entry.created !== undefined ? { created: entry.created } : {}),
      config,
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [...(parent?.config.history ?? []), entry],
    };
    return this.images.createCached(image, parent?.id ?? '', { imageId: target.id, layerIndex });
  }
}
