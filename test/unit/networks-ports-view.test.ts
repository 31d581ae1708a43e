// Published ports (parsing, allocation requests, the Ports map and `docker ps` list), a
// container's NetworkSettings as inspect shows it and the `publish` ps filter. Expected shapes are
// dockerd 20.10's (net-facts §6, §7, §10; texts measured with curl).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NetworkSettings, PortSummary } from '../../daemon/containers/api-types';
import { publishMatches } from '../../daemon/containers/views';
import { InvalidParameter } from '../../lib/errors';
import type { EndpointConfig, EndpointRecord, NetworkRecord, PortMapping } from '../../daemon/networks/model';
import {
  parseHostPort,
  parsePortKey,
  portMapView,
  portRequests,
  portSummary,
  validatePortSpec,
  type PortSpec,
} from '../../daemon/networks/port-bindings';
import { networkSettingsView, networksView, summaryPorts, type ContainerNetView } from '../../daemon/networks/settings-view';
import { shapes } from '../../api/version-shapes';
import { invalid } from './assert-invalid';
import { BRIDGE, HOST, N1, NET2, NONE, hex } from './network-records';

const spec = (bindings: PortSpec['bindings'], exposed: string[] = [], publishAll = false): PortSpec => ({ bindings, exposed, publishAll });

describe('port keys and host ports', () => {
  test('parsePortKey: "80" is tcp; the protocol is case-insensitive', () => {
    assert.deepEqual(parsePortKey('80'), { port: 80, proto: 'tcp' });
    assert.deepEqual(parsePortKey('80/tcp'), { port: 80, proto: 'tcp' });
    assert.deepEqual(parsePortKey('53/udp'), { port: 53, proto: 'udp' });
    assert.deepEqual(parsePortKey('53/UDP'), { port: 53, proto: 'udp' });
    assert.deepEqual(parsePortKey('9/sctp'), { port: 9, proto: 'sctp' });
    assert.deepEqual(parsePortKey('65535/tcp'), { port: 65535, proto: 'tcp' });
  });

  test('parsePortKey: bad numbers and protocols are InvalidParameter', () => {
    for (const bad of ['abc/tcp', '65536/tcp', '80-81/tcp', '-1', '', '80x', '/tcp'])
      assert.throws(() => parsePortKey(bad), InvalidParameter, bad);
    assert.throws(() => parsePortKey('80/icmp'), InvalidParameter);
  });

  test('parseHostPort: empty is any port, a number, a range', () => {
    assert.deepEqual(parseHostPort(undefined), [0, 0]);
    assert.deepEqual(parseHostPort(''), [0, 0]);
    assert.deepEqual(parseHostPort('8080'), [8080, 8080]);
    assert.deepEqual(parseHostPort('8000-8010'), [8000, 8010]);
    assert.deepEqual(parseHostPort('65535'), [65535, 65535]);
    // moby's ParsePortRange splits a protocol off, and a range whose ends are the same text is one port
    assert.deepEqual(parseHostPort('8080/tcp'), [8080, 8080]);
    assert.deepEqual(parseHostPort('0080-0080'), [80, 80]);
  });

  test('parseHostPort: garbage, reversed ranges and out of range numbers are InvalidParameter', () => {
    for (const bad of ['abc', ' ', ' 80', '+80', '1-2-3', '65536', '9000-8000', '1-70000', '-5', '80-'])
      assert.throws(() => parseHostPort(bad), InvalidParameter, bad);
  });

  test('validatePortSpec: a well-formed request passes', () => {
    assert.doesNotThrow(() =>
      validatePortSpec(
        spec(
          {
            '80/tcp': [{ HostIp: '', HostPort: '' }],
            '80/udp': [{ HostIp: '127.0.0.1', HostPort: '18080' }],
            '81': null,
            '82/tcp': [{ HostIp: '::1', HostPort: '9000-9010' }],
          },
          ['90/tcp'],
        ),
      ),
    );
  });

  // dockerd 20.10, measured (POST /containers/create → [400]); moby's validatePortBindings quotes the
  // port part without the protocol, and the host port as given.
  test('validatePortSpec: dockerd\'s "invalid port specification" texts', () => {
    invalid(() => validatePortSpec(spec({ 'abc/tcp': [] })), 'invalid port specification: "abc"');
    invalid(() => validatePortSpec(spec({ '65536/tcp': [] })), 'invalid port specification: "65536"');
    invalid(() => validatePortSpec(spec({ '80-81/tcp': [] })), 'invalid port specification: "80-81"');
    invalid(() => validatePortSpec(spec({ '80/tcp': [{ HostPort: 'abc' }] })), 'invalid port specification: "abc"');
    invalid(() => validatePortSpec(spec({ '80/tcp': [{ HostPort: '9000-8000' }] })), 'invalid port specification: "9000-8000"');
  });

  test('validatePortSpec: an exposed port is checked too; a non-IP host address is refused', () => {
    assert.throws(() => validatePortSpec(spec({}, ['abc/tcp'])), InvalidParameter);
    assert.throws(() => validatePortSpec(spec({ '80/tcp': [{ HostIp: 'foo', HostPort: '1' }] })), InvalidParameter);
    for (const HostIp of ['999.1', '1.2.3', '010.0.0.1', '1::2::3'])
      assert.throws(() => validatePortSpec(spec({ '80/tcp': [{ HostIp, HostPort: '1' }] })), InvalidParameter, HostIp);
  });
});

