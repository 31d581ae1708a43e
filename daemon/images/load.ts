// `docker load`: every image of a docker-archive or OCI-layout tarball, stored and tagged.
import type { Readable } from 'node:stream';
import { InvalidParameter } from '../../lib/errors';
import { progressBar, type ProgressSink } from '../progress';
import { openBlobWriter, readBlobBuffer } from '../../runtime/content';
import { withLease } from '../../runtime/leases';
import { readImageArchive, type BlobStore, type ImageArchive } from './archive-read';
import { parseImageConfig } from './image-config';
import { storeImage } from './image-writer';
import { canonicalString, familiarString, parseNormalizedNamed } from './reference';
import type { ImageCore } from './image-core';

export interface LoadOptions {
  quiet: boolean;
  tmpDir: string;
}

/**
 * Archive entries from this size on are streamed into containerd as they arrive instead of being
 * staged in a temp file and copied afterwards; smaller ones (configs, manifests) stay files.
 */
const STREAM_MIN_BYTES = 1024 * 1024;

export async function loadImages(svc: ImageCore, body: Readable, opts: LoadOptions, progress: ProgressSink): Promise<void> {
  // One lease for the whole load keeps the streamed blobs until the images that use them are
  // stored; after a failure (or a crash) they are left to containerd's GC.
  await withLease(svc.ctd, async (lease) => {
    const store: BlobStore = {
      minSize: STREAM_MIN_BYTES,
      open: (o) => openBlobWriter(svc.ctd, { lease, size: o.size, expected: o.expected }),
      read: (digest) => readBlobBuffer(svc.ctd, digest),
    };
    const archive = await readImageArchive(body, opts.tmpDir, { store });
    await storeArchive(svc, archive, opts, progress);
  });
}

async function storeArchive(svc: ImageCore, archive: ImageArchive, opts: LoadOptions, progress: ProgressSink): Promise<void> {
  try {
    // Validate every tag before storing anything, so a bad name loads nothing.
    const plans = archive.images.map((img) => ({
      img,
      tags: img.repoTags.map((t) => {
        const named = parseNormalizedNamed(t);
        if (named.tag === undefined || named.digest !== undefined) throw new InvalidParameter(`invalid tag "${t}"`);
        return named;
      }),
    }));
    for (const { img, tags } of plans) {
      const created = parseImageConfig(img.config).created ?? '';
      // The "renaming the old one" notes are worked out before the tags move.
      const renamed = tags.flatMap((named) => {
        const previous = svc.repo.resolveRef(canonicalString(named));
        return previous ? [{ named, previous: previous.imageId }] : [];
      });
      const stored = await storeImage(
        svc.ctd,
        svc.repo,
        { config: img.config, layers: img.layers, created },
        {
          onLayer: (_i, layer) => {
            if (opts.quiet) return;
            progress({
              status: 'Loading layer',
              id: layer.diffId.replace(/^sha256:/, '').slice(0, 12),
              progress: progressBar(layer.uncompressedSize, layer.uncompressedSize),
              progressDetail: { current: layer.uncompressedSize, total: layer.uncompressedSize },
            });
          },
          tag: (id) => {
            for (const named of tags) svc.addTag(id, named, { touch: false, event: false });
          },
        },
      );
      for (const { named, previous } of renamed) {
        if (previous === stored.id) continue;
        progress({
          stream: `The image ${familiarString(named)} already exists, renaming the old one with ID ${previous} to empty string\n`,
        });
      }
      svc.publish(stored.id, 'load', stored.id);
      if (tags.length === 0) progress({ stream: `Loaded image ID: ${stored.id}\n` });
      for (const named of tags) progress({ stream: `Loaded image: ${familiarString(named)}\n` });
    }
  } finally {
    await archive.cleanup();
  }
}
