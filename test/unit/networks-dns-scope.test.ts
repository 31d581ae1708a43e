// What the embedded DNS answers, and to whom (Sandboxes.lookup / reverse / upstreams), over a
// fake network service holding networks and live endpoints in memory. Behaviour per net-facts
// §9: names, aliases and short IDs of containers on the client's user networks, `name.network`,
// --link aliases for the linking container only, PTR as `name.network`, the container's --dns
// servers as its upstreams.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import pino from 'pino';
import { SubnetAllocator } from '../../network/ipam';
import type { Links } from '../../network/links';
import type { PortAllocator } from '../../network/port-allocator';
import type { PortProxy } from '../../network/port-proxy';
import type { EndpointRecord, NetworkRecord } from '../../daemon/networks/model';
import { EmbeddedDnsResolver } from '../../daemon/networks/dns-resolver';
import { Sandboxes, splitLink, type ContainerNet } from '../../daemon/networks/sandboxes';
import type { NetworkService } from '../../daemon/networks/service';
import type { EndpointRow, SandboxRow } from '../../store/network-repo';
import { netRecord } from './network-records';

function net(name: string, id: string, subnet: string, extra: Partial<NetworkRecord> = {}): NetworkRecord {
  return netRecord(name, id, {
    ipamConfigured: true,
    ipam: [{ Subnet: subnet, Gateway: subnet.replace(/0\/\d+$/, '1') }],
    bridgeName: `br-${id.slice(0, 12)}`,
    ...extra,
  });
}

const BRIDGE = net('bridge', 'b'.repeat(64), '10.252.0.0/24', { builtin: true, ipamConfigured: false, bridgeName: 'berth0' });
const NET2 = net('net2', '2'.repeat(64), '10.99.0.0/24');
const N1 = net('n1', '1'.repeat(64), '10.253.0.0/24');
const LK = net('lk', '3'.repeat(64), '10.98.0.0/24');
const HOST = net('host', 'h'.repeat(64), '0.0.0.0/0', { driver: 'host', builtin: true });

/** The parts of NetworkService (and its repo) that Sandboxes uses, over arrays. */
class FakeNetworkService {
  readonly nets: NetworkRecord[] = [BRIDGE, NET2, N1, LK, HOST];
  eps: EndpointRecord[] = [];
  readonly sandboxRows = new Map<string, SandboxRow>();
  readonly names = new Map<string, string>();
  readonly events: string[] = [];

  readonly usage = {
    containerName: (id: string): string | undefined => this.names.get(id),
    networkUsers: (): string[] => [],
  };

  private row(e: EndpointRecord): EndpointRow {
    return { id: e.id, networkId: e.networkId, containerId: e.containerId, recordJson: JSON.stringify(e) };
  }

  readonly repo = {
    endpointsOfContainer: (cid: string): EndpointRow[] => this.eps.filter((e) => e.containerId === cid).map((e) => this.row(e)),
    endpoints: (): EndpointRow[] => this.eps.map((e) => this.row(e)),
    putEndpoint: (r: EndpointRow): void => {
      const rec = JSON.parse(r.recordJson) as EndpointRecord;
      const i = this.eps.findIndex((e) => e.id === r.id);
      if (i >= 0) this.eps[i] = rec;
      else this.eps.push(rec);
    },
    deleteEndpoint: (id: string): void => {
      this.eps = this.eps.filter((e) => e.id !== id);
    },
    putSandbox: (r: SandboxRow): void => {
      this.sandboxRows.set(r.containerId, r);
    },
    sandbox: (cid: string): SandboxRow | undefined => this.sandboxRows.get(cid),
    sandboxes: (): SandboxRow[] => [...this.sandboxRows.values()],
    deleteSandbox: (cid: string): void => {
      this.sandboxRows.delete(cid);
    },
  };

  endpoints(networkId?: string): EndpointRecord[] {
    return this.eps.filter((e) => networkId === undefined || e.networkId === networkId).map((e) => structuredClone(e));
  }

  private readonly allocators = new Map<string, SubnetAllocator>();