describe('portRequests', () => {
  test('net-facts p1: -p 80 -p 127.0.0.1::81 -p 127.0.0.1:18080:80/udp --expose 90 -P, sorted by port then protocol', () => {
    const p1 = spec(
      {
        '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
        '80/udp': [{ HostIp: '127.0.0.1', HostPort: '18080' }],
        '80/tcp': [{ HostIp: '', HostPort: '' }],
      },
      ['90/tcp', '80/tcp', '80/udp', '81/tcp'],
      true,
    );
    assert.deepEqual(portRequests(p1, '0.0.0.0'), [
      { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPortStart: 0, hostPortEnd: 0 },
      { proto: 'udp', containerPort: 80, hostIp: '127.0.0.1', hostPortStart: 18080, hostPortEnd: 18080 },
      { proto: 'tcp', containerPort: 81, hostIp: '127.0.0.1', hostPortStart: 0, hostPortEnd: 0 },
      { proto: 'tcp', containerPort: 90, hostIp: '0.0.0.0', hostPortStart: 0, hostPortEnd: 0 },
    ]);
  });

  test("the default host IP (the network's host_binding_ipv4) fills an empty HostIp", () => {
    const out = portRequests(spec({ '80/tcp': [{ HostPort: '8080' }, { HostIp: '127.0.0.2', HostPort: '8081' }] }), '10.0.0.5');
    assert.deepEqual(
      out.map((r) => [r.hostIp, r.hostPortStart]),
      [
        ['10.0.0.5', 8080],
        ['127.0.0.2', 8081],
      ],
    );
  });

  test('several bindings for one port, a host port range', () => {
    const out = portRequests(spec({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '18081-18082' }, { HostPort: '18090' }] }), '0.0.0.0');
    assert.deepEqual(out, [
      { proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPortStart: 18081, hostPortEnd: 18082 },
      { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPortStart: 18090, hostPortEnd: 18090 },
    ]);
  });

  test('on a host with IPv6 a binding without a host IP gets its "::" twin right after it; explicit addresses none', () => {
    const out = portRequests(
      spec({ '80/tcp': [{ HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '8081' }, { HostIp: '::1', HostPort: '8082' }] }),
      '0.0.0.0',
      true,
    );
    assert.deepEqual(
      out.map((r) => [r.hostIp, r.hostPortStart, r.twin === true]),
      [
        ['0.0.0.0', 8080, false],
        ['::', 8080, true],
        ['127.0.0.1', 8081, false],
        ['::1', 8082, false],
      ],
    );
    // Without IPv6 on the host: no twin, and IPv6 host addresses are left out.
    assert.deepEqual(
      portRequests(spec({ '80/tcp': [{ HostPort: '8080' }, { HostIp: '::1', HostPort: '8082' }] }), '0.0.0.0').map((r) => r.hostIp),
      ['0.0.0.0'],
    );
    // A default host IP other than 0.0.0.0 (--ip, host_binding_ipv4): no twin, as dockerd.
    assert.deepEqual(
      portRequests(spec({ '80/tcp': [{ HostPort: '8080' }] }), '10.0.0.5', true).map((r) => r.hostIp),
      ['10.0.0.5'],
    );
  });

  test('numeric order, not string order', () => {
    const out = portRequests(spec({ '8080/tcp': [{}], '9/tcp': [{}], '80/udp': [{}], '80/tcp': [{}] }), '0.0.0.0');
    assert.deepEqual(
      out.map((r) => `${r.containerPort}/${r.proto}`),
      ['9/tcp', '80/tcp', '80/udp', '8080/tcp'],
    );
  });

  test('IPv6 host addresses are skipped (IPv4 only)', () => {
    const out = portRequests(
      spec({
        '80/tcp': [
          { HostIp: '::', HostPort: '' },
          { HostIp: '::1', HostPort: '1' },
          { HostIp: '127.0.0.1', HostPort: '2' },
        ],
      }),
      '0.0.0.0',
    );
    assert.deepEqual(
      out.map((r) => r.hostIp),
      ['127.0.0.1'],
    );
    assert.deepEqual(portRequests(spec({ '80/tcp': [{}] }, [], true), '::'), []);
  });

  test('a key without bindings is published only under -P; -P publishes exposed ports not already bound', () => {
    assert.deepEqual(portRequests(spec({ '80/tcp': [] }), '0.0.0.0'), []);
    assert.deepEqual(portRequests(spec({ '80/tcp': null }), '0.0.0.0'), []);
    assert.deepEqual(portRequests(spec({}, ['80/tcp']), '0.0.0.0'), [], 'exposed alone publishes nothing');
    assert.deepEqual(portRequests(spec({ '80/tcp': [] }, ['80/tcp'], true), '0.0.0.0'), [
      { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPortStart: 0, hostPortEnd: 0 },
    ]);
    const out = portRequests(spec({ '80/tcp': [{ HostPort: '8080' }] }, ['80/tcp', '80', '443/tcp', '53/udp'], true), '0.0.0.0');
    assert.deepEqual(
      out.map((r) => [r.containerPort, r.proto, r.hostPortStart]),
      [
        [80, 'tcp', 8080],
        [53, 'udp', 0],
        [443, 'tcp', 0],
      ],
    );
  });
});

