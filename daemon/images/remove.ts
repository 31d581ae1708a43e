// `docker rmi` and `docker image prune`, following dockerd's rules: untag versus delete,
// which conflicts `force` may override and which it may not, and digest references that go
// with the last tag of their repository.
import { deleteImageRecord } from '../../runtime/image-records';
import { pendingPreparesOf } from '../../runtime/snapshots';
import type { ImageRefRow, ImageRow } from '../../store/image-repo';
import { Conflict } from '../../lib/errors';
import { gcRootName } from './image-writer';
import { isIdPrefix, resolveImage } from './lookup';
import { canonicalString, familiarString, fullName, parseNormalizedNamed } from './reference';
import { createdSeconds, type LabelPredicate } from './filtering';
import type { ImageCore } from './image-core';
import type { ImageDeleteItem, ImagePruneView } from './views';

const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

type ConflictMask = { child?: boolean; running?: boolean; reference?: boolean; stopped?: boolean };
const HARD: ConflictMask = { child: true, running: true };
const ALL: ConflictMask = { child: true, running: true, reference: true, stopped: true };

class ImageDeleteConflict extends Conflict {
  constructor(
    imageId: string,
    readonly hard: boolean,
    readonly used: boolean,
    reason: string,
  ) {
    super(`conflict: unable to delete ${shortId(imageId)} (${hard ? 'cannot be forced' : 'must be forced'}) - ${reason}`);
  }
}

export interface RemoveOptions {
  force: boolean;
  prune: boolean;
}

/** What one removal changed in the metadata, for the work that follows its commit. */
interface Removal {
  records: ImageDeleteItem[];
  /** Events, with the image's labels read while it still existed. */
  events: Array<() => void>;
  /** Images whose records went: their containerd GC roots go after the commit. */
  deleted: string[];
  /** A conflict found after references were removed: those stay removed, as in dockerd. */
  conflict?: ImageDeleteConflict;
}

export async function removeImage(svc: ImageCore, input: string, opts: RemoveOptions): Promise<ImageDeleteItem[]> {
  // References and records change in one transaction: a kill never leaves an image with only
  // its digest reference, or untagged, when the client asked for it to go.
  const removal = svc.repo.transaction(() => removeRecords(svc, input, opts));
  for (const emit of removal.events) emit();
  if (removal.deleted.length > 0) {
    // A just-removed container's snapshot (AutoRemove deletes it behind the removal) would hold
    // the layers past this GC; no longer ones than that are waited for.
    await svc.usage.removalsSettled();
    // A just-created one's (`rmi -f` of a created container's image) is still being prepared on
    // the layers: once it exists, it holds them for the container, as it would have at once.
    await Promise.all(pendingPreparesOf(svc.ctd));
  }
  for (const id of removal.deleted) {
    // A crash before this leaves a GC root that startup reconciliation drops.
    await deleteImageRecord(svc.ctd, gcRootName(id), { sync: true });
  }
  if (removal.conflict) throw removal.conflict;
  return removal.records;
}

function removeRecords(svc: ImageCore, input: string, opts: RemoveOptions): Removal {
  const { image } = resolveImage(svc.repo, input);
  const removal: Removal = { records: [], events: [], deleted: [] };
  const { records } = removal;
  let refs = svc.repo.refsOf(image.id);
  let quiet = false;

  if (!isIdPrefix(image.id, input)) {
    // A reference was named: it goes first, and the image only when nothing else names it.
    if (!opts.force) {
      const user = svc.usage.containersUsingImage(image.id)[0];
      if (user) {
        throw new Conflict(
          `conflict: unable to remove repository reference "${input}" (must force) - container ${shortId(user.id)} is using its referenced image ${shortId(image.id)}`,
        );
      }
    }
    const named = resolveImage(svc.repo, input).named;
    if (!named) throw new Conflict(`unable to remove reference ${input}`);
    svc.repo.deleteRef(canonicalString(named));
    records.push({ Untagged: familiarString(named) });
    removal.events.push(eventOf(svc, image.id, 'untag'));
    refs = svc.repo.refsOf(image.id);
    if (!named.digest) {
      const repoName = fullName(named);
      const sameRepoTag = refs.some((r) => r.kind === 'tag' && fullName(parseNormalizedNamed(r.ref)) === repoName);
      if (!sameRepoTag) {
        // Digest references of that repository go with its last tag.
        for (const r of refs.filter((x) => x.kind === 'digest' && fullName(parseNormalizedNamed(x.ref)) === repoName)) {
          svc.repo.deleteRef(r.ref);
          records.push({ Untagged: familiarString(parseNormalizedNamed(r.ref)) });
        }
        refs = svc.repo.refsOf(image.id);
      }
    }
    if (refs.length > 0) return removal;
    quiet = true;
  } else if (isSingleReference(refs)) {
    // An ID naming an image with one tag (plus digests of that repository) removes them all.
    const conflict = checkConflict(svc, image, opts.force ? HARD : { child: true, running: true, stopped: true });
    if (conflict) throw conflict;
    for (const r of refs) {
      svc.repo.deleteRef(r.ref);
      records.push({ Untagged: familiarString(parseNormalizedNamed(r.ref)) });
      removal.events.push(eventOf(svc, image.id, 'untag'));
    }
  }
  const conflict = deleteHelper(svc, image, removal, opts.force, opts.prune, quiet);
  // Nothing changed yet: the conflict is the answer, with nothing to commit.
  if (conflict && records.length === 0) throw conflict;
  if (conflict) removal.conflict = conflict;
  return removal;
}

