// What inspect and ps show of containers (the views, with sizes, mounts, networks and the image
// column) over the in-memory store, and which containers prune takes.
import type { Logger } from 'pino';
import type { EventBus } from '../events';
import { overlayDirs, snapshotUsage, type OverlayDirs } from '../../runtime/snapshots';
import type { ImageService } from '../images/service';
import { resolveImage } from '../images/lookup';
import type { ContainerInspectResponse, ContainerSummary } from './api-types';
import type { ContainerVolumes } from './container-volumes';
import type { Container } from './model';
import type { ContainerNetworking } from './networking';
import type { ContainerStore } from './store';
import { filterContainers, inspectView, planList, summaryView, type ListOptions } from './views';

export interface PruneOptions {
  /** Unix seconds: only containers created before. */
  until?: number;
  labels: (l: Readonly<Record<string, string>>) => boolean;
}

export class ContainerQueries {
  /**
   * Inspect's GraphDriver dirs per container: its rw snapshot (key = its ID, on a fixed parent)
   * lives as long as it does, so the dirs are asked of containerd (Snapshots.Stat + Mounts) once.
   * Weak, so they go with the container.
   */
  private readonly graphDirs = new WeakMap<Container, OverlayDirs>();

  constructor(
    private readonly store: ContainerStore,
    private readonly images: ImageService,
    private readonly net: ContainerNetworking,
    private readonly volumes: ContainerVolumes,
    private readonly events: EventBus,
    private readonly logger: Logger,
  ) {}

  /** `container prune`: the stopped containers the filters select, each removed as `docker rm` would. */
  async prune(opts: PruneOptions, remove: (id: string) => Promise<void>): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of this.store.all()) {
      if (c.state.running || c.state.paused || c.state.restarting) continue;
      if (opts.until !== undefined && Date.parse(c.record.created) / 1000 >= opts.until) continue;
      if (!opts.labels(c.record.config.Labels ?? {})) continue;
      const { rw } = await this.sizes(c);
      try {
        await remove(c.record.id);
        deleted.push(c.record.id);
        reclaimed += rw;
      } catch (err) {
        this.logger.debug({ err, container: c.record.id }, 'prune skipped container');
      }
    }
    this.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  async inspect(input: string, size: boolean): Promise<ContainerInspectResponse> {
    const c = this.store.get(input);
    let graph: Record<string, string> | null = null;
    try {
      let dirs = this.graphDirs.get(c);
      if (!dirs) {
        dirs = await overlayDirs(this.images.ctd, c.record.id);
        this.graphDirs.set(c, dirs);
      }
      graph = { ...dirs };
    } catch {
      graph = null;
    }
    const sizes = size ? await this.sizes(c) : undefined;
    const networkSettings = this.net.settings(c);
    return inspectView(c, {
      desiredMacAddress: this.net.desiredMacAddress(c),
      graphDriverData: graph,
      sizeRw: sizes?.rw,
      sizeRootFs: sizes?.rootFs,
      mounts: this.volumes.mountPoints(c),
      networkSettings,
    });
  }

  async sizes(c: Container): Promise<{ rw: number; rootFs: number }> {
    const rw = await snapshotUsage(this.images.ctd, c.record.id).then(
      (u) => u.size,
      () => 0,
    );
    const image = this.images.repo.get(c.record.imageId);
    return { rw, rootFs: rw + (image?.size ?? 0) };
  }

  async list(req: ListOptions): Promise<ContainerSummary[]> {
    const plan = planList(req, (input) => this.store.get(input).record.id);
    const sorted = this.store
      .all()
      .sort((a, b) => (a.record.created < b.record.created ? 1 : a.record.created > b.record.created ? -1 : 0));
    const ancestors = req.filters.get('ancestor').map((a) => {
      try {
        return resolveImage(this.images.repo, a).image.id;
      } catch {
        return undefined;
      }
    });
    // Containers share a few images and networks: each is looked up once per listing.
    const networks = this.net.listingLookup();
    const imageShown = memo(
      (c: Container) => `${c.record.config.Image ?? ''}\0${c.record.imageId}`,
      (c) => this.imageShown(c),
    );
    const descends = memo(
      (c: Container) => c.record.imageId,
      (c) => ancestors.some((id) => id !== undefined && this.descendsFrom(c.record.imageId, id)),
    );
    const chosen = filterContainers(sorted, req, plan, descends, {
      networks: (c) => this.net.filterNames(c, networks),
      published: (c) => this.net.published(c),
    });
    const out: ContainerSummary[] = [];
    for (const c of chosen) {
      out.push(
        summaryView(
          c,
          imageShown(c),
          req.size ? await this.sizes(c) : undefined,
          this.volumes.mountPoints(c),
          this.net.summary(c, networks),
        ),
      );
    }
    return out;
  }

  private descendsFrom(imageId: string, ancestor: string): boolean {
    for (let cur = this.images.repo.get(imageId); cur; cur = cur.parent ? this.images.repo.get(cur.parent) : undefined) {
      if (cur.id === ancestor) return true;
    }
    return false;
  }

  /** The Image column: what the user named, unless that name now means another image. */
  private imageShown(c: Container): string {
    const name = c.record.config.Image ?? '';
    try {
      if (resolveImage(this.images.repo, name).image.id === c.record.imageId) return name;
    } catch {
      // the name is gone
    }
    return c.record.imageId;
  }
}

/** fn, computed once per key (for the span of one answer). */
function memo<A, T>(key: (a: A) => string, fn: (a: A) => T): (a: A) => T {
  const seen = new Map<string, T>();
  return (a) => {
    const k = key(a);
    if (seen.has(k)) return seen.get(k) as T;
    const v = fn(a);
    seen.set(k, v);
    return v;
  };
}