const P1_MAPPINGS: PortMapping[] = [
  { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 32770 },
  { proto: 'udp', containerPort: 80, hostIp: '127.0.0.1', hostPort: 18080 },
  { proto: 'tcp', containerPort: 81, hostIp: '127.0.0.1', hostPort: 32769 },
  { proto: 'tcp', containerPort: 90, hostIp: '0.0.0.0', hostPort: 32768 },
];
const P1_SPEC = spec(
  {
    '80/tcp': [{ HostIp: '', HostPort: '' }],
    '80/udp': [{ HostIp: '127.0.0.1', HostPort: '18080' }],
    '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
  },
  ['80/tcp', '80/udp', '81/tcp', '90/tcp'],
  true,
);

describe('portMapView and portSummary', () => {
  test('NetworkSettings.Ports: every exposed or bound port, with its bindings', () => {
    assert.deepEqual(portMapView(P1_SPEC, P1_MAPPINGS), {
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '32770' }],
      '80/udp': [{ HostIp: '127.0.0.1', HostPort: '18080' }],
      '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '32769' }],
      '90/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }],
    });
  });

  test('exposed-only (or unbound) ports are null; keys are normalised to port/proto', () => {
    const view = portMapView(spec({ '5000': [] }, ['80/tcp', '53/UDP']), []);
    assert.deepEqual(view, { '53/udp': null, '80/tcp': null, '5000/tcp': null });
  });

  test('several bindings for one port are all listed; a mapping without a spec key still shows', () => {
    const m: PortMapping[] = [
      { proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPort: 18081 },
      { proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 18090 },
      { proto: 'tcp', containerPort: 7000, hostIp: '0.0.0.0', hostPort: 7000 },
    ];
    assert.deepEqual(portMapView(spec({ '80/tcp': [{}, {}] }), m), {
      '80/tcp': [
        { HostIp: '127.0.0.1', HostPort: '18081' },
        { HostIp: '0.0.0.0', HostPort: '18090' },
      ],
      '7000/tcp': [{ HostIp: '0.0.0.0', HostPort: '7000' }],
    });
  });

  test('nothing exposed or bound: {}', () => {
    assert.deepEqual(portMapView(spec({}), []), {});
  });

  test('docker ps Ports: the mappings, then exposed ports without one (no IP, no PublicPort)', () => {
    const s = spec({ '80/tcp': [{ HostPort: '8080' }] }, ['80/tcp', '443/tcp', '53/udp']);
    const out = portSummary(s, [{ proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 }]);
    assert.deepEqual(out, [
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { PrivatePort: 443, Type: 'tcp' },
      { PrivatePort: 53, Type: 'udp' },
    ]);
    assert.ok(!('IP' in out[1]) && !('PublicPort' in out[1]), 'absent, not undefined-valued keys in JSON');
    assert.equal(JSON.stringify(out[1]), '{"PrivatePort":443,"Type":"tcp"}');
  });
});

