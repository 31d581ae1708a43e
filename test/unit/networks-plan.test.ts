// What a container asks of its networks, checked as dockerd checks it: the endpoint plan at
// create (planEndpoints), `docker network connect` (checkConnect) and moby's validateNetMode
// (checkNetworkModeConflicts). Expected texts are dockerd 20.10's, measured with curl on the
// reference daemon (see the net-facts notes) or read from moby's runconfig/errors.go.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContainerConfig, HostConfig, NetworkingConfig } from '../../daemon/containers/api-types';
import { Forbidden, InvalidParameter, NotFound } from '../../lib/errors';
import {
  checkConnect,
  checkNetworkModeConflicts,
  ownsNetworkStack,
  planEndpoints,
  type NetworkLookup,
} from '../../daemon/networks/endpoint-plan';
import type { EndpointConfig, NetworkRecord } from '../../daemon/networks/model';
import { hex, netRecord } from './network-records';

const net = netRecord;

const BRIDGE = net('bridge', hex('b'), { builtin: true, ipam: [{ Subnet: '10.252.0.0/24', Gateway: '10.252.0.1' }], bridgeName: 'berth0' });
const HOST = net('host', hex('h'), { builtin: true, driver: 'host' });
const NONE = net('none', hex('0'), { builtin: true, driver: 'null' });
/** A user network with a subnet carved from the default pools. */
const N1 = net('n1', `e1${hex('1').slice(2)}`, { ipam: [{ Subnet: '10.253.0.0/24', Gateway: '10.253.0.1' }] });
/** A user network created with --subnet. */
const NET2 = net('net2', `e2${hex('2').slice(2)}`, { ipamConfigured: true, ipam: [{ Subnet: '10.99.0.0/24', Gateway: '10.99.0.1' }] });

/** dockerd's FindNetwork: full ID, exact name, unique ID prefix. */
class FakeNetworks implements NetworkLookup {
  constructor(private readonly nets: NetworkRecord[]) {}

  get(input: string): NetworkRecord {
    const n = this.tryGet(input);
    if (!n) throw new NotFound(`network ${input} not found`);
    return n;
  }

  tryGet(input: string): NetworkRecord | undefined {
    const exact = this.nets.find((n) => n.id === input || n.name === input);
    if (exact) return exact;
    if (!/^[0-9a-f]+$/.test(input)) return undefined;
    const byPrefix = this.nets.filter((n) => n.id.startsWith(input));
    return byPrefix.length === 1 ? byPrefix[0] : undefined;
  }
}

const NETS = new FakeNetworks([BRIDGE, HOST, NONE, N1, NET2]);
/** A daemon started with --bridge=none: no default bridge. */
const NO_BRIDGE = new FakeNetworks([HOST, NONE, N1, NET2]);

function plan(
  host: HostConfig,
  endpoints?: NetworkingConfig['EndpointsConfig'],
  lookup: NetworkLookup = NETS,
  legacyMac = '',
): EndpointConfig[] {
  return planEndpoints(host, endpoints === undefined ? null : { EndpointsConfig: endpoints }, lookup, legacyMac);
}

function endpoint(n: NetworkRecord, extra: Partial<EndpointConfig> = {}): EndpointConfig {
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

/** assert.throws with the error class and the exact message. */
function throwsExactly(fn: () => unknown, kind: typeof InvalidParameter | typeof Forbidden, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof kind, `expected ${kind.name}, got ${String(err)}`);
    assert.equal((err as Error).message, message);
    return true;
  });
}

const ALIAS_ON_DEFAULT = 'network-scoped alias is supported only for containers in user defined networks';
const IP_ON_DEFAULT = 'user specified IP address is supported on user defined networks only';
const IP_NEEDS_SUBNET = 'user specified IP address is supported only when connecting to networks with user configured subnets';

