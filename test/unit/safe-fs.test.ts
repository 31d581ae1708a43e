// The native path-safety addon: lookups in a temp root stay there whatever links it holds (`..`,
// absolute links, magic /proc links), *at calls never walk, and small-file reads refuse FIFOs,
// devices and big files without blocking. A canary beside the root proves nothing outside is hit.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import * as sfs from '../../runtime/safe-fs';

describe('safe-fs addon', () => {
  let top: string;
  let root: string;
  let canary: string;
  let rootFd: number;

  before(() => {
    top = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-safefs-'));
    root = path.join(top, 'root');
    canary = path.join(top, 'canary');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.mkdirSync(canary);
    fs.writeFileSync(path.join(canary, 'secret'), 'host secret');
    fs.writeFileSync(path.join(root, 'etc', 'secret'), 'inside');
    fs.symlinkSync('../../../canary', path.join(root, 'up'));
    fs.symlinkSync(canary, path.join(root, 'abs'));
    fs.symlinkSync('/proc/self/root' + canary, path.join(root, 'magic'));
    fs.symlinkSync('/proc/self/fd', path.join(root, 'fds'));
    fs.symlinkSync('/etc/secret', path.join(root, 'link'));
    rootFd = sfs.openRoot(root);
  });

  after(() => {
    sfs.closeFd(rootFd);
    fs.rmSync(top, { recursive: true, force: true });
  });

  const readIn = (rel: string): string => sfs.readSmallFile(rootFd, rel).toString('utf8');

  test('links and .. resolve inside the root', () => {
    assert.equal(readIn('link'), 'inside');
    assert.equal(readIn('../../../etc/secret'), 'inside');
    assert.throws(() => readIn('up/secret'), { code: 'ENOENT' });
    assert.throws(() => readIn('abs/secret'), { code: 'ENOENT' });
    fs.mkdirSync(path.join(root, top, 'canary'), { recursive: true });
    fs.writeFileSync(path.join(root, top, 'canary', 'secret'), 'decoy');
    assert.equal(readIn('abs/secret'), 'decoy');
    fs.rmSync(path.join(root, top.split('/')[1]), { recursive: true });
  });

  test('magic links are refused', () => {
    fs.mkdirSync(path.join(root, 'proc'), { recursive: true });
    const real = sfs.openBeneath(rootFd, 'etc', sfs.constants.O_PATH);
    sfs.closeFd(real);
    // Inside the root there is no /proc: the absolute link stays inside and finds nothing.
    assert.throws(() => readIn('magic/secret'), { code: 'ENOENT' });
    // A /proc bound in (as a live rootfs never has, but an image mount might) is no way out.
    execFileSync('mount', ['-t', 'proc', 'proc', path.join(root, 'proc')]);
    try {
      assert.throws(() => readIn(`proc/self/root${canary}/secret`), { code: 'ELOOP' });
      assert.throws(
        () => readIn(`fds/${rootFd}/../canary/secret`),
        (err: NodeJS.ErrnoException) => err.code === 'ELOOP' || err.code === 'ENOENT',
      );
    } finally {
      execFileSync('umount', [path.join(root, 'proc')]);
    }
  });

  test('openBeneath fails with EXDEV on escape', () => {
    assert.throws(() => sfs.openBeneath(rootFd, 'up/secret', sfs.constants.O_RDONLY), { code: 'EXDEV' });
    assert.throws(() => sfs.openBeneath(rootFd, 'abs/secret', sfs.constants.O_RDONLY), { code: 'EXDEV' });
    assert.throws(() => sfs.openBeneath(rootFd, '../canary/secret', sfs.constants.O_RDONLY), { code: 'EXDEV' });
    const fd = sfs.openBeneath(rootFd, 'etc/secret', sfs.constants.O_RDONLY);
    sfs.closeFd(fd);
  });

  test('*at calls take one component only, and never follow the last', () => {
    assert.throws(() => sfs.mkdirAt(rootFd, 'up/x', 0o755), { code: 'EINVAL' });
    assert.throws(() => sfs.unlinkAt(rootFd, '..', true), { code: 'EINVAL' });
    // chmod/chown/utimes of a link's name change the link, not the host file it points at.
    const before = fs.statSync(path.join(canary, 'secret'));
    fs.symlinkSync(path.join(canary, 'secret'), path.join(root, 'hostfile'));
    assert.throws(() => sfs.fchmodAt(rootFd, 'hostfile', 0o777, true), { code: 'EOPNOTSUPP' });
    sfs.fchownAt(rootFd, 'hostfile', 1234, 1234, true);
    sfs.utimensAt(rootFd, 'hostfile', 0n, 0n, true);
    const afterSt = fs.statSync(path.join(canary, 'secret'));
    assert.equal(afterSt.mode, before.mode);
    assert.equal(afterSt.uid, before.uid);
    assert.equal(afterSt.mtimeMs, before.mtimeMs);
    assert.equal(fs.lstatSync(path.join(root, 'hostfile')).uid, 1234);
    sfs.unlinkAt(rootFd, 'hostfile', false);
    assert.equal(fs.existsSync(path.join(root, 'hostfile')), false);
  });

  test('create, link, rename, list, stat by fd', () => {
    const dfd = sfs.openInRoot(rootFd, 'etc', sfs.constants.O_PATH | sfs.constants.O_DIRECTORY);
    try {
      sfs.mkdirAt(dfd, 'd', 0o700);
      sfs.symlinkAt('/nowhere', dfd, 'l');
      assert.equal(sfs.readlinkAt(dfd, 'l'), '/nowhere');
      const f = sfs.openBeneath(dfd, 'f', sfs.constants.O_WRONLY | sfs.constants.O_CREAT | sfs.constants.O_EXCL, 0o600);
      fs.writeSync(f, 'data');
      sfs.fchmod(f, 0o640);
      sfs.futimens(f, 1_000_000_000_000_000_000n, 1_500_000_000_123_456_789n);
      sfs.closeFd(f);
      const st = sfs.fstatAt(dfd, 'f', true);
      assert.equal(st.mode & 0o7777, 0o640);
      assert.equal(st.mtimeNs, 1_500_000_000_123_456_789n);
      assert.equal(st.size, 4);
      sfs.linkAt(dfd, 'f', dfd, 'g');
      assert.equal(sfs.fstatAt(dfd, 'g', true).nlink, 2);
      sfs.renameAt(dfd, 'g', dfd, 'h');
      sfs.mknodAt(dfd, 'p', 0o010644, 0);
      const names = sfs.listDir(dfd).sort();
      assert.deepEqual(names, ['d', 'f', 'h', 'l', 'p', 'secret']);
      const raw = Buffer.from([0x66, 0xff, 0x66]);
      sfs.mkdirAt(dfd, raw, 0o755);
      assert.ok(sfs.listDirRaw(dfd).some((b) => b.equals(raw)));
      sfs.unlinkAt(dfd, raw, true);
      for (const n of ['d']) sfs.unlinkAt(dfd, n, true);
      for (const n of ['f', 'h', 'l', 'p']) sfs.unlinkAt(dfd, n, false);
    } finally {
      sfs.closeFd(dfd);
    }
    assert.throws(
      () => sfs.fstatAt(rootFd, 'nothing', true),
      (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && err.errno === -2,
    );
  });

  test('readSmallFile: FIFO, device, oversize fail fast', () => {
    fs.mkdirSync(path.join(root, 'dev'), { recursive: true });
    execFileSync('mkfifo', [path.join(root, 'etc', 'fifo')]);
    execFileSync('mknod', [path.join(root, 'dev', 'zero'), 'c', '1', '5']);
    fs.symlinkSync('/dev/zero', path.join(root, 'etc', 'zero'));
    fs.writeFileSync(path.join(root, 'etc', 'big'), Buffer.alloc(2048));
    assert.throws(() => sfs.readSmallFile(rootFd, 'etc/fifo'), { code: 'EINVAL' });
    assert.throws(() => sfs.readSmallFile(rootFd, 'etc/zero'), { code: 'EINVAL' });
    assert.throws(() => sfs.readSmallFile(rootFd, 'etc/big', 1024), { code: 'EFBIG' });
    assert.equal(sfs.readSmallFile(rootFd, 'etc/big', 4096).length, 2048);
  });

  test('mount helpers bind and remount read-only', () => {
    const target = path.join(top, 'mnt');
    fs.mkdirSync(target);
    const fd = sfs.openInRoot(rootFd, 'etc', sfs.constants.O_PATH | sfs.constants.O_DIRECTORY);
    try {
      sfs.mountBind(`/proc/self/fd/${fd}`, target, { recursive: false });
      try {
        sfs.remountBind(target, sfs.constants.MS_RDONLY | sfs.constants.MS_NOSUID | sfs.constants.MS_NODEV | sfs.constants.MS_NOEXEC);
        assert.equal(fs.readFileSync(path.join(target, 'secret'), 'utf8'), 'inside');
        assert.throws(() => fs.writeFileSync(path.join(target, 'x'), ''), { code: 'EROFS' });
      } finally {
        sfs.umount2(target, sfs.constants.MNT_DETACH);
      }
    } finally {
      sfs.closeFd(fd);
    }
    assert.throws(() => sfs.umount2(target, 0), { code: 'EINVAL' });
  });
});