  allocator(n: NetworkRecord): SubnetAllocator {
    let a = this.allocators.get(n.id);
    if (!a) {
      a = new SubnetAllocator({ subnet: n.ipam[0].Subnet, reserved: [n.ipam[0].Gateway] });
      for (const e of this.eps) if (e.networkId === n.id && e.ip) a.claim(e.ip);
      this.allocators.set(n.id, a);
    }
    return a;
  }

  tryGet(input: string): NetworkRecord | undefined {
    return this.nets.find((n) => n.id === input || n.name === input);
  }

  get(input: string): NetworkRecord {
    const n = this.tryGet(input);
    if (!n) throw new Error(`network ${input} not found`);
    return n;
  }

  async syncFirewall(): Promise<void> {}

  publishNetworkEvent(action: string, n: NetworkRecord, containerId: string): void {
    this.events.push(`${action} ${n.name} ${containerId}`);
  }
}

const fakeLinks = {
  createNetns: async (name: string): Promise<string> => `/run/netns/${name}`,
  deleteNetns: async (): Promise<void> => undefined,
  removeEndpoint: async (): Promise<void> => undefined,
  removeSandbox: async (): Promise<void> => undefined,
};
const fakePorts = { release: (): void => undefined };

let fake: FakeNetworkService;
let sb: Sandboxes;
/** The embedded DNS's answers, over the same fake. */
let dns: EmbeddedDnsResolver;
let hostResolvers: string[];
let serial = 0;

/** A container's live endpoint, as Sandboxes.attach records it (names only on user networks). */
function addEp(cid: string, name: string, n: NetworkRecord, ip: string, opts: { aliases?: string[]; links?: string[] } = {}): EndpointRecord {
  fake.names.set(cid, name);
  const userNet = n.name !== 'bridge';
  const ep: EndpointRecord = {
    id: (++serial).toString(16).padStart(64, '0'),
    networkId: n.id,
    containerId: cid,
    ifName: `eth${fake.eps.filter((e) => e.containerId === cid).length}`,
    hostVeth: `veth${serial}`,
    ip,
    prefixLen: 24,
    gateway: n.ipam[0].Gateway,
    mac: '02:42:00:00:00:00',
    aliases: opts.aliases ?? [],
    links: opts.links ?? [],
    dnsNames: userNet ? [name, ...(opts.aliases ?? []), cid.slice(0, 12)] : [],
    ports: [],
    defaultRoute: true,
  };
  fake.eps.push(ep);
  return ep;
}

const id = (c: string): string => c.repeat(64);
const U1 = id('a');
const C2 = id('c');
const D1 = id('d');
const E1 = id('e');
const P1 = id('f');
const Q1 = id('9');
const SRV = id('5');
const LINKER = id('6');
const OTHER = id('7');

function ask(n: NetworkRecord, clientIp: string, name: string): string[] | null {
  return dns.lookup(n.id, clientIp, name)?.addresses ?? null;
}

beforeEach(() => {
  fake = new FakeNetworkService();
  hostResolvers = ['10.255.255.53'];
  const upstreams = new Map<string, string[]>();
  sb = new Sandboxes({
    networks: fake as unknown as NetworkService,
    links: fakeLinks as unknown as Links,
    ports: fakePorts as unknown as PortAllocator,
    proxy: {} as unknown as PortProxy,
    userlandProxy: true,
    logger: pino({ level: 'silent' }),
    upstreams,
  });
  dns = new EmbeddedDnsResolver({
    view: {
      endpoints: (networkId) => fake.endpoints(networkId),
      endpointsOf: (cid) => fake.repo.endpointsOfContainer(cid).map((r) => JSON.parse(r.recordJson) as EndpointRecord),
      network: (nid) => fake.tryGet(nid),
      containerName: (cid) => fake.usage.containerName(cid),
    },
    upstreams,
    hostResolvers: () => hostResolvers,
  });
  addEp(U1, 'u1', NET2, '10.99.0.10', { aliases: ['web', 'www'] });
  addEp(C2, 'c2', NET2, '10.99.0.2', { aliases: ['a2'] });
  addEp(C2, 'c2', N1, '10.253.0.2');
  addEp(D1, 'd1', NET2, '10.99.0.3');
  addEp(E1, 'e1', N1, '10.253.0.3');
  addEp(P1, 'p1', BRIDGE, '10.252.0.2');
  addEp(Q1, 'q1', BRIDGE, '10.252.0.3');
  addEp(Q1, 'q1', NET2, '10.99.0.4');
  addEp(SRV, 'srv', LK, '10.98.0.2');
  addEp(LINKER, 'linker', LK, '10.98.0.3', { links: ['srv:db', `/${OTHER.slice(0, 12)}:/linker/cache`] });
  addEp(OTHER, 'other', LK, '10.98.0.4');
});

