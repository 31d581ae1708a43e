// Files inside containers through the real docker CLI (and the raw API where the CLI cannot say
// it): docker cp both ways on running and stopped containers, the stat header, hostile symlinks
// (nothing outside the container's root is read: host canaries stay untouched and unserved),
// docker export, docker diff and docker commit. What docker cp refuses is in files-refusals.test.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as tar from 'tar-stream';
import { assertCanaryUntouched, b, CANARY, canaryDir, docker, host, makeTar, ok, raw, readTar, useFilesBerth } from './files-kit';

describe('container files', { timeout: 300_000 }, () => {
  useFilesBerth({ setup: () => ok(['create', '--name', 'cold', 'busybox', 'cat', '/etc/motd']), remove: ['cold', 'dd', 'fromcommit'] });

  test('docker cp a file into a running container and back', async () => {
    fs.writeFileSync(path.join(host, 'hello.txt'), 'hello world\n');
    await ok(['cp', path.join(host, 'hello.txt'), 'live:/tmp/hello.txt']);
    const out = path.join(host, 'back.txt');
    await ok(['cp', 'live:/tmp/hello.txt', out]);
    assert.equal(fs.readFileSync(out, 'utf8'), 'hello world\n');
  });

  test('a large file streams both ways intact, also with concurrent uploads', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    fs.writeFileSync(path.join(host, 'big.bin'), big);
    await Promise.all([
      ok(['cp', path.join(host, 'big.bin'), 'cold:/tmp/big1.bin']),
      ok(['cp', path.join(host, 'big.bin'), 'cold:/tmp/big2.bin']),
      ok(['cp', path.join(host, 'big.bin'), 'live:/tmp/big.bin']),
    ]);
    for (const [c, f] of [
      ['cold', 'big1.bin'],
      ['cold', 'big2.bin'],
      ['live', 'big.bin'],
    ]) {
      const back = path.join(host, `back-${c}-${f}`);
      await ok(['cp', `${c}:/tmp/${f}`, back]);
      assert.ok(fs.readFileSync(back).equals(big), `${c}:${f} differs`);
    }
  });

  test("an aborted download releases the stopped container's mount", async () => {
    const mounts = (): number =>
      fs
        .readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.includes('/berth-mnt-')).length;
    const before = mounts();
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ socketPath: b.socket, method: 'GET', path: '/containers/cold/archive?path=/' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.end();
      setTimeout(() => reject(new Error('no data')), 10_000);
    });
    for (let i = 0; i < 50 && mounts() > before; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(mounts(), before);
  });

  test('the stat header describes the path in Go FileMode bits', async () => {
    const r = await raw(b, 'HEAD', '/containers/live/archive?path=/etc');
    assert.equal(r.status, 200);
    const stat = JSON.parse(Buffer.from(String(r.headers['x-docker-container-path-stat']), 'base64').toString()) as Record<string, unknown>;
    assert.equal(stat.name, 'etc');
    assert.equal(stat.mode, 2 ** 31 + 0o755);
    assert.equal(stat.linkTarget, '');
    assert.match(String(stat.mtime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  test('docker cp of directories: dir, dir/ and dir/.', async () => {
    const src = path.join(host, 'src');
    fs.mkdirSync(path.join(src, 'a'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a', 'b.txt'), 'bee\n');
    await ok(['cp', src, 'live:/tmp/d1']);
    const out1 = path.join(host, 'out1');
    await ok(['cp', 'live:/tmp/d1', out1]);
    assert.equal(fs.readFileSync(path.join(out1, 'a', 'b.txt'), 'utf8'), 'bee\n');
    // dir/. copies the content into an existing dir.
    const out2 = path.join(host, 'out2');
    fs.mkdirSync(out2);
    await ok(['cp', 'live:/tmp/d1/.', out2]);
    assert.equal(fs.readFileSync(path.join(out2, 'a', 'b.txt'), 'utf8'), 'bee\n');
    // dir into an existing dir lands below it.
    const out3 = path.join(host, 'out3');
    fs.mkdirSync(out3);
    await ok(['cp', 'live:/tmp/d1/', out3]);
    assert.equal(fs.readFileSync(path.join(out3, 'd1', 'a', 'b.txt'), 'utf8'), 'bee\n');
    // The archive's names follow the asked path.
    const asDir = await readTar((await raw(b, 'GET', '/containers/live/archive?path=/tmp/d1/')).body);
    assert.ok(asDir.has('d1/a/b.txt'), [...asDir.keys()].join(','));
    const asContent = await readTar((await raw(b, 'GET', '/containers/live/archive?path=/tmp/d1/.')).body);
    assert.ok(asContent.has('./a/b.txt'), [...asContent.keys()].join(','));
    const root = await readTar((await raw(b, 'GET', '/containers/live/archive?path=/')).body);
    assert.ok(root.has('/') && root.has('/bin/') && root.has('/tmp/d1/a/b.txt'), [...root.keys()].slice(0, 5).join(','));
  });

  test('docker cp into a stopped container, then the container sees it', async () => {
    fs.writeFileSync(path.join(host, 'motd'), 'welcome\n');
    await ok(['cp', path.join(host, 'motd'), 'cold:/etc/motd']);
    const out = await ok(['start', '-a', 'cold']);
    assert.equal(out, 'welcome\n');
    await ok(['cp', 'cold:/etc/motd', path.join(host, 'motd.back')]);
    assert.equal(fs.readFileSync(path.join(host, 'motd.back'), 'utf8'), 'welcome\n');
  });

  test("copyUIDGID gives the files to the container's user", async () => {
    await ok(['create', '--user', '1234:5678', '--name', 'usr', 'busybox']);
    fs.writeFileSync(path.join(host, 'owned.txt'), 'mine');
    await ok(['cp', '-a', path.join(host, 'owned.txt'), 'usr:/tmp/owned.txt']);
    const r = await raw(b, 'GET', '/containers/usr/archive?path=/tmp/owned.txt');
    const ex = tar.extract();
    ex.end(r.body);
    for await (const e of ex) {
      assert.equal(e.header.uid, 1234);
      assert.equal(e.header.gid, 5678);
      e.resume();
    }
    await ok(['rm', 'usr']);
  });

  test('docker cp from stdin and into bind-mounted files, seen by the running container', async () => {
    await ok(['cp', '-', 'live:/tmp'], await makeTar([{ name: 'from-stdin/x.txt', data: 'streamed' }]));
    assert.equal(await ok(['exec', 'live', 'cat', '/tmp/from-stdin/x.txt']), 'streamed');
    fs.writeFileSync(path.join(host, 'hosts'), '127.0.0.1 localhost\n10.1.2.3 copied-in\n');
    await ok(['cp', path.join(host, 'hosts'), 'live:/etc/hosts']);
    assert.match(await ok(['exec', 'live', 'cat', '/etc/hosts']), /10\.1\.2\.3 copied-in/);
    const back = await readTar((await raw(b, 'GET', '/containers/live/archive?path=/etc/hosts')).body);
    assert.match(back.get('hosts')?.data ?? '', /copied-in/);
  });

  test('docker cp to stdout writes a tar', async () => {
    const r = await raw(b, 'GET', '/containers/live/archive?path=/etc/passwd');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/x-tar');
    const entries = await readTar(r.body);
    assert.match(entries.get('passwd')?.data ?? '', /^root:/);
    const cli = await ok(['cp', 'live:/etc/passwd', '-']);
    assert.match(cli, /root:x:0:0/);
  });

  test('docker cp reaches volumes and bind mounts of created, stopped and running containers', async () => {
    const bindDir = fs.mkdtempSync(path.join(host, 'bind-'));
    fs.writeFileSync(path.join(bindDir, 'from-host.txt'), 'from the host\n');
    await ok(['volume', 'create', 'cpvol']);
    const volDir = (await ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'cpvol'])).trim();
    const mounts = ['-v', 'cpvol:/data', '-v', `${bindDir}:/bind`, '-v', 'cpvol:/ro:ro'];
    await ok(['create', '--name', 'vcold', ...mounts, 'busybox', 'sleep', '1000']);
    fs.writeFileSync(path.join(host, 'a.txt'), 'into the volume\n');
    await ok(['cp', path.join(host, 'a.txt'), 'vcold:/data/a.txt']);
    assert.equal(fs.readFileSync(path.join(volDir, 'a.txt'), 'utf8'), 'into the volume\n');
    await ok(['cp', path.join(host, 'a.txt'), 'vcold:/bind/b.txt']);
    assert.equal(fs.readFileSync(path.join(bindDir, 'b.txt'), 'utf8'), 'into the volume\n');
    // Read back through the mounts, the bind's own file included.
    const back = await readTar((await raw(b, 'GET', '/containers/vcold/archive?path=/bind/from-host.txt')).body);
    assert.equal(back.get('from-host.txt')?.data, 'from the host\n');
    const ro = await docker(['cp', path.join(host, 'a.txt'), 'vcold:/ro/']);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /mounted volume is marked read-only/);
    assert.equal(fs.existsSync(path.join(volDir, 'ro')), false);
    // Running: what is copied in is what the container sees.
    await ok(['start', 'vcold']);
    await ok(['cp', path.join(host, 'a.txt'), 'vcold:/data/c.txt']);
    assert.equal(await ok(['exec', 'vcold', 'cat', '/data/c.txt', '/bind/b.txt']), 'into the volume\ninto the volume\n');
    const live = await readTar((await raw(b, 'GET', '/containers/vcold/archive?path=/ro/a.txt')).body);
    assert.equal(live.get('a.txt')?.data, 'into the volume\n');
    // The container's own symlink at a mount point stays inside its root: the volume is mounted
    // where the link leads in the container, never on the host path it names.
    await ok(['create', '--name', 'vplant', 'busybox', 'true']);
    const planted = await raw(
      b,
      'PUT',
      '/containers/vplant/archive?path=/',
      await makeTar([{ name: 'lnk', type: 'symlink', linkname: canaryDir }]),
    );
    assert.equal(planted.status, 200, planted.body.toString());
    await ok(['commit', 'vplant', 'linked:latest']);
    await ok(['create', '--name', 'vlink', '-v', 'cpvol:/lnk/sub', 'linked:latest', 'true']);
    await ok(['cp', path.join(host, 'a.txt'), 'vlink:/lnk/sub/d.txt']);
    assert.equal(fs.readFileSync(path.join(volDir, 'd.txt'), 'utf8'), 'into the volume\n');
    assertCanaryUntouched();
    await ok(['rm', '-f', 'vcold', 'vlink', 'vplant']);
    await ok(['rmi', 'linked:latest']);
    await ok(['volume', 'rm', 'cpvol']);
    // Every mount made for the operations is gone.
    const tmpMounts = path.join(b.dataRoot, 'tmp-mounts') + '/';
    assert.deepEqual(
      fs
        .readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.includes(tmpMounts)),
      [],
    );
  });

  test('hostile symlinks inside the container stay inside it', async () => {
    const put = await raw(
      b,
      'PUT',
      '/containers/cold/archive?path=/',
      await makeTar([
        { name: 'data', type: 'symlink', linkname: '/' },
        { name: 'link', type: 'symlink', linkname: `../../../../../..${canaryDir}` },
        { name: 'abslink', type: 'symlink', linkname: canaryDir },
      ]),
    );
    assert.equal(put.status, 200, put.body.toString());
    for (const c of ['cold', 'live']) {
      if (c === 'live') {
        await raw(
          b,
          'PUT',
          '/containers/live/archive?path=/',
          await makeTar([
            { name: 'data', type: 'symlink', linkname: '/' },
            { name: 'link', type: 'symlink', linkname: `../../../../../..${canaryDir}` },
            { name: 'abslink', type: 'symlink', linkname: canaryDir },
          ]),
        );
      }
      for (const p of [
        '/link/canary.txt',
        '/abslink/canary.txt',
        `/data${canaryDir}/canary.txt`,
        `/data/../../..${canaryDir}/canary.txt`,
      ]) {
        const r = await raw(b, 'GET', `/containers/${c}/archive?path=${encodeURIComponent(p)}`);
        assert.equal(r.status, 404, `${c}:${p} served: ${r.body.toString()}`);
        assert.ok(!r.body.includes(CANARY));
      }
      // Following the links to a dir gives the container's dirs.
      const stat = await raw(b, 'HEAD', `/containers/${c}/archive?path=/link`);
      const st = JSON.parse(Buffer.from(String(stat.headers['x-docker-container-path-stat']), 'base64').toString()) as {
        linkTarget: string;
      };
      assert.equal(st.linkTarget, canaryDir);
      const viaData = await readTar((await raw(b, 'GET', `/containers/${c}/archive?path=/data/etc/passwd`)).body);
      assert.match(viaData.get('passwd')?.data ?? '', /^root:/);
      // Writing through them lands in the container.
      const w = await raw(
        b,
        'PUT',
        `/containers/${c}/archive?path=/data/tmp`,
        await makeTar([{ name: 'through-data', data: 'in container' }]),
      );
      assert.equal(w.status, 200, w.body.toString());
      const mk = await raw(
        b,
        'PUT',
        `/containers/${c}/archive?path=/`,
        await makeTar([{ name: `${canaryDir.slice(1)}/`, type: 'directory' }]),
      );
      assert.equal(mk.status, 200, mk.body.toString());
      const w2 = await raw(
        b,
        'PUT',
        `/containers/${c}/archive?path=/abslink`,
        await makeTar([{ name: 'canary.txt', data: 'overwritten?' }]),
      );
      assert.equal(w2.status, 200, w2.body.toString());
      const w3 = await raw(b, 'PUT', `/containers/${c}/archive?path=/link`, await makeTar([{ name: 'other.txt', data: 'overwritten?' }]));
      assert.equal(w3.status, 200, w3.body.toString());
      assertCanaryUntouched();
    }
    assert.ok(!fs.existsSync('/tmp/through-data'));
    // docker cp through the CLI follows the link inside the container.
    const r = await docker(['cp', 'live:/abslink/canary.txt', '-']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(CANARY));
    assert.ok(r.stdout.includes('overwritten?'));
    assertCanaryUntouched();
  });

  test('docker export writes the whole filesystem', async () => {
    const r = await raw(b, 'GET', '/containers/cold/export');
    assert.equal(r.status, 200);
    const entries = await readTar(r.body);
    assert.ok(entries.has('bin/busybox'), [...entries.keys()].slice(0, 20).join(','));
    assert.equal(entries.get('etc/motd')?.data, 'welcome\n');
    assert.equal(entries.get('data')?.linkname, '/');
    const cli = path.join(host, 'export.tar');
    await ok(['export', '-o', cli, 'live']);
    const live = await readTar(fs.readFileSync(cli));
    assert.equal(live.get('tmp/hello.txt')?.data, 'hello world\n');
    assert.ok(!live.has('proc/self'));
  });

  test('docker diff reports added, changed and deleted paths', async () => {
    await ok([
      'run',
      '--name',
      'dd',
      'busybox',
      'sh',
      '-c',
      'rm /etc/group; echo new > /newfile; echo extra >> /etc/passwd; mkdir -p /opt/x',
    ]);
    const out = await ok(['diff', 'dd']);
    const lines = out.trim().split('\n');
    for (const l of ['D /etc/group', 'A /newfile', 'C /etc/passwd', 'C /etc', 'A /opt', 'A /opt/x'])
      assert.ok(lines.includes(l), `${l} missing from:\n${out}`);
    assert.ok(!lines.some((l) => / \/(proc|sys|dev|etc\/hosts|etc\/hostname|etc\/resolv\.conf)$/.test(l)), out);
    // A running container's changes are read the same way.
    const live = (await ok(['diff', 'live'])).trim().split('\n');
    assert.ok(live.includes('A /tmp/hello.txt') && live.includes('C /tmp'), live.join('\n'));
    // A fresh container has no changes: runc's mount points are not reported.
    await ok(['run', '-d', '--name', 'fresh', 'busybox', 'sleep', '100']);
    assert.equal(await ok(['diff', 'fresh']), '');
    await ok(['rm', '-f', 'fresh']);
    const api = JSON.parse((await raw(b, 'GET', '/containers/dd/changes')).body.toString()) as { Path: string; Kind: number }[];
    assert.deepEqual(
      api.find((c) => c.Path === '/etc/group'),
      { Path: '/etc/group', Kind: 2 },
    );
    assert.deepEqual(
      api.find((c) => c.Path === '/newfile'),
      { Path: '/newfile', Kind: 1 },
    );
    assert.deepEqual(
      api.find((c) => c.Path === '/etc/passwd'),
      { Path: '/etc/passwd', Kind: 0 },
    );
  });

  test('docker commit makes an image that runs with the change', async () => {
    const id = (
      await ok(['commit', '-m', 'my message', '-a', 'Jane <jane@example.com>', '--change', 'CMD ["cat", "/newfile"]', 'dd', 'committed:v1'])
    ).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await ok(['run', '--rm', 'committed:v1']), 'new\n');
    const ls = await docker(['run', '--rm', 'committed:v1', 'ls', '/etc/group']);
    assert.notEqual(ls.code, 0);
    const inspect = JSON.parse(await ok(['image', 'inspect', 'committed:v1'])) as {
      Author: string;
      Comment: string;
      Config: { Cmd: string[] };
      RootFS: { Layers: string[] };
      Parent: string;
    }[];
    assert.equal(inspect[0].Author, 'Jane <jane@example.com>');
    assert.equal(inspect[0].Comment, 'my message');
    assert.deepEqual(inspect[0].Config.Cmd, ['cat', '/newfile']);
    assert.equal(inspect[0].RootFS.Layers.length, 2);
    // The new layer saves and loads back.
    const saved = path.join(host, 'committed.tar');
    await ok(['save', '-o', saved, 'committed:v1']);
    await ok(['rmi', 'committed:v1']);
    await ok(['load', '-i', saved]);
    assert.equal(await ok(['run', '--rm', 'committed:v1']), 'new\n');
    const history = await ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', 'committed:v1']);
    assert.match(history.split('\n')[0], /^sh -c rm \/etc\/group.*\|my message$/);
    // A running container is committed too (paused meanwhile) and keeps running.
    const since = Math.floor(Date.now() / 1000) - 1;
    await ok(['commit', 'live', 'committed:live']);
    const until = Math.ceil(Date.now() / 1000) + 1;
    const events = await ok([
      'events',
      '--since',
      String(since),
      '--until',
      String(until),
      '--format',
      '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}',
    ]);
    for (const e of ['container pause live', 'container unpause live', 'container commit live', 'image tag committed:live']) {
      assert.ok(events.split('\n').includes(e), `${e} missing from:\n${events}`);
    }
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'live'])).trim(), 'running');
    assert.equal(await ok(['run', '--rm', '--name', 'fromcommit', 'committed:live', 'cat', '/tmp/hello.txt']), 'hello world\n');
  });

  test("commit takes a config from the body and merges the container's", async () => {
    const r = await raw(
      b,
      'POST',
      '/commit?container=dd&repo=withbody&changes=LABEL%20a%3Db',
      Buffer.from(JSON.stringify({ Env: ['EXTRA=1'], Cmd: ['cat', '/newfile'] })),
      'application/json',
    );
    assert.equal(r.status, 201, r.body.toString());
    const inspect = JSON.parse(await ok(['image', 'inspect', 'withbody:latest'])) as {
      Id: string;
      Config: { Env: string[]; Cmd: string[]; Labels: Record<string, string> };
    }[];
    assert.equal((JSON.parse(r.body.toString()) as { Id: string }).Id, inspect[0].Id);
    assert.ok(inspect[0].Config.Env.includes('EXTRA=1'));
    assert.ok(inspect[0].Config.Env.some((e) => e.startsWith('PATH=')));
    assert.deepEqual(inspect[0].Config.Cmd, ['cat', '/newfile']);
    assert.equal(inspect[0].Config.Labels.a, 'b');
    const bad = await raw(b, 'POST', '/commit?container=dd&changes=BOGUS%20x');
    assert.equal(bad.status, 400);
  });

  test('commit of an unknown container is a 404', async () => {
    const r = await docker(['commit', 'no-such-container']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /No such container: no-such-container/);
    const api = await raw(b, 'POST', '/commit?container=no-such-container');
    assert.equal(api.status, 404);
  });
});