describe('planEndpoints: default and bridge modes', () => {
  test('no --network: one endpoint on the default bridge, named bridge, with nothing asked for', () => {
    const expected = [endpoint(BRIDGE)];
    assert.deepEqual(plan({}), expected);
    assert.deepEqual(plan({ NetworkMode: '' }), expected);
    assert.deepEqual(plan({ NetworkMode: 'default' }), expected);
    assert.deepEqual(plan({ NetworkMode: 'default' }, {}), expected);
    assert.deepEqual(plan({ NetworkMode: 'bridge' }), expected);
  });

  test('the CLI keys the default mode\'s settings "default": they land on the bridge endpoint, once', () => {
    const out = plan(
      { NetworkMode: 'default' },
      { default: { MacAddress: '02:42:AC:11:00:09', Links: ['srv:db'], DriverOpts: { a: 'b' }, GwPriority: 5 } },
    );
    assert.deepEqual(out, [
      endpoint(BRIDGE, { macAddress: '02:42:ac:11:00:09', links: ['srv:db'], driverOpts: { a: 'b' }, gwPriority: 5 }),
    ]);
  });

  test('settings keyed "bridge" for --network bridge are used too', () => {
    assert.deepEqual(plan({ NetworkMode: 'bridge' }, { bridge: { Links: ['x:y'] } }), [endpoint(BRIDGE, { links: ['x:y'] })]);
  });

  test("aliases on the default bridge are refused with dockerd's text, whatever key carries them", () => {
    for (const key of ['default', 'bridge']) {
      throwsExactly(() => plan({ NetworkMode: 'default' }, { [key]: { Aliases: ['web'] } }), InvalidParameter, ALIAS_ON_DEFAULT);
    }
    throwsExactly(() => plan({ NetworkMode: 'bridge' }, { bridge: { Aliases: ['web'] } }), InvalidParameter, ALIAS_ON_DEFAULT);
    // Empty strings are no aliases (the CLI can send [""]).
    assert.deepEqual(plan({ NetworkMode: 'bridge' }, { bridge: { Aliases: [''] } }), [endpoint(BRIDGE)]);
  });

  test("--ip on the default bridge is refused with dockerd's text", () => {
    throwsExactly(() => plan({}, { default: { IPAMConfig: { IPv4Address: '10.252.0.50' } } }), InvalidParameter, IP_ON_DEFAULT);
    throwsExactly(
      () => plan({ NetworkMode: 'bridge' }, { bridge: { IPAMConfig: { IPv4Address: '10.252.0.50' } } }),
      InvalidParameter,
      IP_ON_DEFAULT,
    );
  });

  test('the legacy Config.MacAddress applies to the first endpoint; a per-endpoint MAC wins', () => {
    assert.equal(plan({}, undefined, NETS, '02:42:0A:FC:00:63')[0].macAddress, '02:42:0a:fc:00:63');
    assert.equal(plan({}, { default: { MacAddress: '02:42:00:00:00:01' } }, NETS, '02:42:00:00:00:02')[0].macAddress, '02:42:00:00:00:01');
    // The extra network does not inherit it.
    const two = plan({ NetworkMode: 'net2' }, { n1: {} }, NETS, '02:42:00:00:00:02');
    assert.deepEqual(
      two.map((e) => e.macAddress),
      ['02:42:00:00:00:02', ''],
    );
  });

  test('a malformed MAC is refused (InvalidParameter), legacy or per endpoint', () => {
    for (const bad of ['zz', '02:42:ac:11:00', '02:42:ac:11:00:0g', '02-42-ac-11-00-09', '02:42:ac:11:00:09:']) {
      throwsExactly(() => plan({ NetworkMode: 'net2' }, { net2: { MacAddress: bad } }), InvalidParameter, `invalid MAC address: ${bad}`);
      throwsExactly(() => plan({}, undefined, NETS, bad), InvalidParameter, `invalid MAC address: ${bad}`);
    }
  });

  test('a daemon without a default bridge: the default mode gets no endpoint; options for other networks are refused', () => {
    assert.deepEqual(plan({}, undefined, NO_BRIDGE), []);
    assert.deepEqual(plan({}, { default: {} }, NO_BRIDGE), []);
    assert.throws(() => plan({}, { net2: {} }, NO_BRIDGE), InvalidParameter);
  });
});

