// The version-shape test: the same containers, image, networks, volume, exec, info, df and events
// read at the API versions clients still send, each body checked against that version's shape
// (fields present, absent or changed as moby's version history and routers say; the rules are in
// api/version-shapes.ts, the expectations here are written out independently of them).
//
// Cross-checked against dockerd 20.10 (the reference daemon, API 1.41, minimum 1.12) on this
// machine: the same objects (a container on the default bridge with a published port, a volume and
// a healthcheck; one on a user network with an alias and a hostname; a created one; an exec; the
// busybox fixture image) read at /v1.24 and /v1.41, every key path of container inspect and list,
// image inspect and list, network inspect and list, volume inspect and list, exec inspect, info,
// version, system df and events compared. They match but for facts, not shapes: SizeRw (dockerd
// counts file bytes, Berth the upper dir's blocks), image Labels (`{}` here, `null` there),
// RegistryConfig.AllowNondistributableArtifacts* (`null` as current moby, `[]` in 20.10), Warnings.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kit } from './container-kit';

let k: Kit;
const VERSIONS = ['1.24', '1.41', '1.44', '1.45', '1.51', '1.52', '1.53'] as const;
/** v < than, for the versions above. */
const older = (v: string, than: string): boolean => Number(v.split('.')[1]) < Number(than.split('.')[1]);
const MAC = '02:42:ac:11:00:99';
const TOP_LEVEL_NET = [
  'Bridge',
  'HairpinMode',
  'LinkLocalIPv6Address',
  'LinkLocalIPv6PrefixLen',
  'SecondaryIPAddresses',
  'SecondaryIPv6Addresses',
  'EndpointID',
  'Gateway',
  'GlobalIPv6Address',
  'GlobalIPv6PrefixLen',
  'IPAddress',
  'IPPrefixLen',
  'IPv6Gateway',
  'MacAddress',
];
/** container.Config's fields, as an image's empty ContainerConfig shows them before 1.45. */
const CONTAINER_CONFIG_KEYS = [
  'Hostname',
  'Domainname',
  'User',
  'AttachStdin',
  'AttachStdout',
  'AttachStderr',
  'Tty',
  'OpenStdin',
  'StdinOnce',
  'Env',
  'Cmd',
  'Image',
  'Volumes',
  'WorkingDir',
  'Entrypoint',
  'OnBuild',
  'Labels',
];

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => v as Obj;
let execId = '';

async function get(version: string, path: string): Promise<unknown> {
  const r = await k.request('GET', `/v${version}${path}`);
  assert.equal(r.status, 200, `${path} at ${version}: ${r.body}`);
  return JSON.parse(r.body) as unknown;
}

function endpoint(c: Obj, net: string): Obj {
  return obj(obj(obj(c.NetworkSettings).Networks)[net]);
}

before(async () => {
  k = await Kit.start();
  await k.ok(['network', 'create', 'shapes-net']);
  await k.ok(['volume', 'create', 'shapes-vol']);
  await k.ok(['run', '-d', '--name', 's-bridge', '-p', '80', '-v', 'shapes-vol:/data', '--health-cmd', 'true', 'busybox', 'sleep', '600']);
  await k.ok([
    'run',
    '-d',
    '--name',
    's-user',
    '--hostname',
    'userhost',
    '--network',
    'shapes-net',
    '--network-alias',
    'web',
    'busybox',
    'sleep',
    '600',
  ]);
  // A client before 1.44 asks for a MAC address container-wide.
  const r = await k.request('POST', '/v1.41/containers/create?name=s-mac', { Image: 'busybox', Cmd: ['true'], MacAddress: MAC });
  assert.equal(r.status, 201, r.body);
  const e = await k.request('POST', '/containers/s-bridge/exec', { Cmd: ['true'] });
  assert.equal(e.status, 201, e.body);
  execId = (JSON.parse(e.body) as { Id: string }).Id;
});

after(async () => {
  if (k) {
    await k.docker(['rm', '-f', 's-bridge', 's-user', 's-mac']);
    await k.docker(['network', 'rm', 'shapes-net']);
    await k.docker(['volume', 'rm', 'shapes-vol']);
    await k.destroy();
  }
});