describe('Sandboxes.lookup', () => {
  test('name, alias and short ID of a container on the client\'s network', () => {
    assert.deepEqual(ask(NET2, '10.99.0.3', 'u1'), ['10.99.0.10']);
    assert.deepEqual(ask(NET2, '10.99.0.3', 'web'), ['10.99.0.10']);
    assert.deepEqual(ask(NET2, '10.99.0.3', 'www'), ['10.99.0.10']);
    assert.deepEqual(ask(NET2, '10.99.0.3', U1.slice(0, 12)), ['10.99.0.10']);
    assert.deepEqual(ask(NET2, '10.99.0.3', 'a2'), ['10.99.0.2']);
    assert.deepEqual(ask(NET2, '10.99.0.3', 'd1'), ['10.99.0.3'], 'its own name too');
  });

  test('case does not matter, in the question or in the name', () => {
    assert.deepEqual(ask(NET2, '10.99.0.3', 'U1'), ['10.99.0.10']);
    assert.deepEqual(ask(NET2, '10.99.0.3', 'WeB'), ['10.99.0.10']);
    addEp(id('4'), 'MyApp', NET2, '10.99.0.40');
    assert.deepEqual(ask(NET2, '10.99.0.3', 'myapp'), ['10.99.0.40']);
    assert.deepEqual(ask(NET2, '10.99.0.3', 'MYAPP.NET2'), ['10.99.0.40']);
  });

  test('the name.<network> form', () => {
    assert.deepEqual(ask(NET2, '10.99.0.3', 'u1.net2'), ['10.99.0.10']);
    assert.deepEqual(ask(NET2, '10.99.0.3', 'web.net2'), ['10.99.0.10']);
    assert.deepEqual(ask(NET2, '10.99.0.3', 'U1.Net2'), ['10.99.0.10']);
    assert.equal(ask(NET2, '10.99.0.3', 'u1.n1'), null, 'u1 is not on n1');
    assert.equal(ask(NET2, '10.99.0.3', 'e1.n1'), null, 'the client is not on n1');
  });

  test('names on other networks are not ours (forwarded upstream)', () => {
    assert.equal(ask(NET2, '10.99.0.3', 'e1'), null);
    assert.equal(ask(NET2, '10.99.0.3', 'srv'), null);
    assert.equal(ask(NET2, '10.99.0.3', 'nosuchname'), null);
  });

  test('a container on two networks sees both, its asked network first', () => {
    assert.deepEqual(ask(NET2, '10.99.0.2', 'e1'), ['10.253.0.3']);
    assert.deepEqual(ask(NET2, '10.99.0.2', 'e1.n1'), ['10.253.0.3']);
    assert.deepEqual(ask(N1, '10.253.0.2', 'u1'), ['10.99.0.10']);
    assert.deepEqual(ask(N1, '10.253.0.2', 'web.net2'), ['10.99.0.10']);
    // Its own name: the address on the network it asked on.
    assert.deepEqual(ask(NET2, '10.99.0.2', 'c2'), ['10.99.0.2']);
    assert.deepEqual(ask(N1, '10.253.0.2', 'c2'), ['10.253.0.2']);
    // Others see c2 by its address on their network.
    assert.deepEqual(ask(N1, '10.253.0.3', 'c2'), ['10.253.0.2']);
    assert.equal(ask(N1, '10.253.0.3', 'u1'), null, 'e1 is on n1 only');
  });

  test('a client that is not one of our endpoints sees only the network it asked on', () => {
    assert.deepEqual(ask(NET2, '10.99.0.99', 'u1'), ['10.99.0.10']);
    assert.equal(ask(NET2, '10.99.0.99', 'e1'), null);
    assert.deepEqual(ask(N1, '10.99.0.3', 'e1'), ['10.253.0.3'], 'an address not on n1 asking on n1');
    assert.equal(dns.lookup('nosuchnetwork', '10.99.0.3', 'u1'), null);
  });

  test('the default bridge gives no names, and its endpoints are found by nobody', () => {
    assert.equal(ask(BRIDGE, '10.252.0.2', 'p1'), null);
    assert.equal(ask(BRIDGE, '10.252.0.2', 'q1'), null);
    assert.equal(ask(NET2, '10.99.0.3', 'p1'), null);
    // q1 is on the bridge and net2: found, by its net2 address only.
    assert.deepEqual(ask(NET2, '10.99.0.3', 'q1'), ['10.99.0.4']);
    // q1 asking on net2 does not see names through its bridge endpoint either.
    assert.equal(ask(NET2, '10.99.0.4', 'p1'), null);
    assert.deepEqual(ask(NET2, '10.99.0.4', 'u1'), ['10.99.0.10']);
  });

  test('--link aliases: answered for the linking container only, by name or ID prefix of the target', () => {
    assert.deepEqual(ask(LK, '10.98.0.3', 'db'), ['10.98.0.2']);
    assert.deepEqual(ask(LK, '10.98.0.3', 'DB'), ['10.98.0.2']);
    assert.deepEqual(ask(LK, '10.98.0.3', 'cache'), ['10.98.0.4']);
    assert.equal(ask(LK, '10.98.0.4', 'db'), null, 'another container on the network');
    assert.equal(ask(LK, '10.98.0.2', 'db'), null, 'the link target itself');
    assert.equal(ask(LK, '10.98.0.99', 'db'), null, 'an unknown client');
    assert.deepEqual(ask(LK, '10.98.0.4', 'srv'), ['10.98.0.2'], 'the target\'s own name is public');
  });

  test('a link whose target is not on the network answers nothing', () => {
    addEp(id('8'), 'lonely', LK, '10.98.0.8', { links: ['u1:up'] });
    assert.equal(ask(LK, '10.98.0.8', 'up'), null);
  });

  test('one alias on two containers: both addresses', () => {
    addEp(id('b'), 'u3', NET2, '10.99.0.30', { aliases: ['web'] });
    assert.deepEqual(ask(NET2, '10.99.0.3', 'web')?.sort(), ['10.99.0.10', '10.99.0.30']);
  });

  test('a stopped container (endpoints gone) is no longer answered', async () => {
    assert.deepEqual(ask(NET2, '10.99.0.3', 'u1'), ['10.99.0.10']);
    await sb.tearDown(U1);
    assert.equal(ask(NET2, '10.99.0.3', 'u1'), null);
    assert.equal(ask(NET2, '10.99.0.3', 'web'), null);
    assert.deepEqual(fake.events, [`disconnect net2 ${U1}`]);
  });

  test('a renamed container is answered by its new name', () => {
    sb.renamed(U1, 'u1', 'u9');
    assert.deepEqual(ask(NET2, '10.99.0.3', 'u9'), ['10.99.0.10']);
    assert.equal(ask(NET2, '10.99.0.3', 'u1'), null);
    assert.deepEqual(ask(NET2, '10.99.0.3', 'web'), ['10.99.0.10'], 'aliases stay');
  });
});