describe('planEndpoints: user networks', () => {
  test('by name: aliases (empty ones dropped), --ip, driver options and priority are kept', () => {
    const out = plan(
      { NetworkMode: 'net2' },
      { net2: { Aliases: ['web', '', 'www'], IPAMConfig: { IPv4Address: '10.99.0.10' }, DriverOpts: { k: 'v' }, GwPriority: 3 } },
    );
    assert.deepEqual(out, [endpoint(NET2, { aliases: ['web', 'www'], ipv4Address: '10.99.0.10', driverOpts: { k: 'v' }, gwPriority: 3 })]);
  });

  test('by full ID or ID prefix: resolved to the network, the ID keyed settings used', () => {
    const byId = plan({ NetworkMode: NET2.id }, { [NET2.id]: { Aliases: ['a'] } });
    assert.equal(byId.length, 1);
    assert.equal(byId[0].networkId, NET2.id);
    assert.equal(byId[0].networkName, 'net2', 'the full ID is shown as the network name');
    assert.deepEqual(byId[0].aliases, ['a']);
    const byPrefix = plan({ NetworkMode: 'e2' });
    assert.equal(byPrefix.length, 1);
    assert.equal(byPrefix[0].networkId, NET2.id);
  });

  test('--ip needs a network with a configured subnet', () => {
    throwsExactly(
      () => plan({ NetworkMode: 'n1' }, { n1: { IPAMConfig: { IPv4Address: '10.253.0.9' } } }),
      InvalidParameter,
      IP_NEEDS_SUBNET,
    );
    assert.equal(plan({ NetworkMode: 'net2' }, { net2: { IPAMConfig: { IPv4Address: '10.99.0.9' } } })[0].ipv4Address, '10.99.0.9');
  });

  test('a malformed --ip and an IPv6 address are refused', () => {
    for (const bad of ['10.99.0', 'foo', '10.99.0.1/24']) {
      assert.throws(() => plan({ NetworkMode: 'net2' }, { net2: { IPAMConfig: { IPv4Address: bad } } }), InvalidParameter, bad);
    }
    assert.throws(() => plan({ NetworkMode: 'net2' }, { net2: { IPAMConfig: { IPv6Address: 'fd00::5' } } }), InvalidParameter);
  });

  test("extra networks in EndpointsConfig follow the first one (NetworkMode's), whatever the key order", () => {
    const out = plan({ NetworkMode: 'net2' }, { n1: { Aliases: ['x'] }, net2: { Aliases: ['y'] } });
    assert.deepEqual(
      out.map((e) => [e.networkName, e.aliases]),
      [
        ['net2', ['y']],
        ['n1', ['x']],
      ],
    );
  });

  test('the same network named twice (name and ID) gives one endpoint', () => {
    const out = plan({ NetworkMode: 'net2' }, { net2: {}, [NET2.id]: {} });
    assert.deepEqual(
      out.map((e) => e.networkId),
      [NET2.id],
    );
  });

  test('the default bridge as an extra network keeps its rules', () => {
    const out = plan({ NetworkMode: 'net2' }, { bridge: {} });
    assert.deepEqual(
      out.map((e) => e.networkName),
      ['net2', 'bridge'],
    );
    throwsExactly(() => plan({ NetworkMode: 'net2' }, { bridge: { Aliases: ['a'] } }), InvalidParameter, ALIAS_ON_DEFAULT);
    throwsExactly(
      () => plan({ NetworkMode: 'net2' }, { bridge: { IPAMConfig: { IPv4Address: '10.252.0.9' } } }),
      InvalidParameter,
      IP_ON_DEFAULT,
    );
  });

  test('host or none next to a bridge network is refused', () => {
    assert.throws(() => plan({ NetworkMode: 'net2' }, { host: {} }), InvalidParameter);
    assert.throws(() => plan({}, { none: {} }), InvalidParameter);
  });

  test('an unknown network is kept by name, unresolved, for the 404 at start (dockerd 20.10 creates the container)', () => {
    const out = plan(
      { NetworkMode: 'nosuch' },
      { nosuch: { Aliases: ['a', ''], IPAMConfig: { IPv4Address: '10.1.2.3' }, MacAddress: '02:42:AA:00:00:01' } },
    );
    assert.deepEqual(out, [
      {
        networkId: '',
        networkName: 'nosuch',
        aliases: ['a'],
        links: [],
        ipv4Address: '10.1.2.3',
        macAddress: '02:42:aa:00:00:01',
        driverOpts: null,
        gwPriority: 0,
      },
    ]);
    assert.deepEqual(plan({ NetworkMode: 'nosuch' }), [{ ...endpoint(BRIDGE), networkId: '', networkName: 'nosuch' }]);
  });

  test('an unknown extra network is kept unresolved after the known ones', () => {
    const out = plan({ NetworkMode: 'net2' }, { gone: { Aliases: ['g'] }, net2: {} });
    assert.deepEqual(
      out.map((e) => [e.networkId, e.networkName, e.aliases]),
      [
        [NET2.id, 'net2', []],
        ['', 'gone', ['g']],
      ],
    );
  });

  test('--network <ID of host or none> is refused (the mode must be named)', () => {
    assert.throws(() => plan({ NetworkMode: HOST.id }), InvalidParameter);
    assert.throws(() => plan({ NetworkMode: NONE.id }), InvalidParameter);
  });
});

