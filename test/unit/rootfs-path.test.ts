// The scoped path resolver and the scoped untar: links, `..` and hostile archives never leave a
// container root (a temp dir here); a canary beside it proves nothing outside is read or written.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import * as tar from 'tar-stream';
import { goFileMode, untarInScope } from '../../daemon/containers/archive';
import { upperChanges } from '../../daemon/containers/changes';
import { followInScope, goBase, lstatResolved, resolvePath, type ContainerRoot } from '../../daemon/containers/rootfs-path';
import * as sfs from '../../runtime/safe-fs';

async function makeTar(entries: Array<{ name: string; type?: tar.Header['type']; linkname?: string; data?: string }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        { name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.type === 'directory' ? 0o755 : 0o644 },
        e.data ?? '',
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('scoped paths', () => {
  let top: string;
  let root: string;
  let canary: string;
  let r: ContainerRoot;

  before(() => {
    top = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-scope-'));
    root = path.join(top, 'root');
    canary = path.join(top, 'canary');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.mkdirSync(canary);
    fs.writeFileSync(path.join(canary, 'secret'), 'host secret');
    fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    fs.symlinkSync('/', path.join(root, 'data'));
    fs.symlinkSync('../../../../../../../..', path.join(root, 'up'));
    fs.symlinkSync(canary, path.join(root, 'abs'));
    fs.symlinkSync('loop2', path.join(root, 'loop1'));
    fs.symlinkSync('loop1', path.join(root, 'loop2'));
    r = { root, mounts: new Map([['/etc/hosts', path.join(top, 'hosts-src')]]) };
    fs.writeFileSync(path.join(top, 'hosts-src'), '127.0.0.1 localhost\n');
  });
  after(() => fs.rmSync(top, { recursive: true, force: true }));

  test('links and .. resolve inside the root', () => {
    assert.equal(followInScope(r, '/data/etc/passwd'), '/etc/passwd');
    assert.equal(followInScope(r, '/up/etc'), '/etc');
    assert.equal(followInScope(r, `/up${canary}/secret`), `${canary}/secret`);
    assert.equal(followInScope(r, '/abs/secret'), `${canary}/secret`);
    assert.equal(followInScope(r, '../../../etc/../..'), '/');
    assert.throws(() => followInScope(r, '/loop1/x'), /too many links/);
    // The resolved container path exists nowhere on the host's side of the root.
    assert.ok(!fs.existsSync(path.join(root, canary, 'secret')));
  });

  test('resolvePath keeps the last element unless a slash follows', () => {
    const link = resolvePath(r, '/data');
    assert.equal(link.containerPath, '/data');
    assert.ok(sfs.isSymlink(lstatResolved(r, link)));
    const dir = resolvePath(r, '/data/');
    assert.equal(dir.containerPath, '/');
    assert.equal(dir.absPath, '/data/');
    assert.throws(() => lstatResolved(r, resolvePath(r, '/etc/passwd/')), /ENOTDIR/);
    const dot = resolvePath(r, 'etc/.');
    assert.equal(dot.absPath, '/etc/.');
    assert.equal(dot.containerPath, '/etc');
    assert.ok(dot.mustBeDir);
    // A bind-mounted file is described by its source.
    assert.equal(lstatResolved(r, resolvePath(r, '/etc/hosts')).size, fs.statSync(path.join(top, 'hosts-src')).size);
    assert.equal(goBase('/etc/'), 'etc');
    assert.equal(goBase('/'), '/');
    assert.equal(goBase('/etc/.'), '.');
  });

  test('Go FileMode bits', () => {
    assert.equal(goFileMode(fs.lstatSync(path.join(root, 'etc'))), 2 ** 31 + 0o755);
    assert.equal(goFileMode(fs.lstatSync(path.join(root, 'data'))), 2 ** 27 + 0o777);
    assert.equal(goFileMode(fs.lstatSync('/dev/null')), 2 ** 26 + 2 ** 21 + 0o666);
  });

  test('hostile archives stay inside the root', async () => {
    const untar = async (dest: string, entries: Parameters<typeof makeTar>[0]): Promise<void> =>
      untarInScope(r, dest, Readable.from([await makeTar(entries)]), { noOverwriteDirNonDir: false });
    await assert.rejects(untar('/etc', [{ name: '../../../x', data: 'x' }]), /is outside of/);
    await assert.rejects(untar('/etc', [{ name: 'l', type: 'symlink', linkname: '../../..' }]), /invalid symlink/);
    await assert.rejects(untar('/etc', [{ name: 'h', type: 'link', linkname: `../..${canary}/secret` }]), /invalid hardlink/);
    // Through links planted in the root or in the same archive: written inside.
    await untar('/', [{ name: `abs/written`, data: 'in root' }]);
    await untar('/', [
      { name: 'data2', type: 'symlink', linkname: '/' },
      { name: `data2${canary}/via-archive-link`, data: 'in root' },
    ]);
    await untar('/up', [{ name: 'via-up', data: 'in root' }]);
    await untar('/', [{ name: `${canary}/abs-name`, data: 'in root' }]);
    assert.deepEqual(fs.readdirSync(canary), ['secret']);
    assert.equal(fs.readFileSync(path.join(canary, 'secret'), 'utf8'), 'host secret');
    assert.equal(fs.readFileSync(path.join(root, canary, 'written'), 'utf8'), 'in root');
    assert.equal(fs.readFileSync(path.join(root, canary, 'via-archive-link'), 'utf8'), 'in root');
    assert.equal(fs.readFileSync(path.join(root, 'via-up'), 'utf8'), 'in root');
    // A bind-mounted file is written through to its source.
    await untar('/etc', [{ name: 'hosts', data: '10.0.0.1 other\n' }]);
    assert.equal(fs.readFileSync(path.join(top, 'hosts-src'), 'utf8'), '10.0.0.1 other\n');
    // Its source is never replaced by a link or a dir.
    await assert.rejects(untar('/etc', [{ name: 'hosts', type: 'symlink', linkname: '/etc/shadow' }]), /device or resource busy/);
    await assert.rejects(untar('/etc', [{ name: 'hosts', type: 'directory' }]), /device or resource busy/);
    assert.ok(fs.lstatSync(path.join(top, 'hosts-src')).isFile());
    // A file entry over an existing link replaces the link, never writes through it.
    await untar('/', [{ name: 'abs', data: 'replaced link' }]);
    assert.ok(fs.lstatSync(path.join(root, 'abs')).isFile());
    assert.equal(fs.readFileSync(path.join(canary, 'secret'), 'utf8'), 'host secret');
  });
});

describe('upper-layer changes', () => {
  test('added, modified, deleted, opaque dirs and init paths', () => {
    const top = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-changes-'));
    try {
      const lower = path.join(top, 'lower');
      const upper = path.join(top, 'upper');
      const merged = path.join(top, 'merged');
      for (const d of ['etc', 'opt/old', 'var/lib']) fs.mkdirSync(path.join(lower, d), { recursive: true });
      fs.writeFileSync(path.join(lower, 'etc/passwd'), 'a');
      fs.writeFileSync(path.join(lower, 'etc/group'), 'a');
      fs.writeFileSync(path.join(lower, 'opt/old/f'), 'a');
      for (const d of ['etc', 'opt', 'new/dir', 'proc']) fs.mkdirSync(path.join(upper, d), { recursive: true });
      fs.writeFileSync(path.join(upper, 'etc/passwd'), 'b');
      fs.writeFileSync(path.join(upper, 'etc/hosts'), '');
      fs.writeFileSync(path.join(upper, 'new/dir/f'), 'n');
      execFileSync('mknod', [path.join(upper, 'etc/group'), 'c', '0', '0']);
      // The merged view of an opaque /opt: lower's /opt/old is hidden.
      fs.mkdirSync(path.join(merged, 'opt'), { recursive: true });
      const changes = upperChanges(upper, lower, merged);
      assert.deepEqual(changes, [
        { Path: '/etc', Kind: 0 },
        { Path: '/etc/group', Kind: 2 },
        { Path: '/etc/passwd', Kind: 0 },
        { Path: '/new', Kind: 1 },
        { Path: '/new/dir', Kind: 1 },
        { Path: '/new/dir/f', Kind: 1 },
        { Path: '/opt', Kind: 0 },
        { Path: '/opt/old', Kind: 2 },
      ]);
    } finally {
      fs.rmSync(top, { recursive: true, force: true });
    }
  });
});
