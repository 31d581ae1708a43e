// Volumes and mounts through the real docker CLI against a real berthd: the volume lifecycle,
// list filters and prune, named and anonymous volumes on containers, copy-up of image content,
// binds (read-only ones refusing writes), tmpfs size limits, --volumes-from, rm -v, and the
// errors dockerd gives for bad mount input.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { Kit, lines } from './container-kit';

let k: Kit;
let hostDir: string;

before(async () => {
  k = await Kit.start();
  await k.ok(
    ['load'],
    await buildBusyboxArchive({
      tags: ['withvol:latest'],
      extraFiles: { 'seed/a.txt': 'from-image\n', 'seed/sub/b.txt': 'nested\n' },
      config: { Volumes: { '/seed': {} } },
    }),
  );
  hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-vol-test-'));
});

after(async () => {
  if (k) await k.destroy();
  if (hostDir) fs.rmSync(hostDir, { recursive: true, force: true });
});

interface VolumeInfo {
  Name: string;
  Driver: string;
  Mountpoint: string;
  Scope: string;
  CreatedAt: string;
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
}

interface MountPointInfo {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

async function volInspect(name: string): Promise<VolumeInfo> {
  return (JSON.parse(await k.ok(['volume', 'inspect', name])) as VolumeInfo[])[0];
}

async function mountsOf(name: string): Promise<MountPointInfo[]> {
  return JSON.parse(await k.ok(['container', 'inspect', '-f', '{{json .Mounts}}', name])) as MountPointInfo[];
}

const volNames = async (args: string[] = []): Promise<string[]> => lines(await k.ok(['volume', 'ls', '-q', ...args])).sort();

describe('docker volume', () => {
  test('create, inspect, ls, rm', async () => {
    assert.equal((await k.ok(['volume', 'create', '--label', 'team=a', 'v-one'])).trim(), 'v-one');
    const v = await volInspect('v-one');
    assert.equal(v.Driver, 'local');
    assert.equal(v.Scope, 'local');
    assert.equal(v.Mountpoint, path.join(k.b.dataRoot, 'volumes', 'v-one', '_data'));
    assert.deepEqual(v.Labels, { team: 'a' });
    assert.equal(v.Options, null);
    assert.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(fs.statSync(v.Mountpoint).isDirectory());
    // Creating it again answers with the same volume.
    assert.equal((await k.ok(['volume', 'create', 'v-one'])).trim(), 'v-one');

    const anon = (await k.ok(['volume', 'create'])).trim();
    assert.match(anon, /^[0-9a-f]{64}$/);
    assert.ok((await volNames()).includes('v-one'));
    assert.deepEqual(await volNames(['--filter', 'label=team=a']), ['v-one']);
    assert.deepEqual(await volNames(['--filter', 'name=v-on']), ['v-one']);
    assert.ok((await volNames(['--filter', 'driver=local'])).includes(anon));
    assert.deepEqual(await volNames(['--filter', 'driver=other']), []);

    await k.ok(['volume', 'rm', 'v-one', anon]);
    assert.equal(fs.existsSync(v.Mountpoint), false);
    const r = await k.fails(['volume', 'inspect', 'v-one']);
    assert.match(r.stderr, /get v-one: no such volume/);
  });

  test('driver options are kept and mounted as the local driver does', async () => {
    await k.ok(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'v-tmp']);
    const v = await volInspect('v-tmp');
    assert.deepEqual(v.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
    const out = await k.runOut(['-v', 'v-tmp:/d'], ['sh', '-c', 'df -k /d | tail -1']);
    assert.match(out, /^tmpfs\s+1024\s/);
    await k.ok(['volume', 'rm', 'v-tmp']);
  });

  test('bad names, options and unknown volumes', async () => {
    let r = await k.fails(['volume', 'create', 'a!']);
    assert.match(
      r.stderr,
      /create a!: "a!" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed/,
    );
    r = await k.fails(['volume', 'create', 'x']);
    assert.match(r.stderr, /volume name is too short, names should be at least two alphanumeric characters/);
    r = await k.fails(['volume', 'create', '-o', 'foo=1', 'xy']);
    assert.match(r.stderr, /create xy: invalid option: "foo"/);
    const del = await k.request('DELETE', '/volumes/nope');
    assert.equal(del.status, 404);
    assert.match(del.body.toString(), /get nope: no such volume/);
    const put = await k.request('PUT', '/v1.43/volumes/nope', {});
    assert.equal(put.status, 503);
    assert.match(put.body.toString(), /volume update only valid for cluster volumes, but swarm is unavailable/);
    r = await k.fails(['volume', 'ls', '--filter', 'bogus=1']);
    assert.match(r.stderr, /invalid filter 'bogus'/);
  });

  test('a used volume is not removed; dangling filter; prune keeps named volumes', async () => {
    await k.ok(['volume', 'create', 'v-used']);
    await k.ok(['volume', 'create', '--label', 'keep=no', 'v-named']);
    const anon = (await k.ok(['volume', 'create'])).trim();
    await k.ok(['create', '--name', 'user1', '-v', 'v-used:/data', 'busybox', 'true']);
    const id = await k.id('user1');
    const r = await k.fails(['volume', 'rm', 'v-used']);
    assert.match(r.stderr, new RegExp(`remove v-used: volume is in use - \\[${id}\\]`));
    const dangling = await volNames(['--filter', 'dangling=true']);
    assert.ok(dangling.includes('v-named') && dangling.includes(anon) && !dangling.includes('v-used'));
    assert.deepEqual(await volNames(['--filter', 'dangling=false']), ['v-used']);

    const pruned = await k.ok(['volume', 'prune', '-f']);
    assert.match(pruned, new RegExp(anon));
    let left = await volNames();
    assert.ok(left.includes('v-named') && left.includes('v-used') && !left.includes(anon));
    // --all with a label filter: only the matching unused named volume goes.
    await k.ok(['volume', 'prune', '-f', '--all', '--filter', 'label=keep=no']);
    left = await volNames();
    assert.ok(!left.includes('v-named') && left.includes('v-used'));
    await k.ok(['rm', 'user1']);
    await k.ok(['volume', 'rm', 'v-used']);
  });
});

describe('mounts on containers', () => {
  test('a named volume keeps its data after the container is removed', async () => {
    await k.runOut(['-v', 'keep-data:/data'], ['sh', '-c', 'echo persisted > /data/f']);
    assert.equal(await k.runOut(['-v', 'keep-data:/data'], ['cat', '/data/f']), 'persisted\n');
    const v = await volInspect('keep-data');
    assert.equal(v.Labels, null); // created on first use as a named volume
    await k.ok(['create', '--name', 'mp', '-v', 'keep-data:/data:ro', 'busybox', 'true']);
    const m = await mountsOf('mp');
    assert.deepEqual(m, [
      {
        Type: 'volume',
        Name: 'keep-data',
        Source: v.Mountpoint,
        Destination: '/data',
        Driver: 'local',
        Mode: 'ro',
        RW: false,
        Propagation: '',
      },
    ]);
    const ps = JSON.parse(await k.ok(['ps', '-a', '--filter', 'name=mp', '--format', '{{json .Mounts}}'])) as string;
    assert.equal(ps, 'keep-data');
    for (const v of ['keep-data', '/data']) assert.deepEqual(lines(await k.ok(['ps', '-aq', '--filter', `volume=${v}`])).length, 1, v);
    assert.deepEqual(lines(await k.ok(['ps', '-aq', '--filter', 'volume=other'])), []);
    await k.ok(['rm', '-v', 'mp']);
    assert.ok((await volNames()).includes('keep-data'), 'rm -v must keep named volumes');
    await k.ok(['volume', 'rm', 'keep-data']);
  });

  test('image VOLUMEs get anonymous volumes filled from the image, removed by rm -v', async () => {
    await k.ok(['create', '--name', 'iv', 'withvol', 'sh', '-c', 'cat /seed/a.txt /seed/sub/b.txt; echo more > /seed/c']);
    const m = await mountsOf('iv');
    assert.equal(m.length, 1);
    assert.equal(m[0].Type, 'volume');
    assert.equal(m[0].Destination, '/seed');
    assert.match(m[0].Name ?? '', /^[0-9a-f]{64}$/);
    assert.equal(m[0].Mode, '');
    const out = await k.ok(['start', '-a', 'iv']);
    assert.equal(out, 'from-image\nnested\n');
    assert.equal(fs.readFileSync(path.join(m[0].Source, 'c'), 'utf8'), 'more\n');
    const anon = await volInspect(m[0].Name ?? '');
    assert.deepEqual(anon.Labels, { 'com.docker.volume.anonymous': '' });
    await k.ok(['rm', '-v', 'iv']);
    assert.ok(!(await volNames()).includes(m[0].Name ?? ''), 'rm -v removes the anonymous volume');
  });

  test('nocopy leaves the new volume empty; a named volume is filled too', async () => {
    assert.equal(await k.ok(['run', '--rm', '-v', 'nc-vol:/seed:nocopy', 'withvol', 'ls', '-A', '/seed']), '');
    await k.ok(['volume', 'rm', 'nc-vol']);
    assert.equal(await k.ok(['run', '--rm', '-v', 'cp-vol:/seed', 'withvol', 'cat', '/seed/a.txt']), 'from-image\n');
    await k.ok(['volume', 'rm', 'cp-vol']);
  });

  test('--rm removes anonymous volumes only', async () => {
    await k.ok(['run', '--rm', '-v', '/anon', '-v', 'named-rm:/n', 'busybox', 'true']);
    const left = await volNames();
    assert.deepEqual(
      left.filter((n) => /^[0-9a-f]{64}$/.test(n)),
      [],
    );
    assert.ok(left.includes('named-rm'));
    await k.ok(['volume', 'rm', 'named-rm']);
  });

  test('binds: read-write, read-only refusing writes, missing source created for -v', async () => {
    fs.writeFileSync(path.join(hostDir, 'host.txt'), 'from-host\n');
    assert.equal(await k.runOut(['-v', `${hostDir}:/h`], ['sh', '-c', 'cat /h/host.txt; echo w > /h/new']), 'from-host\n');
    assert.equal(fs.readFileSync(path.join(hostDir, 'new'), 'utf8'), 'w\n');
    const r = await k.docker(['run', '--rm', '-v', `${hostDir}:/h:ro`, 'busybox', 'sh', '-c', 'echo x > /h/ro-write']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Read-only file system/);
    assert.equal(fs.existsSync(path.join(hostDir, 'ro-write')), false);

    const missing = path.join(hostDir, 'made', 'by', 'binds');
    await k.runOut(['-v', `${missing}:/m`], ['true']);
    assert.ok(fs.statSync(missing).isDirectory());

    await k.ok([
      'create',
      '--name',
      'bm',
      '--mount',
      `type=bind,src=${hostDir},dst=/b,readonly,bind-propagation=rslave`,
      'busybox',
      'true',
    ]);
    assert.deepEqual(await mountsOf('bm'), [
      { Type: 'bind', Source: hostDir, Destination: '/b', Mode: '', RW: false, Propagation: 'rslave' },
    ]);
    await k.ok(['rm', 'bm']);
  });

  test('tmpfs size limits are enforced (--tmpfs and --mount type=tmpfs)', async () => {
    for (const flags of [
      ['--tmpfs', '/t:size=1m'],
      ['--mount', 'type=tmpfs,dst=/t,tmpfs-size=1048576'],
    ]) {
      const ok = await k.docker(['run', '--rm', ...flags, 'busybox', 'dd', 'if=/dev/zero', 'of=/t/small', 'bs=1k', 'count=512']);
      assert.equal(ok.code, 0, ok.stderr);
      const big = await k.docker(['run', '--rm', ...flags, 'busybox', 'dd', 'if=/dev/zero', 'of=/t/big', 'bs=1k', 'count=2048']);
      assert.notEqual(big.code, 0, `dd beyond the size must fail with ${flags.join(' ')}`);
      assert.match(big.stderr, /No space left on device/);
    }
    await k.ok(['create', '--name', 'tm', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770', 'busybox', 'true']);
    assert.deepEqual(await mountsOf('tm'), [{ Type: 'tmpfs', Source: '', Destination: '/t', Mode: '', RW: true, Propagation: '' }]);
    await k.ok(['rm', 'tm']);
    assert.equal(await k.runOut(['--mount', 'type=tmpfs,dst=/t,tmpfs-mode=1770'], ['stat', '-c', '%a', '/t']), '1770\n');
  });

  test('--volumes-from shares the volumes, read-only with :ro', async () => {
    await k.ok(['create', '--name', 'src-c', '-v', 'shared-vol:/shared', '-v', '/anon2', 'busybox', 'true']);
    await k.runOut(['--volumes-from', 'src-c'], ['sh', '-c', 'echo via-from > /shared/f; test -d /anon2']);
    assert.equal(await k.runOut(['-v', 'shared-vol:/x'], ['cat', '/x/f']), 'via-from\n');
    const r = await k.docker(['run', '--rm', '--volumes-from', 'src-c:ro', 'busybox', 'sh', '-c', 'echo y > /shared/g']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Read-only file system/);
    const anonName = (await mountsOf('src-c')).find((m) => m.Destination === '/anon2')?.Name ?? '';
    // The anonymous volume of src-c survived the --rm of the containers that borrowed it.
    assert.ok((await volNames()).includes(anonName));
    // Through the API: a 400 as dockerd's, since the CLI reads a 404 at create as a missing image and goes to pull it.
    const nf = await k.request('POST', '/containers/create', { Image: 'busybox', HostConfig: { VolumesFrom: ['no-such'] } });
    assert.equal(nf.status, 400);
    assert.match(nf.body.toString(), /No such container: no-such/);
    await k.ok(['rm', '-v', 'src-c']);
    const left = await volNames();
    assert.ok(!left.includes(anonName) && left.includes('shared-vol'));
    await k.ok(['volume', 'rm', 'shared-vol']);
  });

  test('--mount type=image shows the image read-only', async () => {
    const out = await k.runOut(
      ['--mount', 'type=image,source=withvol,target=/img'],
      ['sh', '-c', 'cat /img/seed/a.txt; touch /img/x 2>&1 || echo refused'],
    );
    assert.match(out, /^from-image\n.*Read-only file system\nrefused\n$/s);
    await k.ok(['create', '--name', 'im', '--mount', 'type=image,source=withvol,target=/img', 'busybox', 'true']);
    assert.deepEqual(await mountsOf('im'), [
      { Type: 'image', Source: 'withvol', Destination: '/img', Mode: '', RW: false, Propagation: 'rprivate' },
    ]);
    const r = await k.fails(['rmi', 'withvol']);
    assert.match(r.stderr, /conflict/);
    await k.ok(['rm', 'im']);
  });

  test('--mount type=image of a multi-layer image shows every layer, read-only', async () => {
    await k.ok(['run', '--name', 'ml-src', 'busybox', 'sh', '-c', 'echo top-layer > /l2file']);
    await k.ok(['commit', 'ml-src', 'multilayer:1']);
    const out = await k.runOut(
      ['--mount', 'type=image,source=multilayer:1,target=/img'],
      ['sh', '-c', 'cat /img/l2file; test -x /img/bin/busybox && echo base-layer; touch /img/x 2>/dev/null || echo refused'],
    );
    assert.equal(out, 'top-layer\nbase-layer\nrefused\n');
    // image-subpath: a directory of the image, and a file, each resolved inside the layers.
    assert.equal(
      await k.runOut(
        ['--mount', 'type=image,source=multilayer:1,target=/b,image-subpath=bin'],
        ['sh', '-c', 'test -x /b/busybox && echo ok'],
      ),
      'ok\n',
    );
    assert.equal(
      await k.runOut(['--mount', 'type=image,source=multilayer:1,target=/f,image-subpath=l2file'], ['cat', '/f']),
      'top-layer\n',
    );
    const bad = await k.fails([
      'run',
      '--rm',
      '--mount',
      'type=image,source=multilayer:1,target=/b,image-subpath=../../etc',
      'busybox',
      'true',
    ]);
    assert.match(bad.stderr, /subpath must be a relative path within the image/);
    await k.ok(['rm', 'ml-src']);
    await k.ok(['rmi', 'multilayer:1']);
  });

  test('a volume Subpath follows symlinks inside the volume only, never to the host', async () => {
    const canary = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-subpath-canary-'));
    fs.writeFileSync(path.join(canary, 'secret'), 'host secret\n');
    try {
      // Inside the volume: a real dir, a link within it, and links aimed at the host.
      await k.runOut(
        ['-v', 'sp-links:/v'],
        [
          'sh',
          '-c',
          `mkdir -p /v/real && echo inside > /v/real/f && ln -s real /v/ok && ln -s ${canary} /v/abs && ln -s ../../../../../../..${canary} /v/rel`,
        ],
      );
      assert.equal(await k.runOut(['--mount', 'type=volume,src=sp-links,dst=/m,volume-subpath=ok'], ['cat', '/m/f']), 'inside\n');
      for (const sub of ['abs', 'rel']) {
        const r = await k.docker([
          'run',
          '--rm',
          '--mount',
          `type=volume,src=sp-links,dst=/m,volume-subpath=${sub}`,
          'busybox',
          'cat',
          '/m/secret',
        ]);
        assert.ok(!r.stdout.includes('host secret'), `${sub} reached the host: ${r.stdout}`);
        assert.notEqual(r.code, 0, `${sub}: ${r.stdout}${r.stderr}`);
      }
    } finally {
      fs.rmSync(canary, { recursive: true, force: true });
      await k.docker(['volume', 'rm', 'sp-links']);
    }
  });

  test('bad mount input is refused as dockerd refuses it', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--mount', 'type=bind,src=/no/such/dir,dst=/x'],
        /invalid mount config for type "bind": bind source path does not exist: \/no\/such\/dir/,
      ],
      [['-v', 'data:rel'], /invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute/],
      [['-v', 'v1x:/x', '-v', 'v2x:/x'], /Duplicate mount point: \/x/],
      [['--mount', 'type=volume,src=sp,dst=/x,volume-subpath=../up'], /subpath must be a relative path within the volume/],
      [['-v', `${hostDir}:/x:bogus`], /invalid mode: bogus/],
      [['-v', 'a!b:/x'], /includes invalid characters for a local volume name/],
    ];
    for (const [flags, re] of cases) {
      const r = await k.fails(['create', ...flags, 'busybox', 'true']);
      assert.match(r.stderr, re, flags.join(' '));
    }
    // Nothing was left behind by the refused creates.
    assert.deepEqual(lines(await k.ok(['ps', '-aq'])), []);
    assert.deepEqual(
      (await volNames()).filter((n) => ['v1x', 'v2x', 'sp', 'data'].includes(n)),
      [],
    );
  });
});

