// copyTreeAt (copy-up of image content into a volume): entries keep type, mode, owner, times and
// hard links, links are copied and never followed, and a destination a racer already filled with a
// link to the host is refused rather than written through. Also which /tmp/berth-mnt-* mounts
// of earlier versions a start takes for its own.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { legacyTempMounts, parseMountInfo } from '../../runtime/mount';
import { copyTreeAt } from '../../runtime/safe-copy';
import { lGetXattr, lSetXattr } from '../../runtime/safe-fs';

const openDir = (p: string): number => fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);

describe('copyTreeAt', () => {
  let top: string;
  let src: string;
  let canary: string;
  let xattrs = false;

  before(() => {
    top = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-safecopy-'));
    src = path.join(top, 'src');
    canary = path.join(top, 'canary');
    fs.mkdirSync(canary);
    fs.writeFileSync(path.join(canary, 'secret'), 'host secret');
    fs.mkdirSync(path.join(src, 'sub', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(src, 'sub', 'deep', 'f'), 'deep file');
    fs.writeFileSync(path.join(src, 'suid'), 'x', { mode: 0o755 });
    fs.chownSync(path.join(src, 'suid'), 1234, 5678);
    fs.chmodSync(path.join(src, 'suid'), 0o4755);
    fs.linkSync(path.join(src, 'suid'), path.join(src, 'sub', 'hard'));
    fs.symlinkSync(canary, path.join(src, 'abs'));
    fs.symlinkSync('../../canary', path.join(src, 'rel'));
    execFileSync('mkfifo', [path.join(src, 'fifo')]);
    fs.chmodSync(path.join(src, 'sub'), 0o750);
    fs.utimesSync(path.join(src, 'sub', 'deep', 'f'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));
    try {
      lSetXattr(path.join(src, 'sub', 'deep', 'f'), 'user.berth', Buffer.from('xattr value'));
      xattrs = true;
    } catch {
      xattrs = false; // the test fs has no user xattrs
    }
    // A name that is not UTF-8.
    fs.writeFileSync(Buffer.concat([Buffer.from(`${src}/`), Buffer.from([0xff, 0x41])]), 'latin');
  });

  after(() => fs.rmSync(top, { recursive: true, force: true }));

  test('copies types, modes, owners, times and hard links; links stay links', async () => {
    const dst = fs.mkdtempSync(path.join(top, 'dst-'));
    const s = openDir(src);
    const d = openDir(dst);
    try {
      await copyTreeAt(s, d);
    } finally {
      fs.closeSync(s);
      fs.closeSync(d);
    }
    assert.equal(fs.readFileSync(path.join(dst, 'sub', 'deep', 'f'), 'utf8'), 'deep file');
    assert.equal(fs.statSync(path.join(dst, 'sub', 'deep', 'f')).mtime.toISOString(), '2020-01-02T03:04:05.000Z');
    if (xattrs) assert.equal(lGetXattr(path.join(dst, 'sub', 'deep', 'f'), 'user.berth').toString(), 'xattr value');
    const suid = fs.statSync(path.join(dst, 'suid'));
    assert.equal(suid.mode & 0o7777, 0o4755);
    assert.deepEqual([suid.uid, suid.gid], [1234, 5678]);
    assert.equal(fs.statSync(path.join(dst, 'sub', 'hard')).ino, suid.ino);
    assert.equal(fs.statSync(path.join(dst, 'sub')).mode & 0o7777, 0o750);
    assert.equal(fs.readlinkSync(path.join(dst, 'abs')), canary);
    assert.equal(fs.readlinkSync(path.join(dst, 'rel')), '../../canary');
    assert.ok(fs.lstatSync(path.join(dst, 'fifo')).isFIFO());
    assert.equal(fs.readFileSync(Buffer.concat([Buffer.from(`${dst}/`), Buffer.from([0xff, 0x41])]), 'utf8'), 'latin');
    assert.equal(fs.readFileSync(path.join(canary, 'secret'), 'utf8'), 'host secret');
    assert.deepEqual(fs.readdirSync(canary), ['secret']);
  });

  test('a link a racer put in the destination is never written through', async () => {
    const dst = fs.mkdtempSync(path.join(top, 'dst-'));
    fs.symlinkSync(canary, path.join(dst, 'sub'));
    fs.symlinkSync(path.join(canary, 'secret'), path.join(dst, 'suid'));
    const s = openDir(src);
    const d = openDir(dst);
    try {
      await assert.rejects(copyTreeAt(s, d));
    } finally {
      fs.closeSync(s);
      fs.closeSync(d);
    }
    assert.deepEqual(fs.readdirSync(canary), ['secret']);
    assert.equal(fs.readFileSync(path.join(canary, 'secret'), 'utf8'), 'host secret');
    assert.equal(fs.statSync(path.join(canary, 'secret')).mode & 0o7000, 0);
  });
});

describe('legacyTempMounts', () => {
  const info = [
    '100 26 0:50 / /tmp/berth-mnt-aaa ro,relatime - overlay overlay ro,lowerdir=/var/lib/berth/containerd/s/2/fs:/var/lib/berth/containerd/s/1/fs',
    '101 26 0:51 / /tmp/berth-mnt-bbb ro,relatime - overlay overlay ro,lowerdir=/other/root/containerd/s/2/fs:/other/root/s/1/fs',
    '102 26 8:1 /var/lib/berth/x /tmp/berth-mnt-ccc ro,relatime - ext4 /dev/sda1 rw',
    '103 26 0:52 / /tmp/berth-mnt-ddd/nested rw - overlay overlay rw,lowerdir=/var/lib/berth/a,upperdir=/var/lib/berth/b',
    '104 26 0:53 / /tmp/berth-mnt-eee rw - overlay overlay rw,lowerdir=/var/lib/berth-other/a',
    '',
  ].join('\n');

  test('takes only overlays of layers in this data root', () => {
    assert.deepEqual(legacyTempMounts('/var/lib/berth', parseMountInfo(info), '/tmp'), ['/tmp/berth-mnt-aaa']);
    assert.deepEqual(legacyTempMounts('/var/lib/berth/', parseMountInfo(info), '/tmp'), ['/tmp/berth-mnt-aaa']);
  });

  test('parses escaped mount points', () => {
    const [m] = parseMountInfo('1 2 0:1 / /tmp/a\\040b rw - tmpfs tmpfs rw\n');
    assert.equal(m.mountPoint, '/tmp/a b');
    assert.equal(m.fsType, 'tmpfs');
  });
});
