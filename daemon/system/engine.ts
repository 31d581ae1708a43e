// Berth's own identity as an engine: the API versions it speaks, its version, the commit it was
// built from and when. Read once from the installed package, so nothing here is hard-coded twice.

import * as fs from 'node:fs';
import * as path from 'node:path';

/** The newest Engine API version served; also the version of requests without a /vX.Y prefix. */
export const API_VERSION = '1.53';
/** The oldest Engine API version served (dockerd's MinAPIVersion). */
export const MIN_API_VERSION = '1.24';

export interface EngineInfo {
  version: string;
  gitCommit: string;
  /** When this build was compiled, in dockerd's BuildTime form. */
  buildTime: Date;
}

/** Walks up from `start` to the directory holding Berth's package.json. */
function findPackageRoot(start: string): string | undefined {
  let dir = start;
  for (;;) {
    const file = path.join(dir, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown };
      if (pkg.name === 'berth') return dir;
    } catch {
      // not here: keep walking
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The short commit id of a git checkout at `root` (HEAD resolved through loose or packed refs). */
export function readGitCommit(root: string): string | undefined {
  const gitDir = path.join(root, '.git');
  try {
    const head = fs.readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return /^[0-9a-f]{40}$/.test(head) ? head.slice(0, 7) : undefined;
    const ref = head.slice(5);
    try {
      return fs.readFileSync(path.join(gitDir, ref), 'utf8').trim().slice(0, 7);
    } catch {
      const packed = fs.readFileSync(path.join(gitDir, 'packed-refs'), 'utf8');
      const line = packed.split('\n').find((l) => l.endsWith(' ' + ref));
      return line ? line.slice(0, 7) : undefined;
    }
  } catch {
    return undefined;
  }
}

let cached: EngineInfo | undefined;

export function engineInfo(): EngineInfo {
  if (cached) return cached;
  const root = findPackageRoot(__dirname);
  let version = '0.0.0-dev';
  if (root) {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: unknown };
    if (typeof pkg.version === 'string') version = pkg.version;
  }
  cached = {
    version,
    gitCommit: (root && readGitCommit(root)) || 'unknown',
    buildTime: fs.statSync(__filename).mtime,
  };
  return cached;
}