test('container inspect: each version has its fields', async () => {
  for (const v of VERSIONS) {
    const b = obj(await get(v, '/containers/s-bridge/json'));
    const u = obj(await get(v, '/containers/s-user/json'));
    const m = obj(await get(v, '/containers/s-mac/json'));
    for (const c of [b, u, m]) {
      // KernelMemory and KernelMemoryTCP: shown (0) until 1.42 omitted them when unset.
      const hc = obj(c.HostConfig);
      assert.equal('KernelMemory' in hc, older(v, '1.42'), `KernelMemory at ${v}`);
      assert.equal('KernelMemoryTCP' in hc, older(v, '1.42'), `KernelMemoryTCP at ${v}`);
      if (older(v, '1.42')) assert.deepEqual([hc.KernelMemory, hc.KernelMemoryTCP], [0, 0]);
      // The top-level endpoint fields until 1.52.
      const ns = obj(c.NetworkSettings);
      for (const f of TOP_LEVEL_NET) assert.equal(f in ns, older(v, '1.52'), `NetworkSettings.${f} at ${v}`);
      for (const ep of Object.values(obj(ns.Networks)).map(obj)) {
        assert.equal('DNSNames' in ep, !older(v, '1.44'), `DNSNames at ${v}`);
        assert.equal('GwPriority' in ep, !older(v, '1.48'), `GwPriority at ${v}`);
      }
    }
    // The bridge endpoint repeated at the top, as dockerd 20.10 shows it.
    if (older(v, '1.52')) {
      const ep = endpoint(b, 'bridge');
      const ns = obj(b.NetworkSettings);
      assert.match(String(ep.IPAddress), /^\d+\.\d+\.\d+\.\d+$/);
      for (const f of ['IPAddress', 'Gateway', 'EndpointID', 'MacAddress', 'IPPrefixLen']) assert.equal(ns[f], ep[f], `${f} at ${v}`);
      assert.equal(ns.Bridge, '');
      assert.equal(ns.HairpinMode, false);
      assert.equal(ns.SecondaryIPAddresses, null);
      // Not on the default bridge: the fields are there, empty.
      assert.deepEqual([obj(u.NetworkSettings).IPAddress, obj(u.NetworkSettings).EndpointID], ['', '']);
    }
    // Aliases: before 1.45 also the short ID and the hostname (user networks only).
    const aliases = endpoint(u, 'shapes-net').Aliases;
    assert.deepEqual(aliases, older(v, '1.45') ? ['web', String(u.Id).slice(0, 12), 'userhost'] : ['web'], `Aliases at ${v}`);
    assert.equal(endpoint(b, 'bridge').Aliases, null);
    if (!older(v, '1.44')) {
      const names = endpoint(u, 'shapes-net').DNSNames as string[];
      for (const n of ['s-user', 'web', String(u.Id).slice(0, 12), 'userhost']) assert.ok(names.includes(n), `${n} in DNSNames at ${v}`);
    }
    // The container-wide MAC address: Config.MacAddress until 1.52, the endpoint's from then.
    const config = obj(m.Config);
    assert.equal(config.MacAddress, older(v, '1.52') ? MAC : undefined, `Config.MacAddress at ${v}`);
    assert.equal(endpoint(m, 'bridge').MacAddress, MAC);
  }
});

test('container list: Health from 1.52, DNSNames from 1.44, GwPriority from 1.48; endpoints as moby lists them', async () => {
  for (const v of VERSIONS) {
    const list = (await get(v, '/containers/json?all=1')) as Obj[];
    assert.equal(list.length, 3);
    for (const c of list) {
      assert.equal('Health' in c, !older(v, '1.52'), `Health at ${v}`);
      for (const ep of Object.values(obj(obj(c.NetworkSettings).Networks)).map(obj)) {
        assert.equal('DNSNames' in ep, !older(v, '1.44'), `DNSNames at ${v}`);
        assert.equal('GwPriority' in ep, !older(v, '1.48'), `GwPriority at ${v}`);
        // moby's container view copies the operational fields only.
        assert.deepEqual([ep.Aliases, ep.Links, ep.DriverOpts, ep.DNSNames ?? null], [null, null, null, null], `endpoint at ${v}`);
      }
    }
    const user = list.find((c) => (c.Names as string[])[0] === '/s-user');
    assert.match(String(endpoint(obj(user), 'shapes-net').IPAddress), /^\d+\.\d+\.\d+\.\d+$/);
  }
});

