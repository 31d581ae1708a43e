// What docker cp and the archive API refuse, as dockerd does: missing paths, bad tars, read-only
// targets, replacing a dir by a file, hostile archives that would write outside the container
// (host canaries stay untouched), and the mounts made inside a running container.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { assertCanaryUntouched, b, canaryDir, docker, host, makeTar, ok, raw, readTar, useFilesBerth } from './files-kit';

describe('container files: refusals', { timeout: 300_000 }, () => {
  useFilesBerth();

  test("a missing path is a 404 with dockerd's message", async () => {
    const r = await docker(['cp', 'live:/nope', path.join(host, 'x')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Could not find the file \/nope in container live/);
    const fileAsDir = await raw(b, 'GET', '/containers/live/archive?path=/etc/passwd/');
    assert.equal(fileAsDir.status, 404);
    const head = await raw(b, 'HEAD', '/containers/live/archive?path=/nope');
    assert.equal(head.status, 404);
    const put = await raw(b, 'PUT', '/containers/live/archive?path=/nope', await makeTar([{ name: 'f', data: 'x' }]));
    assert.equal(put.status, 404);
    assert.match(put.body.toString(), /Could not find the file \/nope in container live/);
  });

  test("a name too long for the kernel is dockerd's 500 from lstat, for GET, HEAD, PUT and docker cp", async () => {
    // Checked on dockerd 20.10: `lstat <its host path>: file name too long`, 500, at any length
    // past NAME_MAX in one component (the fuzzer found these were "internal error" 500s here).
    for (const p of [`/tmp/${'x'.repeat(300)}`, 'y'.repeat(5000), `/${'z/'.repeat(3000)}`]) {
      for (const method of ['GET', 'HEAD', 'PUT']) {
        const body = method === 'PUT' ? await makeTar([{ name: 'f', data: 'x' }]) : undefined;
        const r = await raw(b, method, `/containers/live/archive?path=${encodeURIComponent(p)}`, body);
        assert.equal(r.status, 500, `${method} ${p.length}: ${r.body.toString()}`);
        if (method !== 'HEAD') assert.match(r.body.toString(), /^\{"message":"lstat \/.*: file name too long"\}/);
      }
    }
    const cp = await docker(['cp', `live:/tmp/${'x'.repeat(300)}`, path.join(host, 'long')]);
    assert.notEqual(cp.code, 0);
    assert.match(cp.stderr, /file name too long/);
  });

  test('a NUL byte in the path is a 400, for GET, HEAD and PUT (the fuzzer found a 500)', async () => {
    for (const method of ['GET', 'HEAD', 'PUT']) {
      const body = method === 'PUT' ? await makeTar([{ name: 'f', data: 'x' }]) : undefined;
      const r = await raw(b, method, '/containers/live/archive?path=a%00b', body);
      assert.equal(r.status, 400, `${method}: ${r.body.toString()}`);
      if (method !== 'HEAD') assert.match(r.body.toString(), /invalid argument/);
    }
  });

  test('a bad tar upload is a 400', async () => {
    const r = await raw(b, 'PUT', '/containers/live/archive?path=/tmp', Buffer.from('this is not a tar archive at all'.repeat(40)));
    assert.equal(r.status, 400, r.body.toString());
    assert.match(r.body.toString(), /Error processing tar file\(exit status 1\): archive\/tar: invalid tar header/);
  });

  test('a read-only rootfs and a non-dir target refuse uploads as dockerd does', async () => {
    await ok(['create', '--read-only', '--name', 'rofs', 'busybox']);
    fs.writeFileSync(path.join(host, 'ro.txt'), 'x');
    const r = await docker(['cp', path.join(host, 'ro.txt'), 'rofs:/tmp/']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /container rootfs is marked read-only/);
    const notDir = await raw(b, 'PUT', '/containers/live/archive?path=/etc/passwd', await makeTar([{ name: 'f', data: 'x' }]));
    assert.equal(notDir.status, 500);
    assert.match(notDir.body.toString(), /extraction point is not a directory/);
    await ok(['rm', 'rofs']);
  });

  test('noOverwriteDirNonDir refuses to replace a dir by a file', async () => {
    const r = await raw(b, 'PUT', '/containers/live/archive?path=/&noOverwriteDirNonDir=true', await makeTar([{ name: 'tmp', data: 'x' }]));
    assert.equal(r.status, 400, r.body.toString());
    assert.match(
      (JSON.parse(r.body.toString()) as { message: string }).message,
      /cannot overwrite directory "\/tmp" with non-directory "\/"/,
    );
    const r2 = await raw(
      b,
      'PUT',
      '/containers/live/archive?path=/&noOverwriteDirNonDir=true',
      await makeTar([{ name: 'etc/passwd', type: 'directory' }]),
    );
    assert.equal(r2.status, 400, r2.body.toString());
    assert.match(
      (JSON.parse(r2.body.toString()) as { message: string }).message,
      /cannot overwrite non-directory "\/etc\/passwd" with directory "\/"/,
    );
    // Without the flag, the file replaces the dir.
    const r3 = await raw(
      b,
      'PUT',
      '/containers/live/archive?path=/tmp',
      await makeTar([
        { name: 'dir-to-file', type: 'directory' },
        { name: 'dir-to-file/x', data: 'x' },
      ]),
    );
    assert.equal(r3.status, 200);
    const r4 = await raw(b, 'PUT', '/containers/live/archive?path=/tmp', await makeTar([{ name: 'dir-to-file', data: 'now a file' }]));
    assert.equal(r4.status, 200);
    assert.equal(
      (await readTar((await raw(b, 'GET', '/containers/live/archive?path=/tmp/dir-to-file')).body)).get('dir-to-file')?.data,
      'now a file',
    );
  });

  test('hostile archives cannot write outside the container', async () => {
    const canaryRel = canaryDir.slice(1);
    // `..` out of the extraction dir is refused (moby's breakout check)...
    const breakout = await raw(
      b,
      'PUT',
      '/containers/live/archive?path=/etc',
      await makeTar([{ name: `../../../../../..${canaryDir}/escape`, data: 'pwned' }]),
    );
    assert.equal(breakout.status, 400, breakout.body.toString());
    assert.match(breakout.body.toString(), /is outside of/);
    // ...and `..` that stays below it (clamped at the root, as filepath.Join does) is confined.
    const clamped = await raw(
      b,
      'PUT',
      '/containers/live/archive?path=/tmp',
      await makeTar([{ name: `../../../../../..${canaryDir}/escape`, data: 'confined' }]),
    );
    assert.equal(clamped.status, 200, clamped.body.toString());
    const clampedBack = await readTar((await raw(b, 'GET', `/containers/live/archive?path=${canaryDir}/escape`)).body);
    assert.equal(clampedBack.get('escape')?.data, 'confined');
    // An absolute name is taken below the extraction dir.
    const abs = await raw(b, 'PUT', '/containers/live/archive?path=/tmp', await makeTar([{ name: `${canaryDir}/abs`, data: 'confined' }]));
    assert.equal(abs.status, 200, abs.body.toString());
    const absBack = await readTar((await raw(b, 'GET', `/containers/live/archive?path=/tmp${canaryDir}/abs`)).body);
    assert.equal(absBack.get('abs')?.data, 'confined');
    // A link to / followed by a file under it: the link is the container's /, not the host's.
    const viaLink = await raw(
      b,
      'PUT',
      '/containers/live/archive?path=/tmp',
      await makeTar([
        { name: 'root', type: 'symlink', linkname: '/' },
        { name: `root/${canaryRel}/pwned`, data: 'pwned' },
      ]),
    );
    assert.equal(viaLink.status, 200, viaLink.body.toString());
    const inside = await readTar((await raw(b, 'GET', `/containers/live/archive?path=${canaryDir}/pwned`)).body);
    assert.equal(inside.get('pwned')?.data, 'pwned');
    // Relative links and hard links that leave the extraction dir are refused.
    const relLink = await raw(
      b,
      'PUT',
      '/containers/live/archive?path=/etc',
      await makeTar([{ name: 'up', type: 'symlink', linkname: `../../../../..${canaryDir}` }]),
    );
    assert.equal(relLink.status, 400, relLink.body.toString());
    const hard = await raw(
      b,
      'PUT',
      '/containers/live/archive?path=/etc',
      await makeTar([{ name: 'hl', type: 'link', linkname: `../../../../..${canaryDir}/canary.txt` }]),
    );
    assert.equal(hard.status, 400, hard.body.toString());
    // A hard link to a file inside works, and to the container's file.
    const hardIn = await raw(
      b,
      'PUT',
      '/containers/live/archive?path=/tmp',
      await makeTar([{ name: 'pw', type: 'link', linkname: `../etc/passwd` }]),
    );
    assert.equal(hardIn.status, 400, 'a hard link out of the extraction dir is refused even inside the container');
    const hardOk = await raw(
      b,
      'PUT',
      '/containers/live/archive?path=/tmp',
      await makeTar([
        { name: 'orig', data: 'same inode' },
        { name: 'copy', type: 'link', linkname: 'orig' },
      ]),
    );
    assert.equal(hardOk.status, 200, hardOk.body.toString());
    const hardBack = await readTar((await raw(b, 'GET', '/containers/live/archive?path=/tmp/copy')).body);
    assert.equal(hardBack.get('copy')?.data, 'same inode');
    assertCanaryUntouched();
  });

  test('the mounts made inside a running container are not reachable', async () => {
    const hostCore = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
    for (const p of ['/proc/sys/kernel/core_pattern', '/proc/1/environ', '/sys/kernel']) {
      const r = await raw(b, 'GET', `/containers/live/archive?path=${p}`);
      assert.equal(r.status, 404, `${p}: ${r.status}`);
    }
    const w = await raw(
      b,
      'PUT',
      '/containers/live/archive?path=/proc/sys/kernel',
      await makeTar([{ name: 'core_pattern', data: '|/tmp/pwned' }]),
    );
    assert.equal(w.status, 404);
    assert.equal(fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), hostCore);
    // /etc/hosts is the container's bind-mounted file, read and written through.
    const hosts = await readTar((await raw(b, 'GET', '/containers/live/archive?path=/etc/hosts')).body);
    assert.match(hosts.get('hosts')?.data ?? '', /localhost/);
  });
});