describe('planEndpoints: host, none and container: modes', () => {
  test('no endpoints; settings keyed by the mode itself are accepted', () => {
    assert.deepEqual(plan({ NetworkMode: 'host' }), []);
    assert.deepEqual(plan({ NetworkMode: 'host' }, { host: {} }), []);
    assert.deepEqual(plan({ NetworkMode: 'none' }), []);
    assert.deepEqual(plan({ NetworkMode: 'none' }, { none: {} }), []);
    assert.deepEqual(plan({ NetworkMode: `container:${hex('c')}` }), []);
  });

  test("aliases and --ip under none or host: dockerd's texts (20.10 reports them at start)", () => {
    throwsExactly(() => plan({ NetworkMode: 'none' }, { none: { Aliases: ['a'] } }), InvalidParameter, ALIAS_ON_DEFAULT);
    throwsExactly(() => plan({ NetworkMode: 'host' }, { host: { Aliases: ['a'] } }), InvalidParameter, ALIAS_ON_DEFAULT);
    throwsExactly(
      () => plan({ NetworkMode: 'none' }, { none: { IPAMConfig: { IPv4Address: '10.0.0.2' } } }),
      InvalidParameter,
      IP_ON_DEFAULT,
    );
    throwsExactly(
      () => plan({ NetworkMode: 'host' }, { host: { IPAMConfig: { IPv4Address: '10.0.0.2' } } }),
      InvalidParameter,
      IP_ON_DEFAULT,
    );
  });

  test('other networks next to host, none or container: are refused', () => {
    assert.throws(() => plan({ NetworkMode: 'host' }, { net2: {} }), InvalidParameter);
    assert.throws(() => plan({ NetworkMode: 'none' }, { n1: {} }), InvalidParameter);
    assert.throws(() => plan({ NetworkMode: 'container:abc' }, { net2: {} }), InvalidParameter);
    assert.throws(() => plan({ NetworkMode: 'container:abc' }, { 'container:abc': { Aliases: ['a'] } }), InvalidParameter);
  });

  test('ownsNetworkStack: bridge-like modes only', () => {
    for (const m of [undefined, '', 'default', 'bridge', 'net2', NET2.id]) assert.equal(ownsNetworkStack(m), true, String(m));
    for (const m of ['host', 'none', 'container:abc']) assert.equal(ownsNetworkStack(m), false, m);
  });
});

describe('checkConnect (docker network connect)', () => {
  const onN1 = [endpoint(N1)];

  test("to host: dockerd's text, from any mode", () => {
    for (const mode of ['default', 'n1', 'none', 'host']) {
      throwsExactly(
        () => checkConnect(mode, onN1, HOST, 'c2'),
        InvalidParameter,
        'container cannot be disconnected from host network or connected to host network',
      );
    }
  });

  test('to none, or from a --network none container: the private (none) mode text', () => {
    const text = 'container cannot be connected to multiple networks with one of the networks in private (none) mode';
    throwsExactly(() => checkConnect('n1', onN1, NONE, 'c2'), InvalidParameter, text);
    throwsExactly(() => checkConnect('default', [endpoint(BRIDGE)], NONE, 'c2'), InvalidParameter, text);
    throwsExactly(() => checkConnect('none', [], NET2, 'cn'), InvalidParameter, text);
  });

  test('from host or container: modes: the shared namespace text', () => {
    const text = 'container sharing network namespace with another container or host cannot be connected to any other network';
    throwsExactly(() => checkConnect('host', [], NET2, 'ch'), InvalidParameter, text);
    throwsExactly(() => checkConnect(`container:${hex('c')}`, [], NET2, 'k1'), InvalidParameter, text);
  });

  test("connecting twice is Forbidden (403) with dockerd's text", () => {
    throwsExactly(() => checkConnect('n1', onN1, N1, 'c2'), Forbidden, 'endpoint with name c2 already exists in network n1');
    throwsExactly(
      () => checkConnect(undefined, [endpoint(BRIDGE)], BRIDGE, 'c1'),
      Forbidden,
      'endpoint with name c1 already exists in network bridge',
    );
  });

  test('a new bridge network is fine, from the default, user or unset mode', () => {
    assert.doesNotThrow(() => checkConnect('n1', onN1, NET2, 'c2'));
    assert.doesNotThrow(() => checkConnect(undefined, [endpoint(BRIDGE)], N1, 'c1'));
    assert.doesNotThrow(() => checkConnect('net2', [endpoint(NET2)], BRIDGE, 'u1'));
    assert.doesNotThrow(() => checkConnect('default', [], N1, 'created'));
  });
});