test('image inspect and list: VirtualSize, Container(Config), the Config fields and the legacy builder fields by version', async () => {
  for (const v of VERSIONS) {
    const img = obj(await get(v, '/images/busybox/json'));
    assert.equal('VirtualSize' in img, older(v, '1.44'), `VirtualSize at ${v}`);
    if (older(v, '1.44')) assert.equal(img.VirtualSize, img.Size);
    assert.equal('Container' in img, older(v, '1.45'), `Container at ${v}`);
    assert.equal('ContainerConfig' in img, older(v, '1.45'), `ContainerConfig at ${v}`);
    if (older(v, '1.45')) assert.deepEqual(Object.keys(obj(img.ContainerConfig)), CONTAINER_CONFIG_KEYS);
    const config = obj(img.Config);
    // Container-only fields until 1.50; the unset image fields until 1.52 (the fixture sets Env and Cmd).
    for (const f of ['Hostname', 'Domainname', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'OpenStdin', 'StdinOnce', 'Image'])
      assert.equal(f in config, older(v, '1.50'), `Config.${f} at ${v}`);
    for (const f of ['Entrypoint', 'Labels', 'OnBuild', 'User', 'Volumes', 'WorkingDir'])
      assert.equal(f in config, older(v, '1.52'), `Config.${f} at ${v}`);
    assert.ok(Array.isArray(config.Env) && Array.isArray(config.Cmd));
    if (older(v, '1.50')) assert.deepEqual(Object.keys(config), CONTAINER_CONFIG_KEYS, `Config order at ${v}`);
    // Empty legacy fields: always there before 1.52, left out from then.
    for (const f of ['Parent', 'Comment', 'DockerVersion', 'Author']) assert.equal(f in img, older(v, '1.52'), `${f} at ${v}`);

    const list = (await get(v, '/images/json')) as Obj[];
    assert.equal(list.length, 1);
    const [s] = list;
    assert.equal('VirtualSize' in s, older(v, '1.44'), `list VirtualSize at ${v}`);
    // No digests for a loaded image: null before 1.43, [] from then.
    assert.deepEqual(s.RepoDigests, older(v, '1.43') ? null : [], `RepoDigests at ${v}`);
    assert.deepEqual(s.RepoTags, ['busybox:latest']);
    // Counted from 1.51 (three containers use the image).
    assert.equal(s.Containers, older(v, '1.51') ? -1 : 3, `Containers at ${v}`);
  }
});

test('networks: the list holds the containers before 1.28, EnableIPv4 from 1.48, Status from 1.52', async () => {
  for (const v of VERSIONS) {
    const list = (await get(v, '/networks')) as Obj[];
    const net = obj(list.find((n) => n.Name === 'shapes-net'));
    const members = Object.values(obj(net.Containers)).map((c) => obj(c).Name);
    assert.deepEqual(members, older(v, '1.28') ? ['s-user'] : [], `list Containers at ${v}`);
    for (const n of list) assert.equal('EnableIPv4' in n, !older(v, '1.48'), `list EnableIPv4 at ${v}`);
    const inspect = obj(await get(v, '/networks/shapes-net'));
    assert.deepEqual(
      Object.values(obj(inspect.Containers)).map((c) => obj(c).Name),
      ['s-user'],
    );
    assert.equal('EnableIPv4' in inspect, !older(v, '1.48'), `EnableIPv4 at ${v}`);
    assert.equal('Status' in inspect, !older(v, '1.52'), `Status at ${v}`);
  }
});

test('info, df, events: the fields of each version', async () => {
  for (const v of VERSIONS) {
    const info = obj(await get(v, '/info'));
    assert.equal(info.ExecutionDriver, older(v, '1.25') ? '<not supported>' : undefined, `ExecutionDriver at ${v}`);
    if (older(v, '1.42')) assert.equal(typeof info.KernelMemory, 'boolean', `KernelMemory at ${v}`);
    assert.equal('CDISpecDirs' in info, !older(v, '1.44'), `CDISpecDirs at ${v}`);
    assert.equal('Containerd' in info, !older(v, '1.46'), `Containerd at ${v}`);
    assert.equal('Expected' in obj(info.ContainerdCommit), older(v, '1.49'), `ContainerdCommit.Expected at ${v}`);
    assert.equal('BridgeNfIptables' in info, older(v, '1.50'), `BridgeNfIptables at ${v}`);
    assert.equal('DiscoveredDevices' in info, !older(v, '1.50'), `DiscoveredDevices at ${v}`);

    const df = obj(await get(v, '/system/df'));
    assert.equal('BuilderSize' in df, older(v, '1.42'), `BuilderSize at ${v}`);
    assert.equal('ImagesDiskUsage' in df, !older(v, '1.52'), `ImagesDiskUsage at ${v}`);
    // The legacy lists (still there without verbose at 1.52 and 1.53), shaped as the list endpoints.
    const images = df.Images as Obj[];
    assert.equal(images.length, 1);
    assert.equal('VirtualSize' in images[0], older(v, '1.44'), `df VirtualSize at ${v}`);
    assert.equal(images[0].Containers, 3, 'df counts the containers at every version');
    for (const c of df.Containers as Obj[]) assert.equal('Health' in c, !older(v, '1.52'), `df Health at ${v}`);

    // The replay backlog holds the last 256 events (as dockerd's); the healthcheck probes of the
    // earlier tests' containers can push older starts out of it, so start one now.
    await k.ok(['run', '--rm', '--network', 'none', 'busybox', 'true']);
    const r = await k.request('GET', `/v${v}/events?since=0&until=${Math.floor(Date.now() / 1000) + 1}`);
    assert.equal(r.status, 200);
    const events = r.body
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Obj);
    const start = events.find((e) => e.Type === 'container' && e.Action === 'start');
    assert.ok(start, `a start event at ${v}`);
    const actor = obj(start.Actor);
    if (older(v, '1.52')) {
      assert.deepEqual([start.status, start.id, start.from], ['start', actor.ID, 'busybox'], `legacy event fields at ${v}`);
    } else {
      for (const f of ['status', 'id', 'from']) assert.ok(!(f in start), `${f} at ${v}`);
    }
  }
});