describe('Sandboxes.reverse', () => {
  test('an address on the client\'s network: container name + "." + network name', () => {
    assert.deepEqual(dns.reverse(NET2.id, '10.99.0.3', '10.99.0.10'), ['u1.net2']);
    assert.deepEqual(dns.reverse(LK.id, '10.98.0.3', '10.98.0.2'), ['srv.lk']);
  });

  test('through the client\'s other network', () => {
    assert.deepEqual(dns.reverse(NET2.id, '10.99.0.2', '10.253.0.3'), ['e1.n1']);
  });

  test('not ours: other networks, the default bridge, unknown addresses', () => {
    assert.equal(dns.reverse(NET2.id, '10.99.0.3', '10.253.0.3'), null);
    assert.equal(dns.reverse(NET2.id, '10.99.0.3', '10.252.0.2'), null);
    assert.equal(dns.reverse(BRIDGE.id, '10.252.0.2', '10.252.0.3'), null);
    assert.equal(dns.reverse(NET2.id, '10.99.0.3', '10.99.0.200'), null);
  });
});

describe('Sandboxes.upstreams', () => {
  function container(cid: string, name: string, dns: string[]): ContainerNet {
    return { id: cid, name, hostname: cid.slice(0, 12), endpoints: [], ports: { bindings: {}, exposed: [], publishAll: false }, dns };
  }

  test('the container\'s --dns servers win over the host\'s', async () => {
    await sb.setUp(container(D1, 'd1', ['10.99.0.1', '192.0.2.53']));
    assert.deepEqual(dns.upstreams(NET2.id, '10.99.0.3'), ['10.99.0.1', '192.0.2.53']);
  });

  test('without --dns, an unknown client or after teardown: the host\'s resolvers', async () => {
    await sb.setUp(container(U1, 'u1', []));
    assert.deepEqual(dns.upstreams(NET2.id, '10.99.0.10'), ['10.255.255.53']);
    assert.deepEqual(dns.upstreams(NET2.id, '10.99.0.77'), ['10.255.255.53']);
    await sb.setUp(container(D1, 'd1', ['10.99.0.1']));
    assert.deepEqual(dns.upstreams(NET2.id, '10.99.0.3'), ['10.99.0.1']);
    await sb.tearDown(D1);
    // Started again on the same address without --dns: the old servers are forgotten.
    addEp(D1, 'd1', NET2, '10.99.0.3');
    assert.deepEqual(dns.upstreams(NET2.id, '10.99.0.3'), ['10.255.255.53']);
  });

  test('the host\'s resolvers are read at each question (resolv.conf may change)', () => {
    hostResolvers = ['10.0.0.1', '10.0.0.2'];
    assert.deepEqual(dns.upstreams(NET2.id, '10.99.0.3'), ['10.0.0.1', '10.0.0.2']);
  });

  test('the client is found on the network asked on only', async () => {
    await sb.setUp(container(C2, 'c2', ['192.0.2.1']));
    assert.deepEqual(dns.upstreams(NET2.id, '10.99.0.2'), ['192.0.2.1']);
    assert.deepEqual(dns.upstreams(N1.id, '10.253.0.2'), ['192.0.2.1']);
    assert.deepEqual(dns.upstreams(N1.id, '10.99.0.2'), ['10.255.255.53']);
  });
});

