// `docker save`: named images as one archive that both dockerd and Berth can load.
import type { Readable, Writable } from 'node:stream';
import { readBlob } from '../../runtime/content';
import { writeImageArchive, type SaveImage } from './archive-write';
import { inProcessDecompressor } from './compression';
import { layerMediaTypeCompression } from './image-config';
import { InvalidParameter } from '../../lib/errors';
import { pipeline } from 'node:stream';
import { noSuchImage, resolveImage } from './lookup';
import { familiarString, fullName, parseAnyReference, parseNormalizedNamed, tagNameOnly } from './reference';
import type { ImageCore } from './image-core';

/** Resolves every name first, so an unknown one fails before a byte is streamed. */
export function planSave(svc: ImageCore, names: string[]): SaveImage[] {
  const byId = new Map<string, Set<string>>();
  const add = (id: string, tag?: string): void => {
    const tags = byId.get(id) ?? new Set<string>();
    if (tag) tags.add(tag);
    byId.set(id, tags);
  };
  for (const name of names) {
    const ref = parseAnyReference(name);
    if (ref.kind === 'id') {
      add(resolveImage(svc.repo, name).image.id);
      continue;
    }
    const named = ref.named;
    if (named.tag === undefined && named.digest === undefined) {
      // A bare repository name saves every tag of it.
      const repo = fullName(named);
      const refs = svc.repo.allRefs().filter((r) => r.kind === 'tag' && fullName(parseNormalizedNamed(r.ref)) === repo);
      if (refs.length > 0) {
        for (const r of refs) add(r.imageId, familiarString(parseNormalizedNamed(r.ref)));
        continue;
      }
    }
    const { image, named: resolved } = resolveImage(svc.repo, name);
    if (resolved && !resolved.digest) add(image.id, familiarString(tagNameOnly(resolved)));
    else add(image.id);
  }
  if (byId.size === 0 && names.length > 0) throw noSuchImage(names[0]);

  return [...byId.entries()].map(([id, tags]) => {
    const image = svc.repo.get(id);
    if (!image) throw noSuchImage(id);
    return {
      configDigest: id,
      config: Buffer.from(image.configJson, 'utf8'),
      repoTags: [...tags],
      layers: svc.repo.layers(id).map((l) => ({
        diffId: l.diffId,
        size: l.uncompressedSize,
        open: (): Readable => {
          const blob = readBlob(svc.ctd, l.blobDigest);
          if (l.blobDigest === l.diffId) return blob;
          const inflate = inProcessDecompressor(layerMediaTypeCompression(l.mediaType) ?? 'none');
          if (!inflate) throw new InvalidParameter(`cannot decompress layer ${l.blobDigest} (${l.mediaType})`);
          return pipeline(blob, inflate, () => undefined);
        },
      })),
    };
  });
}

export async function saveImages(svc: ImageCore, plan: SaveImage[], out: Writable): Promise<void> {
  // Pulled layers do not know their uncompressed size (nothing decompressed them but containerd's
  // apply); the archive needs it up front, so it is measured here, once per layer.
  for (const img of plan) {
    for (const l of img.layers) {
      if (l.size >= 0) continue;
      let n = 0;
      for await (const chunk of l.open()) n += (chunk as Buffer).length;
      l.size = n;
    }
  }
  await writeImageArchive(plan, out);
  for (const img of plan) svc.publish(img.configDigest, 'save', img.configDigest);
}
