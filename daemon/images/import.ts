// `docker import`: a filesystem tarball (plain or compressed) becomes a one-layer image.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { InvalidParameter } from '../../lib/errors';
import type { ProgressSink } from '../progress';
import { applyChanges } from './changes';
import { decompressStream } from './compression';
import { hostArchitecture, MediaType, type ImageConfig } from './image-config';
import { storeImage } from './image-writer';
import { parseNormalizedNamed, tagNameOnly, withTag, type Named } from './reference';
import type { ImageCore } from './image-core';

export interface ImportOptions {
  repo: string;
  tag: string;
  message: string;
  changes: string[];
  platform: string;
  tmpDir: string;
}

function importReference(repo: string, tag: string): Named | undefined {
  if (repo === '') return undefined;
  const named = parseNormalizedNamed(repo);
  if (named.digest) throw new InvalidParameter('cannot import digest reference');
  return tag !== '' ? withTag(named, tag) : tagNameOnly(named);
}

function parsePlatform(platform: string): { os: string; architecture: string; variant?: string } {
  if (platform === '') return { os: 'linux', architecture: hostArchitecture() };
  const [osName, arch, variant] = platform.toLowerCase().split('/');
  if (osName !== 'linux') throw new InvalidParameter(`operating system is not supported: ${osName}`);
  return { os: osName, architecture: arch || hostArchitecture(), ...(variant ? { variant } : {}) };
}

export async function importImage(svc: ImageCore, body: Readable, opts: ImportOptions, progress: ProgressSink): Promise<string> {
  const named = importReference(opts.repo, opts.tag);
  const platform = parsePlatform(opts.platform);
  const message = opts.message !== '' ? opts.message : 'Imported from -';
  const imageConfig = applyChanges({}, opts.changes);

  const file = path.join(opts.tmpDir, `import-${randomBytes(8).toString('hex')}.tar`);
  const hash = createHash('sha256');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await fs.promises.mkdir(opts.tmpDir, { recursive: true });
    await pipeline(await decompressStream(body, 'archives'), counter, fs.createWriteStream(file));
    if (size === 0) throw new InvalidParameter('archive is empty');
    const diffId = `sha256:${hash.digest('hex')}`;
    const created = new Date().toISOString();
    const config: ImageConfig = {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      created,
      comment: message,
      config: imageConfig,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, comment: message }],
    };
    const stored = await storeImage(
      svc.ctd,
      svc.repo,
      {
        config: Buffer.from(JSON.stringify(config)),
        created,
        layers: [{ path: file, digest: diffId, size, mediaType: MediaType.OciLayer, diffId, uncompressedSize: size }],
      },
      { tag: (id) => named && svc.addTag(id, named) },
    );
    progress({ status: stored.id });
    svc.publish(stored.id, 'import', stored.id);
    return stored.id;
  } finally {
    await fs.promises.rm(file, { force: true });
  }
}
