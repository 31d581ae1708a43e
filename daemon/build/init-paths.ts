// dockerd keeps what every container gets (the mount points of /etc/hosts, /etc/hostname,
// /etc/resolv.conf, /proc, /sys, /dev...) in an init layer that no commit includes. Berth's
// containers get them from runc in their own layer, so a RUN step on an image without them would
// commit empty mount-point files. Before a RUN starts, the builder notes which of these paths the
// image lacks; after it, those the run left as empty files or directories are removed again.
import * as path from 'node:path';
import * as sfs from '../../runtime/safe-fs';
import { lstatInRoot, withRootFd, type ContainerRoot } from '../containers/rootfs-path';

const INIT_PATHS = [
  '/etc/hosts',
  '/etc/hostname',
  '/etc/resolv.conf',
  '/etc/mtab',
  '/.dockerenv',
  '/dev/pts',
  '/dev/shm',
  '/dev/console',
  '/dev',
  '/proc',
  '/sys',
  '/etc',
];

/** The init paths the root does not have. */
export function missingInitPaths(r: ContainerRoot): string[] {
  return withRootFd(r, (fd) => INIT_PATHS.filter((p) => lstatInRoot(fd, p) === undefined));
}

/** Removes the paths in `missing` that are now empty files or empty directories. */
export function removeInitPaths(r: ContainerRoot, missing: readonly string[]): void {
  withRootFd(r, (rootFd) => {
    for (const p of missing) {
      const st = lstatInRoot(rootFd, p);
      if (st === undefined) continue;
      const isDir = sfs.isDirectory(st);
      if (!isDir && !(sfs.isRegular(st) && st.size === 0)) continue;
      try {
        sfs.withFd(sfs.openInRoot(rootFd, path.posix.dirname(p), sfs.constants.O_PATH | sfs.constants.O_DIRECTORY), (dfd) =>
          sfs.unlinkAt(dfd, path.posix.basename(p), isDir),
        );
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // A directory the run filled stays, as it would in dockerd's layer.
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw err;
      }
    }
  });
}
