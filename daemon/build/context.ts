// The build context: the request body (a tar, plain or gzip/bzip2/xz/zstd compressed) unpacked
// into a private directory with the same hardened extraction `docker cp` uses (entries resolved
// inside the directory, `../` names and links pointing out refused), then the Dockerfile read and
// .dockerignore applied. dockerd leaves .dockerignore to the client and only drops the Dockerfile
// and .dockerignore themselves when they match; Berth applies the patterns to the whole context
// (docs/divergence.md), so a client sending everything still keeps excluded files out.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { SystemError } from '../../lib/errors';
import * as sfs from '../../runtime/safe-fs';
import { untarInScope } from '../containers/archive';
import { decompressStream } from '../images/compression';
import { followInScope, withRootFd, type ContainerRoot } from '../containers/rootfs-path';
import { cleanPath, PatternMatcher, readIgnoreFile } from './dockerignore';

/** Passes a tar through and ends it with zeros up to a whole block and the two end blocks. */
function padTar(): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      cb(null, Buffer.alloc(((512 - (size % 512)) % 512) + 1024));
    },
  });
}

export interface BuildContext {
  /** The context as a root: paths in it are resolved in scope, as container paths are. */
  root: ContainerRoot;
  dockerfile: string;
  dispose(): void;
}

function readInRoot(r: ContainerRoot, rel: string): string | undefined {
  try {
    const resolved = followInScope(r, path.posix.join('/', rel));
    return withRootFd(r, (fd) => sfs.readSmallFile(fd, resolved).toString('utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EINVAL') return undefined;
    throw err;
  }
}

/** Removes what the patterns exclude; an excluded dir is entered when exceptions may keep files in it. */
function applyIgnore(dir: string, rel: string, pm: PatternMatcher): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
    const full = path.join(dir, e.name);
    const excluded = pm.matchesOrParentMatches(childRel);
    if (e.isDirectory()) {
      if (excluded && !pm.hasExclusions) {
        fs.rmSync(full, { recursive: true, force: true });
        continue;
      }
      applyIgnore(full, childRel, pm);
      if (excluded && fs.readdirSync(full).length === 0) fs.rmdirSync(full);
    } else if (excluded) {
      fs.rmSync(full, { force: true });
    }
  }
}

/** Unpacks the context and reads its Dockerfile (the name given, else "Dockerfile" or "dockerfile"). */
export async function openContext(tmpDir: string, body: Readable, dockerfileName: string): Promise<BuildContext> {
  const dir = path.join(tmpDir, `build-${randomBytes(8).toString('hex')}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dispose = (): void => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const root: ContainerRoot = { root: dir, mounts: new Map() };
    // Decompressed here so the tar can be padded: the CLI's `-f` outside the context sends one
    // whose last entry ends unpadded and without the end blocks, which Go's reader takes.
    const plain = await decompressStream(body, 'build context');
    await untarInScope(root, '/', plain.pipe(padTar()), { noOverwriteDirNonDir: false });
    let name = cleanPath(dockerfileName === '' ? 'Dockerfile' : dockerfileName).replace(/^\/+/, '');
    let dockerfile = readInRoot(root, name);
    if (dockerfile === undefined && (dockerfileName === '' || dockerfileName === 'Dockerfile')) {
      name = 'dockerfile';
      dockerfile = readInRoot(root, name);
    }
    if (dockerfile === undefined) throw new SystemError(`Cannot locate specified Dockerfile: ${dockerfileName || 'Dockerfile'}`);
    const ignore = readInRoot(root, '.dockerignore');
    if (ignore !== undefined) {
      const pm = new PatternMatcher(readIgnoreFile(ignore));
      applyIgnore(dir, '', pm);
    }
    return { root, dockerfile, dispose };
  } catch (err) {
    dispose();
    throw err;
  }
}
