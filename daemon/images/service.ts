// The image area's domain service: what the image routes call. It owns the rules of names,
// tags and listing; storage goes through store/ (metadata) and runtime/ (containerd).
import type { ContainerUsage } from '../container-usage';
import type { Logger } from 'pino';
import type { Containerd } from '../../runtime/containerd';
import { deleteImageRecord, listImageRecords } from '../../runtime/image-records';
import { releaseLeftoverLeases } from '../../runtime/leases';
import { overlayDirs } from '../../runtime/snapshots';
import type { ImageRefRow, ImageRepo, ImageRow } from '../../store/image-repo';
import { InvalidParameter, NotImplemented } from '../../lib/errors';
import type { EventBus } from '../events';
import { gcRootName } from './image-writer';
import { parseImageConfig, type ImageConfig } from './image-config';
import { resolveImage } from './lookup';
import {
  canonicalString,
  familiarMatch,
  familiarName,
  familiarString,
  parseNormalizedNamed,
  repoTagReference,
  type Named,
} from './reference';
import type { ImageDeleteItem, ImageHistoryView, ImageInspectView, ImagePruneView, ImageSummaryView } from './views';
import { createdSeconds, type LabelPredicate } from './filtering';
import { importImage, type ImportOptions } from './import';
import { loadImages } from './load';
import { pruneImages, removeImage, type PruneOptions, type RemoveOptions } from './remove';
import { planSave, saveImages } from './save';
import type { SaveImage } from './archive-write';
import type { ProgressSink } from '../progress';
import type { Readable, Writable } from 'node:stream';
import { pushImage, type PushRequest, type PushSettings } from './push';
import type { PushSink } from './push-progress';
import type { Credentials, Platform } from '../../registry/types';
import { BlobDownloads } from './blob-downloads';
import { pullImage, pullReference, type PullSettings } from './pull';

export interface ImageListOptions {
  all: boolean;
  dangling?: boolean;
  labels: LabelPredicate;
  references: string[];
  before?: string;
  since?: string;
  /** Unix seconds: only images created before. */
  until?: number;
  /** API versions before 1.43 show `<none>` placeholders for untagged images. */
  placeholders: boolean;
}

export interface ImageServiceDeps {
  ctd: Containerd;
  repo: ImageRepo;
  events: EventBus;
  logger: Logger;
  /** Who uses an image (the container store answers): `rmi` and prune refuse what is in use. */
  usage: Pick<ContainerUsage, 'containersUsingImage' | 'removalsSettled'>;
  /** Where uploads are staged (under the data root, so renames stay on one filesystem). */
  tmpDir: string;
  /** Registry access for push; without it push answers 501. */
  push?: PushSettings;
  /** Registry settings and download limits; without them pulls are refused. */
  pull?: PullSettings;
}

export interface PullOptions {
  fromImage: string;
  tag: string;
  platform?: Platform;
  credentials: Credentials;
  signal?: AbortSignal;
}

export class ImageService {
  readonly ctd: Containerd;
  readonly repo: ImageRepo;
  readonly events: EventBus;
  readonly logger: Logger;
  readonly usage: Pick<ContainerUsage, 'containersUsingImage' | 'removalsSettled'>;
  readonly tmpDir: string;
  readonly pushSettings: PushSettings | undefined;
  private readonly pullSettings: PullSettings | undefined;
  private downloads: BlobDownloads | undefined;

  constructor(deps: ImageServiceDeps) {
    this.pushSettings = deps.push;
    this.tmpDir = deps.tmpDir;
    this.pullSettings = deps.pull;
    this.ctd = deps.ctd;
    this.repo = deps.repo;
    this.events = deps.events;
    this.logger = deps.logger;
    this.usage = deps.usage;
  }

  config(image: ImageRow): ImageConfig {
    return parseImageConfig(Buffer.from(image.configJson, 'utf8'));
  }

  /**
   * Drops what a crash left half-done: leases of interrupted operations (startup only), GC roots
   * without metadata and metadata without roots.
   */
  async reconcile(): Promise<void> {
    const { released, extracts } = await releaseLeftoverLeases(this.ctd);
    if (released.length > 0) this.logger.warn({ leases: released }, 'released leases of operations interrupted by a crash');
    if (extracts.length > 0) this.logger.warn({ snapshots: extracts }, 'dropped layer extractions interrupted by a crash');
    const prefix = gcRootName('sha256:');
    const records = await listImageRecords(this.ctd);
    const rooted = new Set<string>();
    for (const r of records) {
      if (!r.name.startsWith(prefix)) continue;
      const id = `sha256:${r.name.slice(prefix.length)}`;
      if (this.repo.get(id)) rooted.add(id);
      else {
        this.logger.warn({ image: id }, 'removing image left unrecorded by an interrupted operation');
        await deleteImageRecord(this.ctd, r.name);
      }
    }
    for (const id of this.repo.ids()) {
      if (!rooted.has(id)) {
        this.logger.warn({ image: id }, 'forgetting image whose content is gone from containerd');
        this.repo.delete(id);
      }
    }
  }