// ------------------------------------------------------------------ NetworkSettings

const ALL = [BRIDGE, HOST, NONE, NET2, N1];
const lookup = (id: string): NetworkRecord | undefined => ALL.find((n) => n.id === id);
const builtin = (name: string): NetworkRecord | undefined => ALL.find((n) => n.name === name);

const CID = `109af5878024${'c'.repeat(52)}`;

function cfg(n: NetworkRecord, extra: Partial<EndpointConfig> = {}): EndpointConfig {
  return {
    networkId: n.id,
    networkName: n.name,
    aliases: [],
    links: [],
    ipv4Address: '',
    macAddress: '',
    driverOpts: null,
    gwPriority: 0,
    ...extra,
  };
}

function ep(n: NetworkRecord, ip: string, extra: Partial<EndpointRecord> = {}): EndpointRecord {
  const octets = ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'));
  return {
    id: `${n.name.charAt(0)}e${'f'.repeat(62)}`,
    networkId: n.id,
    containerId: CID,
    ifName: 'eth0',
    hostVeth: 'veth1234567',
    ip,
    prefixLen: 24,
    gateway: n.ipam[0]?.Gateway ?? '',
    mac: `02:42:${octets.join(':')}`,
    aliases: [],
    links: [],
    dnsNames: [],
    ports: [],
    defaultRoute: true,
    ...extra,
  };
}

function view(extra: Partial<ContainerNetView>): ContainerNetView {
  return {
    id: CID,
    running: true,
    mode: 'default',
    configs: [cfg(BRIDGE)],
    endpoints: [],
    ports: spec({}),
    netnsPath: '/run/netns/berth-109af5878024',
    ...extra,
  };
}