/** The event, its attributes taken now (the image may be gone when it is published). */
function eventOf(svc: ImageCore, imageId: string, action: string): () => void {
  const attrs = svc.eventAttributes(imageId, imageId);
  return () => svc.events.publish('image', action, imageId, attrs);
}

function isSingleReference(refs: ImageRefRow[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: ImageRefRow | undefined;
  const digestRepos = new Set<string>();
  for (const r of refs) {
    if (r.kind === 'digest') digestRepos.add(fullName(parseNormalizedNamed(r.ref)));
    else if (!single) single = r;
    else return false;
  }
  const chosen = single ?? refs[0];
  return digestRepos.size === 1 && digestRepos.has(fullName(parseNormalizedNamed(chosen.ref)));
}

function checkConflict(svc: ImageCore, image: ImageRow, mask: ConflictMask): ImageDeleteConflict | undefined {
  if (mask.child && svc.repo.children(image.id).length > 0) {
    return new ImageDeleteConflict(image.id, true, false, 'image has dependent child images');
  }
  const users = svc.usage.containersUsingImage(image.id);
  const running = users.find((u) => u.running);
  if (mask.running && running) {
    return new ImageDeleteConflict(image.id, true, true, `image is being used by running container ${shortId(running.id)}`);
  }
  if (mask.reference && svc.repo.refsOf(image.id).length > 0) {
    return new ImageDeleteConflict(image.id, false, false, 'image is referenced in multiple repositories');
  }
  const stopped = users.find((u) => !u.running);
  if (mask.stopped && stopped) {
    return new ImageDeleteConflict(image.id, false, true, `image is being used by stopped container ${shortId(stopped.id)}`);
  }
  return undefined;
}

/** Deletes the image's metadata (and, pruning, its untagged parents'); returns a conflict to report. */
function deleteHelper(
  svc: ImageCore,
  image: ImageRow,
  removal: Removal,
  force: boolean,
  prune: boolean,
  quiet: boolean,
): ImageDeleteConflict | undefined {
  const conflict = checkConflict(svc, image, force ? HARD : ALL);
  if (conflict) {
    const dangling = svc.repo.refsOf(image.id).length === 0;
    if (quiet && (!dangling || conflict.used)) return undefined;
    return conflict;
  }
  const { records } = removal;
  const parent = image.parent;
  const layers = svc.repo.layers(image.id);
  const freed = layers.filter((l) => !svc.repo.chainUsedElsewhere(l.chainId, image.id));
  for (const r of svc.repo.refsOf(image.id)) {
    records.push({ Untagged: familiarString(parseNormalizedNamed(r.ref)) });
  }
  svc.repo.delete(image.id);
  // Read after the delete: dockerd's delete event carries no labels.
  removal.events.push(eventOf(svc, image.id, 'delete'));
  removal.deleted.push(image.id);
  records.push({ Deleted: image.id });
  for (const l of freed.reverse()) records.push({ Deleted: l.chainId });

  if (!prune || parent === '') return undefined;
  const parentImage = svc.repo.get(parent);
  if (!parentImage || svc.repo.refsOf(parent).length > 0) return undefined;
  return deleteHelper(svc, parentImage, removal, false, true, true);
}

export interface PruneOptions {
  danglingOnly: boolean;
  until?: number;
  labels: LabelPredicate;
}

export async function pruneImages(svc: ImageCore, opts: PruneOptions): Promise<ImagePruneView> {
  const deleted: ImageDeleteItem[] = [];
  let reclaimed = 0;
  const sizes = new Map<string, number>();
  for (const img of svc.repo.list()) for (const l of svc.repo.layers(img.id)) sizes.set(l.chainId, l.unpackedSize);

  for (const img of svc.repo.list()) {
    if (!svc.repo.get(img.id)) continue; // removed as a parent of an earlier one
    if (svc.repo.children(img.id).length > 0) continue;
    const refs = svc.repo.refsOf(img.id);
    if (opts.danglingOnly && refs.length > 0) continue;
    if (opts.until !== undefined && createdSeconds(img.created) >= opts.until) continue;
    if (!opts.labels(svc.config(img).config?.Labels ?? {})) continue;
    if (svc.usage.containersUsingImage(img.id).length > 0) continue;
    const records: ImageDeleteItem[] = [];
    try {
      if (refs.length === 0) {
        records.push(...(await removeImage(svc, img.id, { force: false, prune: true })));
      } else {
        for (const r of refs) {
          if (!svc.repo.get(img.id)) break;
          records.push(...(await removeImage(svc, familiarString(parseNormalizedNamed(r.ref)), { force: false, prune: true })));
        }
      }
    } catch (err) {
      if (!(err instanceof Conflict)) throw err;
      svc.logger.debug({ err, image: img.id }, 'prune skipped image');
    }
    for (const r of records) {
      if ('Deleted' in r) reclaimed += sizes.get(r.Deleted) ?? 0;
    }
    deleted.push(...records);
  }
  if (deleted.length > 0) svc.events.publish('image', 'prune', '', { reclaimed: String(reclaimed) });
  return { ImagesDeleted: deleted, SpaceReclaimed: reclaimed };
}
