// `GET /system/df`: what images, containers and volumes take on disk, with what could be
// reclaimed, as dockerd's SystemDiskUsage computes it. Berth has no builder, so the build cache
// is always empty.
import type { ContainerSummary } from '../containers/api-types';
import type { ContainerService } from '../containers/service';
import { NO_FILTERS } from '../containers/views';
import type { ImageService } from '../images/service';
import type { ImageSummaryView } from '../images/views';
import type { Volume, VolumeService } from '../volumes/service';

export interface UsageTotals<T> {
  ActiveCount: number;
  TotalCount: number;
  Reclaimable: number;
  TotalSize: number;
  Items: T[];
}

export interface DiskUsage {
  images?: UsageTotals<ImageSummaryView>;
  containers?: UsageTotals<ContainerSummary>;
  volumes?: UsageTotals<Volume>;
  buildCache?: UsageTotals<never>;
}

export type DiskUsageObject = 'container' | 'image' | 'volume' | 'build-cache';

export class DiskUsageService {
  constructor(private readonly deps: { images: ImageService; containers: ContainerService; volumes: VolumeService }) {}

  async usage(what: ReadonlySet<DiskUsageObject>): Promise<DiskUsage> {
    const out: DiskUsage = {};
    if (what.has('image')) out.images = this.images();
    if (what.has('container')) {
      const items = await this.deps.containers.list({ all: true, limit: -1, size: true, filters: NO_FILTERS });
      const active = items.filter((c) => c.State === 'running' || c.State === 'paused' || c.State === 'restarting');
      const total = items.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
      out.containers = {
        ActiveCount: active.length,
        TotalCount: items.length,
        Reclaimable: total - active.reduce((n, c) => n + (c.SizeRw ?? 0), 0),
        TotalSize: total,
        Items: items,
      };
    }
    if (what.has('volume')) {
      const items = await this.deps.volumes.usage();
      const size = (v: Volume): number => Math.max(0, v.UsageData?.Size ?? 0);
      const active = items.filter((v) => (v.UsageData?.RefCount ?? 0) > 0);
      const total = items.reduce((n, v) => n + size(v), 0);
      out.volumes = {
        ActiveCount: active.length,
        TotalCount: items.length,
        Reclaimable: total - active.reduce((n, v) => n + size(v), 0),
        TotalSize: total,
        Items: items,
      };
    }
    if (what.has('build-cache')) out.buildCache = { ActiveCount: 0, TotalCount: 0, Reclaimable: 0, TotalSize: 0, Items: [] };
    return out;
  }

  /** Images with their container counts and shared sizes; TotalSize counts each layer once. */
  private images(): UsageTotals<ImageSummaryView> {
    const { images } = this.deps;
    const items = images.list({ all: false, labels: () => true, references: [], placeholders: false });
    const layerSize = new Map<string, number>();
    const usedBy = new Map<string, number>();
    const layersOf = new Map<string, string[]>();
    for (const img of items) {
      const layers = images.repo.layers(img.Id);
      layersOf.set(
        img.Id,
        layers.map((l) => l.chainId),
      );
      for (const l of layers) {
        layerSize.set(l.chainId, l.unpackedSize);
        usedBy.set(l.chainId, (usedBy.get(l.chainId) ?? 0) + 1);
      }
    }
    let active = 0;
    let reclaimable = 0;
    const activeLayers = new Set<string>();
    for (const img of items) {
      img.Containers = images.usage.containersUsingImage(img.Id).length;
      img.SharedSize = (layersOf.get(img.Id) ?? [])
        .filter((c) => (usedBy.get(c) ?? 0) > 1)
        .reduce((n, c) => n + (layerSize.get(c) ?? 0), 0);
      if (img.Containers > 0) {
        active++;
        for (const c of layersOf.get(img.Id) ?? []) activeLayers.add(c);
      }
    }
    let total = 0;
    for (const [chain, size] of layerSize) {
      total += size;
      if (!activeLayers.has(chain)) reclaimable += size;
    }
    return { ActiveCount: active, TotalCount: items.length, Reclaimable: reclaimable, TotalSize: total, Items: items };
  }
}