describe('docker system df', () => {
  test('reports images, containers and volumes, per API version and type', async () => {
    await k.ok(['volume', 'create', 'df-vol']);
    await k.runOut(['-v', 'df-vol:/d'], ['sh', '-c', 'dd if=/dev/zero of=/d/f bs=1k count=100 2>/dev/null']);
    await k.ok(['create', '--name', 'df-c', '-v', 'df-vol:/d', 'busybox', 'true']);

    const table = await k.ok(['system', 'df']);
    assert.match(table, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE/);
    assert.match(table, /Images\s+2\s+1\s/);
    assert.match(table, /Containers\s+1\s+0\s/);
    assert.match(table, /Local Volumes\s+1\s+1\s+102\.4kB\s+0B/);
    const verbose = await k.ok(['system', 'df', '-v']);
    assert.match(verbose, /df-vol\s+1\s+102\.4kB/);

    const legacy = JSON.parse((await k.request('GET', '/v1.41/system/df')).body.toString()) as Record<string, unknown>;
    // BuilderSize until 1.42, as dockerd 20.10 answers.
    assert.deepEqual(Object.keys(legacy).sort(), ['BuildCache', 'BuilderSize', 'Containers', 'Images', 'LayersSize', 'Volumes']);
    const vols = legacy.Volumes as { Name: string; UsageData: { Size: number; RefCount: number } }[];
    assert.deepEqual(
      vols.map((v) => [v.Name, v.UsageData]),
      [['df-vol', { Size: 102400, RefCount: 1 }]],
    );

    const modern = JSON.parse((await k.request('GET', '/v1.53/system/df?type=volume')).body.toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(modern).sort(), ['Volumes', 'VolumesDiskUsage']);
    assert.deepEqual(modern.VolumesDiskUsage, { ActiveCount: 1, TotalCount: 1, Reclaimable: 0, TotalSize: 102400 });
    const v = JSON.parse((await k.request('GET', '/v1.53/system/df?type=image&verbose=1')).body.toString()) as Record<
      string,
      { Items: unknown[]; TotalCount: number }
    >;
    assert.deepEqual(Object.keys(v), ['ImagesDiskUsage']);
    assert.equal(v.ImagesDiskUsage.TotalCount, 2);
    assert.equal(v.ImagesDiskUsage.Items.length, 2);
    const bad = await k.request('GET', '/v1.53/system/df?type=bogus');
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /unknown object type: bogus/);

    await k.ok(['rm', 'df-c']);
    await k.ok(['volume', 'rm', 'df-vol']);
  });
});
