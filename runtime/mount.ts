// Mounting snapshots on the host with mount(8): containerd hands out mount lists, and the daemon
// needs to look into a container's filesystem when no task holds it mounted.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SystemError } from '../daemon/errors';
import type { Mount } from './gen/github.com/containerd/containerd/api/types/mount';

const run = promisify(execFile);

async function mountCmd(args: string[]): Promise<void> {
  try {
    await run('mount', args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new SystemError(`mount failed: ${stderr.trim() || (err as Error).message}`);
  }
}

export interface TempMount {
  path: string;
  release(): Promise<void>;
}

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'berth-mnt-'));
}

async function releaser(dir: string, mounted: boolean): Promise<void> {
  if (mounted) await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
  await fs.rmdir(dir).catch(() => undefined);
}

/**
 * Mounts layer dirs (top first) as one read-only merged view: overlayfs with lowerdirs only, so
 * whiteouts and opaque dirs apply and nothing can be written. One dir is bound read-only.
 */
export async function mountReadOnlyLayers(layers: readonly string[]): Promise<TempMount> {
  if (layers.length === 0) throw new SystemError('no layers to mount');
  const dir = await tempDir();
  try {
    if (layers.length === 1) {
      await mountCmd(['--bind', layers[0], dir]);
      await mountCmd(['-o', 'remount,bind,ro', dir]);
    } else {
      await mountCmd(['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${layers.join(':')}`, dir]);
    }
  } catch (err) {
    await releaser(dir, layers.length === 1).catch(() => undefined);
    throw err;
  }
  return { path: dir, release: () => releaser(dir, true) };
}

/** Mounts a snapshot's mount list (read-write, as containerd describes it) on a temp dir. */
export async function mountSnapshot(mounts: readonly Mount[]): Promise<TempMount> {
  const m = mounts[0];
  if (!m || mounts.length !== 1) throw new SystemError('unexpected snapshot mounts');
  const dir = await tempDir();
  try {
    const opts = (m.options ?? []).join(',');
    if (m.type === 'bind') await mountCmd(['-o', opts, m.source ?? '', dir]);
    else await mountCmd(['-t', m.type ?? 'overlay', m.source ?? 'none', '-o', opts, dir]);
  } catch (err) {
    await fs.rmdir(dir).catch(() => undefined);
    throw err;
  }
  return { path: dir, release: () => releaser(dir, true) };
}
