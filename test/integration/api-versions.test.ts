// The same container and image inspected at the API versions clients still send (1.24, 1.41, 1.44,
// 1.45, 1.51, 1.52, 1.53): the fields moby adds back or drops per version are there or gone, as
// moby's routers adapt them (container inspect: aliases before 1.45, the bridge's endpoint as
// top-level NetworkSettings fields before 1.52; image inspect: VirtualSize before 1.44, Parent and
// DockerVersion before 1.52).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kit } from './container-kit';

let k: Kit;
const VERSIONS = ['1.24', '1.41', '1.44', '1.45', '1.51', '1.52', '1.53'] as const;
const older = (v: string, than: string): boolean => Number(v.split('.')[1]) < Number(than.split('.')[1]);
const TOP_LEVEL_NET = [
  'EndpointID',
  'Gateway',
  'GlobalIPv6Address',
  'GlobalIPv6PrefixLen',
  'IPAddress',
  'IPPrefixLen',
  'IPv6Gateway',
  'MacAddress',
];

interface Endpoint {
  Aliases: string[] | null;
  IPAddress: string;
  Gateway: string;
  EndpointID: string;
}
interface Inspect {
  Id: string;
  Config: { Hostname: string };
  NetworkSettings: Record<string, unknown> & { Networks: Record<string, Endpoint> };
}

async function inspectAt(version: string, name: string): Promise<Inspect> {
  const r = await k.request('GET', `/v${version}/containers/${name}/json`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Inspect;
}

before(async () => {
  k = await Kit.start();
  await k.ok(['network', 'create', 'versions-net']);
  await k.ok(['run', '-d', '--name', 'on-bridge', 'busybox', 'sleep', '600']);
  await k.ok([
    'run',
    '-d',
    '--name',
    'on-user',
    '--hostname',
    'userhost',
    '--network',
    'versions-net',
    '--network-alias',
    'web',
    'busybox',
    'sleep',
    '600',
  ]);
});

after(async () => {
  if (k) {
    await k.docker(['rm', '-f', 'on-bridge', 'on-user']);
    await k.docker(['network', 'rm', 'versions-net']);
    await k.destroy();
  }
});

test('the bridge endpoint is repeated at the top of NetworkSettings before 1.52 only', async () => {
  for (const v of VERSIONS) {
    const c = await inspectAt(v, 'on-bridge');
    const bridge = c.NetworkSettings.Networks.bridge;
    assert.match(bridge.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
    for (const f of TOP_LEVEL_NET) assert.equal(f in c.NetworkSettings, older(v, '1.52'), `${f} at ${v}`);
    if (older(v, '1.52')) {
      assert.equal(c.NetworkSettings.IPAddress, bridge.IPAddress);
      assert.equal(c.NetworkSettings.Gateway, bridge.Gateway);
      assert.equal(c.NetworkSettings.EndpointID, bridge.EndpointID);
    }
    // A container on a user network alone has no bridge endpoint to repeat.
    const u = await inspectAt(v, 'on-user');
    for (const f of TOP_LEVEL_NET)
      assert.ok(!(f in u.NetworkSettings) || u.NetworkSettings[f] === '' || u.NetworkSettings[f] === 0, `${f} at ${v}`);
  }
});

test('before 1.45 the aliases on a user network also hold the short ID and the hostname', async () => {
  for (const v of VERSIONS) {
    const c = await inspectAt(v, 'on-user');
    const expected = older(v, '1.45') ? ['web', c.Id.slice(0, 12), 'userhost'] : ['web'];
    assert.deepEqual(c.NetworkSettings.Networks['versions-net'].Aliases, expected, v);
    // Never on the default bridge.
    const b = await inspectAt(v, 'on-bridge');
    assert.equal(b.NetworkSettings.Networks.bridge.Aliases, null, v);
  }
});

test('image inspect: VirtualSize before 1.44, Parent and DockerVersion before 1.52', async () => {
  for (const v of VERSIONS) {
    const r = await k.request('GET', `/v${v}/images/busybox/json`);
    assert.equal(r.status, 200, r.body);
    const img = JSON.parse(r.body) as Record<string, unknown>;
    assert.equal('VirtualSize' in img, older(v, '1.44'), `VirtualSize at ${v}`);
    if (older(v, '1.44')) assert.equal(img.VirtualSize, img.Size);
    assert.equal('Parent' in img, older(v, '1.52'), `Parent at ${v}`);
    assert.equal('DockerVersion' in img, older(v, '1.52'), `DockerVersion at ${v}`);
  }
});