  count(): number {
    return this.repo.count();
  }

  private familiarRefs(refs: ImageRefRow[], kind: 'tag' | 'digest'): string[] {
    return refs.filter((r) => r.kind === kind).map((r) => familiarString(parseNormalizedNamed(r.ref)));
  }

  list(opts: ImageListOptions): ImageSummaryView[] {
    const all = this.repo.list();
    const createdOf = (ref: string): number => createdSeconds(resolveImage(this.repo, ref).image.created);
    const before = opts.before !== undefined ? createdOf(opts.before) : undefined;
    const since = opts.since !== undefined ? createdOf(opts.since) : undefined;
    const parents = new Set(all.map((i) => i.parent).filter((p) => p !== ''));
    const refsByImage = new Map<string, ImageRefRow[]>();
    for (const r of this.repo.allRefs()) {
      const list = refsByImage.get(r.imageId) ?? [];
      list.push(r);
      refsByImage.set(r.imageId, list);
    }

    const out: ImageSummaryView[] = [];
    for (const img of all) {
      const cfg = this.config(img);
      const created = createdSeconds(img.created);
      const labels = cfg.config?.Labels ?? {};
      if (before !== undefined && created >= before) continue;
      if (since !== undefined && created <= since) continue;
      if (opts.until !== undefined && created >= opts.until) continue;
      if (!opts.labels(labels)) continue;

      let refs = refsByImage.get(img.id) ?? [];
      if (opts.references.length > 0) {
        refs = refs.filter((r) => {
          const named = parseNormalizedNamed(r.ref);
          return opts.references.some((p) => familiarMatch(p, named));
        });
      }
      let tags = this.familiarRefs(refs, 'tag');
      let digests = this.familiarRefs(refs, 'digest');
      if (tags.length === 0 && digests.length === 0) {
        // Untagged: intermediate images (with children) only show with `all`.
        if (!opts.all && parents.has(img.id)) continue;
        if (opts.dangling === false) continue;
        if (opts.references.length > 0) continue;
        if (opts.placeholders) {
          tags = ['<none>:<none>'];
          digests = ['<none>@<none>'];
        }
      } else if (opts.dangling === true && tags.length > 0) {
        continue;
      }
      out.push({
        Id: img.id,
        ParentId: img.parent,
        RepoTags: tags,
        RepoDigests: digests,
        Created: created,
        Size: img.size,
        SharedSize: -1,
        Labels: labels,
        // Counted since API 1.51 (older versions get -1: api/version-shapes.ts).
        Containers: this.usage.containersUsingImage(img.id).length,
      });
    }
    out.sort((a, b) => b.Created - a.Created);
    return out;
  }

  async inspect(input: string): Promise<ImageInspectView> {
    const { image } = resolveImage(this.repo, input);
    const cfg = this.config(image);
    const refs = this.repo.refsOf(image.id);
    const layers = this.repo.layers(image.id);
    const lastTag = refs.filter((r) => r.kind === 'tag').reduce((m, r) => Math.max(m, r.addedAt), 0);
    let graphData: Record<string, string> | null = null;
    if (layers.length > 0) {
      try {
        graphData = await overlayDirs(this.ctd, layers[layers.length - 1].chainId);
      } catch (err) {
        this.logger.debug({ err }, 'no overlay dirs for image');
      }
    }
    return {
      Id: image.id,
      RepoTags: this.familiarRefs(refs, 'tag'),
      RepoDigests: this.familiarRefs(refs, 'digest'),
      Parent: image.parent,
      Comment: cfg.comment ?? '',
      Created: cfg.created ?? '',
      DockerVersion: cfg.docker_version ?? '',
      Author: cfg.author ?? '',
      Config: cfg.config ?? {},
      Architecture: cfg.architecture ?? '',
      ...(cfg.variant ? { Variant: cfg.variant } : {}),
      Os: cfg.os ?? '',
      ...(cfg['os.version'] ? { OsVersion: cfg['os.version'] } : {}),
      Size: image.size,
      GraphDriver: { Name: 'overlayfs', Data: graphData },
      RootFS: { Type: cfg.rootfs?.type ?? 'layers', Layers: cfg.rootfs?.diff_ids ?? [] },
      Metadata: { LastTagTime: lastTag > 0 ? new Date(lastTag).toISOString() : '0001-01-01T00:00:00Z' },
    };
  }

