// Finds an image from what a user typed: a reference (tag or digest), a full ID, or a unique
// ID prefix, in the order dockerd tries them (see reference.ts imageLookup).
import { InvalidParameter, NotFound } from '../../lib/errors';
import type { ImageRepo, ImageRow } from '../../store/image-repo';
import { canonicalString, imageLookup, noSuchImageMessage, type Named } from './reference';

export interface ResolvedImage {
  image: ImageRow;
  /** The reference the user named, when the input was found as a name rather than an ID. */
  named?: Named;
}

export function noSuchImage(input: string): NotFound {
  try {
    return new NotFound(noSuchImageMessage(input));
  } catch {
    return new NotFound(`No such image: ${input}`);
  }
}

export function resolveImage(repo: ImageRepo, input: string): ResolvedImage {
  if (input === '') throw new InvalidParameter('invalid reference format');
  const how = imageLookup(input);
  if (how.kind === 'id') {
    const image = repo.get(how.id);
    if (!image) throw new NotFound(how.notFound);
    return { image };
  }
  const hit = repo.resolveRef(canonicalString(how.ref));
  const image = hit && repo.get(hit.imageId);
  if (image) return { image, named: how.ref };
  if (how.idPrefix !== undefined) {
    // An ambiguous prefix finds nothing, as dockerd's digest set lookup does.
    const ids = repo.idsWithPrefix(`sha256:${how.idPrefix}`);
    const byId = ids.length === 1 ? repo.get(ids[0]) : undefined;
    if (byId) return { image: byId };
  }
  throw new NotFound(how.notFound);
}

/** Whether the input is (a prefix of) the image's ID rather than a name. */
export function isIdPrefix(imageId: string, input: string): boolean {
  return imageId.startsWith(input) || imageId.slice('sha256:'.length).startsWith(input);
}
