// `docker rmi` and `docker image prune`, following dockerd's rules: untag versus delete,
// which conflicts `force` may override and which it may not, and digest references that go
// with the last tag of their repository.
import { deleteImageRecord } from '../../runtime/image-records';
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

export async function removeImage(svc: ImageCore, input: string, opts: RemoveOptions): Promise<ImageDeleteItem[]> {
  const { image } = resolveImage(svc.repo, input);
  const records: ImageDeleteItem[] = [];
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
    const removed = familiarString(named);
    svc.repo.transaction(() => {
      svc.repo.deleteRef(canonicalString(named));
    });
    records.push({ Untagged: removed });
    svc.publish(image.id, 'untag', image.id);
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
    if (refs.length > 0) return records;
    quiet = true;
  } else if (isSingleReference(refs)) {
    // An ID naming an image with one tag (plus digests of that repository) removes them all.
    const conflict = checkConflict(svc, image, opts.force ? HARD : { child: true, running: true, stopped: true });
    if (conflict) throw conflict;
    for (const r of refs) {
      svc.repo.deleteRef(r.ref);
      records.push({ Untagged: familiarString(parseNormalizedNamed(r.ref)) });
      svc.publish(image.id, 'untag', image.id);
    }
  }
  await deleteHelper(svc, image, records, opts.force, opts.prune, quiet);
  return records;
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

async function deleteHelper(
  svc: ImageCore,
  image: ImageRow,
  records: ImageDeleteItem[],
  force: boolean,
  prune: boolean,
  quiet: boolean,
): Promise<void> {
  const conflict = checkConflict(svc, image, force ? HARD : ALL);
  if (conflict) {
    const dangling = svc.repo.refsOf(image.id).length === 0;
    if (quiet && (!dangling || conflict.used)) return;
    throw conflict;
  }
  const parent = image.parent;
  const layers = svc.repo.layers(image.id);
  const freed = layers.filter((l) => !svc.repo.chainUsedElsewhere(l.chainId, image.id));
  for (const r of svc.repo.refsOf(image.id)) {
    records.push({ Untagged: familiarString(parseNormalizedNamed(r.ref)) });
  }
  // Metadata first: a crash after this leaves a GC root that startup reconciliation drops.
  svc.repo.delete(image.id);
  await deleteImageRecord(svc.ctd, gcRootName(image.id), { sync: true });
  svc.publish(image.id, 'delete', image.id);
  records.push({ Deleted: image.id });
  for (const l of freed.reverse()) records.push({ Deleted: l.chainId });

  if (!prune || parent === '') return;
  const parentImage = svc.repo.get(parent);
  if (!parentImage || svc.repo.refsOf(parent).length > 0) return;
  await deleteHelper(svc, parentImage, records, false, true, true);
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