describe('checkNetworkModeConflicts (moby validateNetMode)', () => {
  const ctr = `container:${hex('c')}`;
  function conflict(config: ContainerConfig, host: HostConfig, message: string): void {
    throwsExactly(() => checkNetworkModeConflicts(config, host), InvalidParameter, message);
  }

  test('container: mode and a hostname', () => {
    conflict({ Hostname: 'x' }, { NetworkMode: ctr }, 'conflicting options: hostname and the network mode');
  });

  test('container: mode and links', () => {
    conflict(
      {},
      { NetworkMode: ctr, Links: ['srv:db'] },
      "conflicting options: container type network can't be used with links. This would result in undefined behavior",
    );
  });

  test('container: mode and --dns', () => {
    conflict({}, { NetworkMode: ctr, Dns: ['1.1.1.1'] }, 'conflicting options: dns and the network mode');
  });

  test('container: mode and --add-host', () => {
    conflict({}, { NetworkMode: ctr, ExtraHosts: ['a:1.2.3.4'] }, 'conflicting options: custom host-to-IP mapping and the network mode');
  });

  test('container: or host mode and a MAC address', () => {
    const cfg = { MacAddress: '02:42:00:00:00:01' } as ContainerConfig;
    conflict(cfg, { NetworkMode: ctr }, 'conflicting options: mac-address and the network mode');
    conflict(cfg, { NetworkMode: 'host' }, 'conflicting options: mac-address and the network mode');
  });

  test('container: mode and published ports (-p or -P)', () => {
    conflict(
      {},
      { NetworkMode: ctr, PortBindings: { '80/tcp': [{ HostPort: '8080' }] } },
      'conflicting options: port publishing and the container type network mode',
    );
    conflict({}, { NetworkMode: ctr, PublishAllPorts: true }, 'conflicting options: port publishing and the container type network mode');
  });

  test('container: mode and exposed ports', () => {
    conflict(
      { ExposedPorts: { '80/tcp': {} } },
      { NetworkMode: ctr },
      'conflicting options: port exposing and the container type network mode',
    );
  });

  test('host mode and links', () => {
    conflict(
      {},
      { NetworkMode: 'host', Links: ['srv:db'] },
      "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
    );
  });

  test("the first conflict in moby's order is the one reported", () => {
    conflict(
      { Hostname: 'x', ExposedPorts: { '80/tcp': {} } },
      { NetworkMode: ctr, Dns: ['1.1.1.1'], Links: ['a:b'] },
      'conflicting options: hostname and the network mode',
    );
    conflict({}, { NetworkMode: ctr, Dns: ['1.1.1.1'], ExtraHosts: ['a:1.2.3.4'] }, 'conflicting options: dns and the network mode');
  });

  test('empty lists and false flags are no conflict; other modes allow all of it', () => {
    assert.doesNotThrow(() =>
      checkNetworkModeConflicts(
        { ExposedPorts: {} },
        { NetworkMode: ctr, Links: [], Dns: [], ExtraHosts: [], PortBindings: {}, PublishAllPorts: false },
      ),
    );
    const everything: HostConfig = {
      Links: ['a:b'],
      Dns: ['1.1.1.1'],
      ExtraHosts: ['a:1.2.3.4'],
      PortBindings: { '80/tcp': [{}] },
      PublishAllPorts: true,
    };
    const cfg = { Hostname: 'x', ExposedPorts: { '80/tcp': {} }, MacAddress: '02:42:00:00:00:01' } as ContainerConfig;
    for (const mode of [undefined, '', 'default', 'bridge', 'net2']) {
      assert.doesNotThrow(() => checkNetworkModeConflicts(cfg, { ...everything, NetworkMode: mode }), String(mode));
    }
    // host: a hostname, --dns, --add-host and ports are accepted (ports are dropped with a warning elsewhere).
    assert.doesNotThrow(() =>
      checkNetworkModeConflicts(
        { Hostname: 'x', ExposedPorts: { '80/tcp': {} } },
        { NetworkMode: 'host', Dns: ['1.1.1.1'], ExtraHosts: ['a:1.2.3.4'], PortBindings: { '80/tcp': [{}] } },
      ),
    );
  });

  // dockerd 20.10, measured: POST /containers/create with NetworkMode "container:" or "container"
  // → [400] `Invalid network mode: invalid container format container:<name|id>` (moby
  // validateNetContainerMode), checked before the hostname conflict.
  test("container mode without a container: dockerd's invalid format text", () => {
    for (const mode of ['container:', 'container']) {
      conflict({}, { NetworkMode: mode }, 'Invalid network mode: invalid container format container:<name|id>');
      conflict({ Hostname: 'x' }, { NetworkMode: mode }, 'Invalid network mode: invalid container format container:<name|id>');
    }
  });

  // dockerd 20.10, measured: {"Hostname":"x","HostConfig":{"UTSMode":"host"}} → [400]
  // `conflicting options: hostname and the UTS mode` (moby validateNetMode's ErrConflictUTSHostname).
  test('UTS host mode and a hostname', () => {
    conflict({ Hostname: 'x' }, { UTSMode: 'host' }, 'conflicting options: hostname and the UTS mode');
    assert.doesNotThrow(() => checkNetworkModeConflicts({}, { UTSMode: 'host' }));
  });
});