/** The endpoint entry dockerd writes for a configured network with no live endpoint. */
function blankEntry(networkId: string): Record<string, unknown> {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    MacAddress: '',
    DriverOpts: null,
    GwPriority: 0,
    NetworkID: networkId,
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

/** NetworkSettings as a client before API 1.52 gets it: the daemon's view shaped by api/version-shapes.ts. */
function legacySettings(v: ContainerNetView): NetworkSettings & Record<string, unknown> {
  const body = shapes.containerInspect({ NetworkSettings: networkSettingsView(v, lookup, builtin) }, '1.51');
  return body.NetworkSettings as NetworkSettings & Record<string, unknown>;
}

describe('networkSettingsView and networksView', () => {
  test('default bridge, running: the bridge entry and (legacy API) the top-level fields from it', () => {
    const bep = ep(BRIDGE, '10.252.0.2', { ports: [{ proto: 'tcp', containerPort: 80, hostIp: '0.0.0.0', hostPort: 32770 }] });
    const v = view({ endpoints: [bep], ports: spec({ '80/tcp': [{}] }, ['80/tcp', '90/tcp']) });
    const out = legacySettings(v);
    assert.match(out.SandboxID ?? '', /^[0-9a-f]{64}$/);
    assert.equal(out.SandboxKey, '/run/netns/berth-109af5878024');
    assert.deepEqual(out.Ports, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '32770' }], '90/tcp': null });
    assert.deepEqual(JSON.parse(JSON.stringify(out.Networks)), {
      bridge: {
        ...blankEntry(BRIDGE.id),
        MacAddress: '02:42:0a:fc:00:02',
        EndpointID: bep.id,
        Gateway: '10.252.0.1',
        IPAddress: '10.252.0.2',
        IPPrefixLen: 24,
      },
    });
    const legacy = {
      Bridge: out.Bridge,
      HairpinMode: out.HairpinMode,
      LinkLocalIPv6Address: out.LinkLocalIPv6Address,
      LinkLocalIPv6PrefixLen: out.LinkLocalIPv6PrefixLen,
      SecondaryIPAddresses: out.SecondaryIPAddresses,
      SecondaryIPv6Addresses: out.SecondaryIPv6Addresses,
      EndpointID: out.EndpointID,
      Gateway: out.Gateway,
      GlobalIPv6Address: out.GlobalIPv6Address,
      GlobalIPv6PrefixLen: out.GlobalIPv6PrefixLen,
      IPAddress: out.IPAddress,
      IPPrefixLen: out.IPPrefixLen,
      IPv6Gateway: out.IPv6Gateway,
      MacAddress: out.MacAddress,
    };
    assert.deepEqual(legacy, {
      Bridge: '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: bep.id,
      Gateway: '10.252.0.1',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: '10.252.0.2',
      IPPrefixLen: 24,
      IPv6Gateway: '',
      MacAddress: '02:42:0a:fc:00:02',
    });
    // The same container as the current API shows it: no deprecated fields.
    const modern = networkSettingsView(v, lookup, builtin);
    for (const k of ['Bridge', 'EndpointID', 'IPAddress', 'Gateway', 'MacAddress', 'SecondaryIPAddresses', 'HairpinMode'])
      assert.ok(!(k in modern), k);
    assert.deepEqual(Object.keys(modern).sort(), ['Networks', 'Ports', 'SandboxID', 'SandboxKey']);
  });

  test('user network, running: aliases, static address and DNS names in the entry; the top level stays empty', () => {
    const uep = ep(NET2, '10.99.0.10', { aliases: ['web', 'www'], dnsNames: ['u1', 'web', 'www', '109af5878024'] });
    const v = view({ mode: 'net2', configs: [cfg(NET2, { aliases: ['web', 'www'], ipv4Address: '10.99.0.10' })], endpoints: [uep] });
    const out = legacySettings(v);
    assert.deepEqual(JSON.parse(JSON.stringify(out.Networks)), {
      net2: {
        ...blankEntry(NET2.id),
        IPAMConfig: { IPv4Address: '10.99.0.10' },
        Aliases: ['web', 'www'],
        MacAddress: '02:42:0a:63:00:0a',
        EndpointID: uep.id,
        Gateway: '10.99.0.1',
        IPAddress: '10.99.0.10',
        IPPrefixLen: 24,
        DNSNames: ['u1', 'web', 'www', '109af5878024'],
      },
    });
    assert.deepEqual([out.EndpointID, out.Gateway, out.IPAddress, out.IPPrefixLen, out.MacAddress], ['', '', '', 0, '']);
  });

  test('on the default bridge and a user network: the top level comes from the bridge endpoint even when listed second', () => {
    const uep = ep(N1, '10.253.0.7', { ifName: 'eth1', dnsNames: ['c'] });
    const bep = ep(BRIDGE, '10.252.0.9');
    const v = view({ configs: [cfg(BRIDGE), cfg(N1, { driverOpts: {} })], endpoints: [uep, bep] });
    const out = legacySettings(v);
    assert.deepEqual(
      [out.EndpointID, out.IPAddress, out.Gateway, out.MacAddress],
      [bep.id, '10.252.0.9', '10.252.0.1', '02:42:0a:fc:00:09'],
    );
    assert.deepEqual(Object.keys(out.Networks ?? {}), ['bridge', 'n1']);
    assert.equal(out.Networks?.n1.IPAddress, '10.253.0.7');
    assert.deepEqual(out.Networks?.n1.DriverOpts, {}, 'DriverOpts {} stays {} (CLI connects), not null');
  });

  test('stopped on a user network: NetworkID kept, the rest blank, Ports {}, configured aliases kept', () => {
    const v = view({
      running: false,
      mode: 'n1',
      configs: [cfg(N1, { aliases: ['a2'], links: ['srv:db'] })],
      endpoints: [ep(N1, '10.253.0.2')], // stale: a stopped container has no live endpoint
      ports: spec({ '80/tcp': [{ HostPort: '8080' }] }, ['80/tcp']),
    });
    const out = legacySettings(v);
    assert.deepEqual(out.Ports, {});
    assert.deepEqual(JSON.parse(JSON.stringify(out.Networks)), { n1: { ...blankEntry(N1.id), Aliases: ['a2'], Links: ['srv:db'] } });
    assert.deepEqual([out.EndpointID, out.IPAddress], ['', '']);
    assert.equal(out.SandboxID, '');
    assert.equal(out.SandboxKey, '');
    assert.deepEqual(summaryPorts(v), []);
  });

  test('a network unknown at create shows under its name with an empty NetworkID', () => {
    const v = view({ running: false, mode: 'nosuch', configs: [{ ...cfg(N1), networkId: '', networkName: 'nosuch' }] });
    assert.deepEqual(JSON.parse(JSON.stringify(networksView(v, lookup, builtin))), { nosuch: blankEntry('') });
  });

  test('--network none and host: one entry for the mode, no ports, empty top level', () => {
    for (const [mode, n] of [
      ['none', NONE],
      ['host', HOST],
    ] as const) {
      const v = view({ mode, configs: [], ports: spec({ '80/tcp': [{}] }, ['80/tcp']) });
      const out = legacySettings(v);
      assert.deepEqual(Object.keys(out.Networks ?? {}), [mode]);
      const entry = out.Networks?.[mode];
      assert.equal(entry?.NetworkID, n.id);
      assert.deepEqual([entry?.IPAMConfig, entry?.Links, entry?.Aliases, entry?.DriverOpts], [null, null, null, null]);
      assert.deepEqual([entry?.IPAddress, entry?.Gateway, entry?.MacAddress, entry?.IPPrefixLen], ['', '', '', 0]);
      assert.deepEqual(out.Ports, {});
      assert.deepEqual([out.EndpointID, out.IPAddress], ['', '']);
      assert.deepEqual(summaryPorts(v), []);
    }
  });

  // net-facts §7: a RUNNING --network none / host container has an endpoint in that network
  // ("EndpointID":"<64hex>"); Berth leaves it "".
  test('--network none and host, running: the entry has an EndpointID as in dockerd', () => {
    for (const mode of ['none', 'host']) {
      const out = legacySettings(view({ mode, configs: [] }));
      assert.match(out.Networks?.[mode]?.EndpointID ?? '', /^[0-9a-f]{64}$/, mode);
    }
  });

  test('--network container:<id>: no sandbox of its own, Networks {}, Ports {}', () => {
    const v = view({ mode: `container:${hex('a')}`, configs: [], netnsPath: undefined, ports: spec({}) });
    const out = legacySettings(v);
    assert.deepEqual([out.SandboxID, out.SandboxKey], ['', '']);
    assert.deepEqual(out.Networks, {});
    assert.deepEqual(out.Ports, {});
    assert.deepEqual([out.EndpointID, out.IPAddress, out.MacAddress], ['', '', '']);
    assert.deepEqual(summaryPorts(v), []);
  });

  test("summaryPorts: a running container with its own stack lists the first endpoint's mappings then exposed ports", () => {
    const bep = ep(BRIDGE, '10.252.0.2', { ports: P1_MAPPINGS });
    const out = summaryPorts(view({ endpoints: [bep], ports: spec(P1_SPEC.bindings, [...P1_SPEC.exposed, '443/tcp'], true) }));
    assert.deepEqual(out, [
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 32770, Type: 'tcp' },
      { IP: '127.0.0.1', PrivatePort: 80, PublicPort: 18080, Type: 'udp' },
      { IP: '127.0.0.1', PrivatePort: 81, PublicPort: 32769, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 90, PublicPort: 32768, Type: 'tcp' },
      { PrivatePort: 443, Type: 'tcp' },
    ]);
  });
});