test('exec inspect, volumes and version keep one shape at every version', async () => {
  const keys = async (v: string, path: string): Promise<string> => JSON.stringify(Object.keys(obj(await get(v, path))).sort());
  for (const path of [`/exec/${execId}/json`, '/volumes/shapes-vol', '/volumes', '/version']) {
    const newest = await keys('1.53', path);
    for (const v of VERSIONS) assert.equal(await keys(v, path), newest, `${path} at ${v}`);
  }
});

test('container create: what a client at each version means (moby postContainersCreate)', async () => {
  const create = (v: string, name: string, body: object): Promise<{ status: number; body: string }> =>
    k.request('POST', `/v${v}/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['true'], ...body });
  const inspect = async (name: string): Promise<Obj> => obj(await get('1.51', `/containers/${name}/json`));
  const made: string[] = [];
  try {
    // IpcMode defaulted to shareable for clients before 1.40.
    for (const [v, mode] of [
      ['1.39', 'shareable'],
      ['1.41', 'private'],
    ]) {
      const r = await create(v, `s-ipc-${v}`, {});
      assert.equal(r.status, 201, r.body);
      made.push(`s-ipc-${v}`);
      assert.equal(obj((await inspect(`s-ipc-${v}`)).HostConfig).IpcMode, mode, `IpcMode at ${v}`);
    }
    // Several networks at create came with 1.44.
    const two = { NetworkingConfig: { EndpointsConfig: { bridge: {}, 'shapes-net': {} } } };
    const refused = await create('1.43', 's-two-old', two);
    assert.equal(refused.status, 400, refused.body);
    assert.match(JSON.parse(refused.body).message as string, /^Container cannot be created with multiple network endpoints: /);
    const ok = await create('1.44', 's-two', two);
    assert.equal(ok.status, 201, ok.body);
    made.push('s-two');
    // Subpath came with 1.45, image mounts with 1.48.
    const sub = await create('1.44', 's-sub', {
      HostConfig: { Mounts: [{ Type: 'volume', Source: 'shapes-vol', Target: '/v', VolumeOptions: { Subpath: 'x' } }] },
    });
    assert.deepEqual([sub.status, JSON.parse(sub.body).message], [400, 'VolumeOptions.Subpath needs API v1.45 or newer']);
    const img = await create('1.47', 's-img', { HostConfig: { Mounts: [{ Type: 'image', Source: 'busybox', Target: '/i' }] } });
    assert.deepEqual([img.status, JSON.parse(img.body).message], [400, 'Mount type "Image" needs API v1.48 or newer']);
    // Options of another mount type were reset, not refused, before 1.42.
    const mixed = { HostConfig: { Mounts: [{ Type: 'tmpfs', Target: '/t', VolumeOptions: { NoCopy: true } }] } };
    const lenient = await create('1.41', 's-mixed', mixed);
    assert.equal(lenient.status, 201, lenient.body);
    made.push('s-mixed');
    assert.equal((await create('1.42', 's-mixed-new', mixed)).status, 400);
    // The container-wide MAC address is read from clients before 1.52 only.
    const mac = await create('1.53', 's-mac-new', { MacAddress: MAC });
    assert.equal(mac.status, 201, mac.body);
    made.push('s-mac-new');
    const m = await inspect('s-mac-new');
    assert.equal(obj(m.Config).MacAddress, undefined);
    assert.notEqual(endpoint(m, 'bridge').MacAddress, MAC);
  } finally {
    if (made.length > 0) await k.docker(['rm', '-f', ...made]);
  }
});
