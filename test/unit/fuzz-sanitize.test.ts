// The fuzzer's host-safety rewrites: nothing it sends may bind host paths, grant privileges or
// host namespaces, publish on non-loopback addresses, adopt a host bridge, or reach a remote.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRequest } from '../fuzz/runner';
import { fuzzSubnet, sanitizeBind, sanitizeBody, sanitizePath, sanitizeQuery, sanitizeRaw } from '../fuzz/sanitize';

const ctx = { safeDir: '/tmp/fz-safe', index: 7 };

test('host-path binds move into the safe dir; named volumes stay', () => {
  assert.equal(sanitizeBind('/etc:/x:ro', ctx.safeDir), '/tmp/fz-safe:/x:ro');
  assert.equal(sanitizeBind('../../etc:/x', ctx.safeDir), '/tmp/fz-safe:/x');
  assert.equal(sanitizeBind('a/b:/x', ctx.safeDir), '/tmp/fz-safe:/x');
  assert.equal(sanitizeBind('vol:/x', ctx.safeDir), 'vol:/x');
  assert.equal(sanitizeBind('/x', ctx.safeDir), '/x');
});

test('create: privileges, host namespaces, devices and remote logging are neutered', () => {
  const body = sanitizeBody(
    'ContainerCreate',
    {
      Image: 'busybox',
      HostConfig: {
        Privileged: true,
        CapAdd: ['ALL'],
        Devices: [{ PathOnHost: '/dev/sda' }],
        PidMode: 'host',
        NetworkMode: 'host',
        UsernsMode: 'host',
        SecurityOpt: ['seccomp=unconfined'],
        CgroupParent: '/',
        Binds: ['/:/host', 7, null],
        Mounts: [
          { Type: 'bind', Source: '/etc', Target: '/e', BindOptions: { Propagation: 'rshared' } },
          { Type: 'volume', Source: 'v', VolumeOptions: { DriverConfig: { Name: 'x', Options: { type: 'nfs', device: '/dev/sda' } } } },
          'bad',
        ],
        PortBindings: { '22/tcp': [{ HostIp: '0.0.0.0', HostPort: '22' }], '1/tcp': 'x' },
        PublishAllPorts: true,
        LogConfig: { Type: 'syslog', Config: { 'syslog-address': 'udp://8.8.8.8:514' } },
        Memory: 'wrong-type-kept',
      },
    },
    ctx,
  ) as { HostConfig: Record<string, unknown> };
  const h = body.HostConfig;
  for (const k of ['Privileged', 'CapAdd', 'Devices', 'PidMode', 'UsernsMode', 'SecurityOpt', 'CgroupParent', 'PublishAllPorts'])
    assert.equal(h[k], undefined, k);
  assert.equal(h.NetworkMode, 'none');
  assert.deepEqual(h.Binds, ['/tmp/fz-safe:/host', 7, null]);
  assert.deepEqual(h.Mounts, [
    { Type: 'bind', Source: '/tmp/fz-safe', Target: '/e', BindOptions: {} },
    { Type: 'volume', Source: 'v', VolumeOptions: { DriverConfig: { Options: { type: 'tmpfs', device: '/tmp/fz-safe' } } } },
    'bad',
  ]);
  assert.deepEqual(h.PortBindings, { '22/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }], '1/tcp': 'x' });
  assert.equal((h.LogConfig as { Type: string }).Type, 'json-file');
  assert.equal(h.Memory, 'wrong-type-kept');
});

test('update: the Resources body at top level is neutered too', () => {
  assert.deepEqual(sanitizeBody('ContainerUpdate', { Devices: [], CgroupParent: '/', CpuShares: 'x' }, ctx), { CpuShares: 'x' });
});

test('networks: no adopted host bridge, subnets from the fuzz range', () => {
  const n = sanitizeBody(
    'NetworkCreate',
    {
      Name: 'n',
      Driver: 'macvlan',
      Options: { 'com.docker.network.bridge.name': 'br0', parent: 'eth0' },
      IPAM: { Driver: 'x', Config: [{ Subnet: '0.0.0.0/0', Gateway: '192.168.1.1', IPRange: '1.0.0.0/8', AuxiliaryAddresses: {} }] },
    },
    ctx,
  );
  assert.deepEqual(n, {
    Name: 'n',
    Driver: 'bridge',
    Options: { 'com.docker.network.bridge.name': 'fz7', parent: 'fz7' },
    IPAM: { Config: [{ Subnet: fuzzSubnet(7).subnet, Gateway: fuzzSubnet(7).gateway }] },
  });
  assert.equal(fuzzSubnet(257).subnet, '10.213.7.0/24');
});

test('volumes, exec, auth and image queries', () => {
  assert.deepEqual(sanitizeBody('VolumeCreate', { Driver: 'nfs', DriverOpts: { type: 'none', o: 'bind', device: '/etc' } }, ctx), {
    Driver: 'local',
    DriverOpts: { type: 'none', o: 'bind', device: '/tmp/fz-safe' },
  });
  assert.deepEqual(sanitizeBody('ExecCreate', { Privileged: true, Cmd: ['sh'] }, ctx), { Cmd: ['sh'] });
  assert.deepEqual(sanitizeBody('SystemAuth', { serveraddress: 'https://example.com' }, ctx), { serveraddress: '127.0.0.1:1' });
  const q = new Map([
    ['fromSrc', ['http://example.com/x.tar']],
    ['fromImage', ['evil/img']],
  ]);
  sanitizeQuery('ImageCreate', q);
  assert.deepEqual(Object.fromEntries(q), { fromSrc: ['-'], fromImage: ['127.0.0.1:1/x'] });
  // Registry-facing operations reach only a closed port, even when the client names no registry.
  assert.deepEqual(sanitizeBody('SystemAuth', { username: 'u' }, ctx), { username: 'u', serveraddress: '127.0.0.1:1' });
  const s = new Map<string, string[]>();
  sanitizeQuery('ImageSearch', s);
  assert.deepEqual(Object.fromEntries(s), { term: ['127.0.0.1:1/x'] });
  assert.equal(sanitizeRaw('SystemAuth', '{"a":1}'), '{"serveraddress":"127.0.0.1:1","a":1}');
  assert.equal(sanitizeRaw('SystemAuth', ' {}'), '{"serveraddress":"127.0.0.1:1"}');
  assert.equal(sanitizeRaw('SystemAuth', '{"serveraddress":"docker.io"}'), '{"serveraddress":"127.0.0.1:1"}');
  assert.equal(sanitizeRaw('SystemAuth', '{'), '{');
  assert.deepEqual(sanitizeBody('SystemAuth', '\u0001DEEP:3', ctx), { serveraddress: '127.0.0.1:1', a: '\u0001DEEP:3' });
  assert.equal(sanitizeRaw('ContainerCreate', '{"a":1}'), '{"a":1}');
  assert.equal(
    sanitizePath('DistributionInspect', '/distribution/busybox%3Alatest/json'),
    '/distribution/127.0.0.1:1/busybox%3Alatest/json',
  );
  // Wrong top-level types pass untouched.
  assert.equal(sanitizeBody('ContainerCreate', 'str', ctx), 'str');
});

test('a fuzzed push always names the closed loopback registry, never a pool image (docker.io)', () => {
  const req = buildRequest(
    {
      operationId: 'ImagePush',
      method: 'POST',
      template: '/images/{name}/push',
      pathArgs: [{ pool: 'image', k: 0 }],
      query: [['tag', 'x']],
      headers: {},
      bodyKind: 'none',
      mode: 'normal',
    },
    { container: [], image: ['busybox'], network: [], volume: [], exec: [] },
    ctx.safeDir,
    ctx.index,
  );
  assert.equal(req.path, '/v1.53/images/127.0.0.1:1/x/push?tag=x');
});