describe('publishMatches (docker ps --filter publish=)', () => {
  const published: PortSummary[] = [
    { IP: '127.0.0.1', PrivatePort: 80, PublicPort: 18081, Type: 'tcp' },
    { IP: '0.0.0.0', PrivatePort: 53, PublicPort: 15353, Type: 'udp' },
    { PrivatePort: 443, Type: 'tcp' },
  ];

  test('matches the host side of a mapping; tcp by default', () => {
    assert.equal(publishMatches('18081', published), true);
    assert.equal(publishMatches('18081/tcp', published), true);
    assert.equal(publishMatches('18081/udp', published), false);
    assert.equal(publishMatches('15353/udp', published), true);
    assert.equal(publishMatches('15353', published), false);
  });

  test('the container side and exposed-only ports do not match (net-facts: publish=80 matched nothing)', () => {
    assert.equal(publishMatches('80', published), false);
    assert.equal(publishMatches('443', published), false);
  });

  test('ranges are inclusive', () => {
    assert.equal(publishMatches('18000-18081', published), true);
    assert.equal(publishMatches('18081-18090/tcp', published), true);
    assert.equal(publishMatches('18082-18090', published), false);
    assert.equal(publishMatches('15000-16000/udp', published), true);
  });

  test('malformed values are InvalidParameter', () => {
    for (const bad of ['abc', '127.0.0.1:80', '80-', '']) assert.throws(() => publishMatches(bad, published), InvalidParameter, bad);
  });
});