  history(input: string): ImageHistoryView[] {
    const image = resolveImage(this.repo, input).image;
    const cfg = this.config(image);
    const layers = this.repo.layers(image.id);
    const out: ImageHistoryView[] = [];
    let layerIdx = 0;
    for (const h of cfg.history ?? []) {
      let size = 0;
      if (!h.empty_layer) {
        const l = layers[layerIdx++];
        if (!l) throw new InvalidParameter('too many non-empty layers in History section');
        size = l.unpackedSize;
      }
      out.unshift({
        Id: '<missing>',
        Created: h.created ? createdSeconds(h.created) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: null,
        Size: size,
        Comment: h.comment ?? '',
      });
    }
    // As dockerd: the newest entry is the image itself, each older one its parent in turn,
    // as far as the parents are known locally; the rest stay "<missing>".
    let current: ImageRow | undefined = image;
    for (const entry of out) {
      if (!current) break;
      entry.Id = current.id;
      const tags = this.familiarRefs(this.repo.refsOf(current.id), 'tag');
      entry.Tags = tags.length > 0 ? tags : null;
      current = current.parent ? this.repo.get(current.parent) : undefined;
    }
    return out;
  }

  remove(input: string, opts: RemoveOptions): Promise<ImageDeleteItem[]> {
    return removeImage(this, input, opts);
  }

  prune(opts: PruneOptions): Promise<ImagePruneView> {
    return pruneImages(this, opts);
  }

  load(body: Readable, opts: { quiet: boolean }, progress: ProgressSink): Promise<void> {
    return loadImages(this, body, { quiet: opts.quiet, tmpDir: this.tmpDir }, progress);
  }

  import(body: Readable, opts: Omit<ImportOptions, 'tmpDir'>, progress: ProgressSink): Promise<string> {
    return importImage(this, body, { ...opts, tmpDir: this.tmpDir }, progress);
  }

  /** `docker pull`: the reference is checked before anything is sent. */
  pull(opts: PullOptions, progress: ProgressSink): Promise<void> {
    const named = pullReference(opts.fromImage, opts.tag);
    const settings = this.pullSettings;
    if (settings === undefined) throw new InvalidParameter('pulling images is not configured');
    this.downloads ??= new BlobDownloads(this.ctd, {
      limit: settings.maxConcurrentDownloads,
      attempts: settings.maxDownloadAttempts,
      onBytes: settings.onBytes,
    });
    return pullImage(
      this,
      this.downloads,
      settings,
      { named, platform: opts.platform, credentials: opts.credentials, signal: opts.signal },
      progress,
    );
  }

  /** Resolves the names to save; fails before any output for an unknown one. */
  planSave(names: string[]): SaveImage[] {
    return planSave(this, names);
  }

  save(plan: SaveImage[], out: Writable): Promise<void> {
    return saveImages(this, plan, out);
  }

  push(req: PushRequest, progress: PushSink): Promise<void> {
    if (!this.pushSettings) throw new NotImplemented('ImagePush is not implemented');
    return pushImage(this, this.pushSettings, req, progress);
  }

  tag(source: string, repo: string, tag: string): void {
    const named = repoTagReference(repo, tag);
    if (familiarName(named) === 'sha256') {
      throw new InvalidParameter('refusing to create an ambiguous tag using digest algorithm as name');
    }
    const { image } = resolveImage(this.repo, source);
    this.addTag(image.id, named);
  }

  /**
   * Points `named` at the image. `touch: false` leaves the image's LastTagTime alone, as dockerd's
   * load does (only tag and import set it).
   */
  /** `touch: false` keeps LastTagTime (load); `event: false` tags silently (load emits only "load"). */
  addTag(imageId: string, named: Named, opts: { touch?: boolean; event?: boolean } = {}): void {
    this.repo.setRef(canonicalString(named), imageId, named.digest ? 'digest' : 'tag', opts.touch === false ? 0 : Date.now());
    if (opts.event !== false) this.publish(imageId, 'tag', familiarString(named));
  }

  publish(imageId: string, action: string, name: string): void {
    this.events.publish('image', action, imageId, this.eventAttributes(imageId, name));
  }

  /** An image event's attributes: the image's labels (if it is still there) and `name`. */
  eventAttributes(imageId: string, name: string): Record<string, string> {
    const image = this.repo.get(imageId);
    const labels = image ? (this.config(image).config?.Labels ?? {}) : {};
    return { ...labels, name };
  }
}