describe('planEndpoints: --ip6 and --link-local-ip', () => {
  const V6 = net('v6', `e6${hex('6').slice(2)}`, {
    enableIPv6: true,
    ipam: [
      { Subnet: '10.98.0.0/24', Gateway: '10.98.0.1' },
      { Subnet: 'fd00:98::/64', Gateway: 'fd00:98::1' },
    ],
  });
  const nets = new FakeNetworks([BRIDGE, HOST, NONE, N1, NET2, V6]);

  test("kept in Go's text on a network with IPv6, without a configured IPv4 subnet", () => {
    const [ep] = plan(
      { NetworkMode: 'v6' },
      { v6: { IPAMConfig: { IPv6Address: 'FD00:98:0::10', LinkLocalIPs: ['169.254.1.1', 'FE80::0:1'] } } },
      nets,
    );
    assert.deepEqual(ep, endpoint(V6, { ipv6Address: 'fd00:98::10', linkLocalIps: ['169.254.1.1', 'fe80::1'] }));
  });

  test("moby v29's texts: outside the IPv6 subnet, on a network without IPv6, malformed; on the default bridge as --ip", () => {
    throwsExactly(
      () => plan({ NetworkMode: 'v6' }, { v6: { IPAMConfig: { IPv6Address: 'fd00:99::10' } } }, nets),
      InvalidParameter,
      'invalid endpoint settings:\nno configured subnet contains IP address fd00:99::10',
    );
    throwsExactly(
      () => plan({ NetworkMode: 'net2' }, { net2: { IPAMConfig: { IPv6Address: 'fd00:98::10' } } }, nets),
      InvalidParameter,
      'invalid endpoint settings:\nno configured subnet contains IP address fd00:98::10',
    );
    throwsExactly(
      () => plan({ NetworkMode: 'v6' }, { v6: { IPAMConfig: { IPv6Address: '::', LinkLocalIPs: ['nope'] } } }, nets),
      InvalidParameter,
      'invalid endpoint settings:\ninvalid IPv6 address: ::\ninvalid link-local IP address: nope',
    );
    throwsExactly(() => plan({}, { default: { IPAMConfig: { IPv6Address: 'fd00:98::10' } } }, nets), InvalidParameter, IP_ON_DEFAULT);
  });
});
