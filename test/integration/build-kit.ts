// What the build tests share: a context directory from a map of files, and `docker build` through
// the classic builder (DOCKER_BUILDKIT=0: CLI 28 without the buildx plugin takes POST /build only so).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Berth, RunResult } from './harness';

let n = 0;

/** A new context directory under `root` holding these files (relative names; directories made). */
export function buildContext(root: string, files: Record<string, string>): string {
  const dir = path.join(root, `ctx-${process.pid}-${++n}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), data);
  }
  return dir;
}

/** `docker build [args] dir` with the classic builder. */
export function classicBuild(b: Berth, dir: string, args: string[] = []): Promise<RunResult> {
  return b.docker(['build', ...args, dir], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 180_000 });
}