describe('splitLink', () => {
  test('name:alias, bare name, and the /name:/linker/alias form', () => {
    assert.deepEqual(splitLink('srv:db'), ['srv', 'db']);
    assert.deepEqual(splitLink('srv'), ['srv', 'srv']);
    assert.deepEqual(splitLink('/srv:/linker/db'), ['srv', 'db']);
    assert.deepEqual(splitLink('/srv'), ['srv', 'srv']);
  });
});

describe('Sandboxes.admits and forwards (hardening)', () => {
  test('only the network\'s own endpoints are answered', () => {
    assert.equal(dns.admits(NET2.id, '10.99.0.10'), true);
    assert.equal(dns.admits(NET2.id, '10.99.0.77'), false); // no endpoint
    assert.equal(dns.admits(NET2.id, '10.253.0.3'), false); // an endpoint of another network
    assert.equal(dns.admits(NET2.id, '10.99.0.1'), false); // the gateway (a host process)
  });

  test('a container whose networks are all internal is never forwarded (CVE-2024-29018)', () => {
    const INT = net('int', '4'.repeat(64), '10.97.0.0/24', { internal: true });
    fake.nets.push(INT);
    const ONLY = id('8');
    const BOTH = id('b');
    addEp(ONLY, 'only', INT, '10.97.0.2');
    addEp(BOTH, 'both', INT, '10.97.0.3');
    addEp(BOTH, 'both', NET2, '10.99.0.9');
    assert.equal(dns.forwards(INT.id, '10.97.0.2'), false);
    assert.equal(dns.forwards(INT.id, '10.97.0.3'), true); // it has an external network too
    assert.equal(dns.forwards(NET2.id, '10.99.0.9'), true);
    assert.equal(dns.forwards(NET2.id, '10.99.0.3'), true);
    assert.equal(dns.forwards(NET2.id, '10.99.0.77'), false);
  });
});
