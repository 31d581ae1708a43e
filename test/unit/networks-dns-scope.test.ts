// What the embedded DNS answers each container (EmbeddedDnsResolver, keyed by the asking
// container, as its listener in the container's netns says), over a fake network service holding
// networks and live endpoints in memory. Behaviour per net-facts §9: names, aliases and short IDs
// of containers on the asker's user networks, `name.network`, --link aliases for the linking
// container only, PTR as `name.network`, the container's --dns servers as its upstreams; and when
// Sandboxes starts and stops a container's listener.
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
  /** The embedded DNS's listeners: who has one, and the calls made. */
  readonly live = new Set<string>();
  readonly dnsOps: string[] = [];
  readonly dns = {
    listen: async (key: string, ip: string, port: number, netns?: string): Promise<void> => {
      this.dnsOps.push(`listen ${key} ${ip}:${port} ${netns ?? ''}`);
      this.live.add(key);
    },
    close: async (key: string): Promise<void> => {
      this.dnsOps.push(`close ${key}`);
      this.live.delete(key);
    },
    has: (key: string): boolean => this.live.has(key),
  };

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
  removeSandbox: async (_netns: string): Promise<void> => undefined,
};
const fakePorts = { release: (): void => undefined };

let fake: FakeNetworkService;
let sb: Sandboxes;
/** The embedded DNS's answers, over the same fake. */
let dns: EmbeddedDnsResolver;
let hostResolvers: string[];
let serial = 0;

/** A container's live endpoint, as Sandboxes.attach records it (names only on user networks). */
function addEp(
  cid: string,
  name: string,
  n: NetworkRecord,
  ip: string,
  opts: { aliases?: string[]; links?: string[] } = {},
): EndpointRecord {
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

function ask(containerId: string, name: string): string[] | null {
  return dns.lookup(containerId, '', name)?.addresses ?? null;
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
    ipv6Host: false,
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

describe('EmbeddedDnsResolver.lookup (by the asking container)', () => {
  test("name, alias and short ID of a container on the asker's network", () => {
    assert.deepEqual(ask(D1, 'u1'), ['10.99.0.10']);
    assert.deepEqual(ask(D1, 'web'), ['10.99.0.10']);
    assert.deepEqual(ask(D1, 'www'), ['10.99.0.10']);
    assert.deepEqual(ask(D1, U1.slice(0, 12)), ['10.99.0.10']);
    assert.deepEqual(ask(D1, 'a2'), ['10.99.0.2']);
    assert.deepEqual(ask(D1, 'd1'), ['10.99.0.3'], 'its own name too');
  });

  test('case does not matter, in the question or in the name', () => {
    assert.deepEqual(ask(D1, 'U1'), ['10.99.0.10']);
    assert.deepEqual(ask(D1, 'WeB'), ['10.99.0.10']);
    addEp(id('4'), 'MyApp', NET2, '10.99.0.40');
    assert.deepEqual(ask(D1, 'myapp'), ['10.99.0.40']);
    assert.deepEqual(ask(D1, 'MYAPP.NET2'), ['10.99.0.40']);
  });

  test('the name.<network> form', () => {
    assert.deepEqual(ask(D1, 'u1.net2'), ['10.99.0.10']);
    assert.deepEqual(ask(D1, 'web.net2'), ['10.99.0.10']);
    assert.deepEqual(ask(D1, 'U1.Net2'), ['10.99.0.10']);
    assert.equal(ask(D1, 'u1.n1'), null, 'u1 is not on n1');
    assert.equal(ask(D1, 'e1.n1'), null, 'the asker is not on n1');
  });

  test('names on other networks are not ours (forwarded upstream)', () => {
    assert.equal(ask(D1, 'e1'), null);
    assert.equal(ask(D1, 'srv'), null);
    assert.equal(ask(D1, 'nosuchname'), null);
  });

  test('a container on two networks sees both', () => {
    assert.deepEqual(ask(C2, 'e1'), ['10.253.0.3']);
    assert.deepEqual(ask(C2, 'e1.n1'), ['10.253.0.3']);
    assert.deepEqual(ask(C2, 'u1'), ['10.99.0.10']);
    assert.deepEqual(ask(C2, 'web.net2'), ['10.99.0.10']);
    // Its own name: the address on its first network; name.network picks the network.
    assert.deepEqual(ask(C2, 'c2'), ['10.99.0.2']);
    assert.deepEqual(ask(C2, 'c2.n1'), ['10.253.0.2']);
    // Others see c2 by its address on their network.
    assert.deepEqual(ask(E1, 'c2'), ['10.253.0.2']);
    assert.equal(ask(E1, 'u1'), null, 'e1 is on n1 only');
  });

  test('a container with no endpoint (or an unknown one) sees no names', () => {
    assert.equal(ask(id('0'), 'u1'), null);
    assert.equal(dns.reverse(id('0'), '', '10.99.0.10'), null);
  });

  test('the default bridge gives no names, and its endpoints are found by nobody', () => {
    assert.equal(ask(P1, 'p1'), null);
    assert.equal(ask(P1, 'q1'), null);
    assert.equal(ask(D1, 'p1'), null);
    // q1 is on the bridge and net2: found, by its net2 address only.
    assert.deepEqual(ask(D1, 'q1'), ['10.99.0.4']);
    // q1 does not see names through its bridge endpoint either.
    assert.equal(ask(Q1, 'p1'), null);
    assert.deepEqual(ask(Q1, 'u1'), ['10.99.0.10']);
  });

  test('--link aliases: answered for the linking container only, by name or ID prefix of the target', () => {
    assert.deepEqual(ask(LINKER, 'db'), ['10.98.0.2']);
    assert.deepEqual(ask(LINKER, 'DB'), ['10.98.0.2']);
    assert.deepEqual(ask(LINKER, 'cache'), ['10.98.0.4']);
    assert.equal(ask(OTHER, 'db'), null, 'another container on the network');
    assert.equal(ask(SRV, 'db'), null, 'the link target itself');
    assert.deepEqual(ask(OTHER, 'srv'), ['10.98.0.2'], "the target's own name is public");
  });

  test('a link whose target is not on the network answers nothing', () => {
    addEp(id('8'), 'lonely', LK, '10.98.0.8', { links: ['u1:up'] });
    assert.equal(ask(id('8'), 'up'), null);
  });

  test('one alias on two containers: both addresses', () => {
    addEp(id('b'), 'u3', NET2, '10.99.0.30', { aliases: ['web'] });
    assert.deepEqual(ask(D1, 'web')?.sort(), ['10.99.0.10', '10.99.0.30']);
  });

  test('a stopped container (endpoints gone) is no longer answered, and its listener is closed', async () => {
    assert.deepEqual(ask(D1, 'u1'), ['10.99.0.10']);
    await sb.tearDown(U1);
    assert.equal(ask(D1, 'u1'), null);
    assert.equal(ask(D1, 'web'), null);
    assert.deepEqual(fake.events, [`disconnect net2 ${U1}`]);
    assert.deepEqual(fake.dnsOps, [`close ${U1}`]);
  });

  test('a renamed container is answered by its new name', () => {
    sb.renamed(U1, 'u1', 'u9');
    assert.deepEqual(ask(D1, 'u9'), ['10.99.0.10']);
    assert.equal(ask(D1, 'u1'), null);
    assert.deepEqual(ask(D1, 'web'), ['10.99.0.10'], 'aliases stay');
  });
});

describe('EmbeddedDnsResolver.reverse', () => {
  test('an address on the asker\'s network: container name + "." + network name', () => {
    assert.deepEqual(dns.reverse(D1, '', '10.99.0.10'), ['u1.net2']);
    assert.deepEqual(dns.reverse(LINKER, '', '10.98.0.2'), ['srv.lk']);
  });

  test("through the asker's other network", () => {
    assert.deepEqual(dns.reverse(C2, '', '10.253.0.3'), ['e1.n1']);
  });

  test('not ours: other networks, the default bridge, unknown addresses', () => {
    assert.equal(dns.reverse(D1, '', '10.253.0.3'), null);
    assert.equal(dns.reverse(D1, '', '10.252.0.2'), null);
    assert.equal(dns.reverse(P1, '', '10.252.0.3'), null);
    assert.equal(dns.reverse(D1, '', '10.99.0.200'), null);
  });
});

describe('EmbeddedDnsResolver.upstreams', () => {
  function container(cid: string, name: string, dns: string[]): ContainerNet {
    return { id: cid, name, hostname: cid.slice(0, 12), endpoints: [], ports: { bindings: {}, exposed: [], publishAll: false }, dns };
  }

  test("the container's --dns servers win over the host's", async () => {
    await sb.setUp(container(D1, 'd1', ['10.99.0.1', '192.0.2.53']));
    assert.deepEqual(dns.upstreams(D1), ['10.99.0.1', '192.0.2.53']);
    assert.deepEqual(dns.upstreams(U1), ['10.255.255.53'], "another container keeps the host's");
  });

  test("without --dns, an unknown container or after teardown: the host's resolvers", async () => {
    await sb.setUp(container(U1, 'u1', []));
    assert.deepEqual(dns.upstreams(U1), ['10.255.255.53']);
    assert.deepEqual(dns.upstreams(id('0')), ['10.255.255.53']);
    await sb.setUp(container(D1, 'd1', ['10.99.0.1']));
    assert.deepEqual(dns.upstreams(D1), ['10.99.0.1']);
    await sb.tearDown(D1);
    // Started again without --dns: the old servers are forgotten.
    assert.deepEqual(dns.upstreams(D1), ['10.255.255.53']);
  });

  test("the host's resolvers are read at each question (resolv.conf may change)", () => {
    hostResolvers = ['10.0.0.1', '10.0.0.2'];
    assert.deepEqual(dns.upstreams(D1), ['10.0.0.1', '10.0.0.2']);
  });

  test("the host's loopback resolvers are asked from the host's namespace (host(...)); a loopback --dns is the container's", async () => {
    hostResolvers = ['127.0.0.53', '10.0.0.1', '127.1.2.3:5353', '::1'];
    assert.deepEqual(dns.upstreams(U1), ['host(127.0.0.53)', '10.0.0.1', 'host(127.1.2.3:5353)', 'host(::1)']);
    await sb.setUp(container(D1, 'd1', ['127.0.0.1']));
    assert.deepEqual(dns.upstreams(D1), ['127.0.0.1']);
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

describe('EmbeddedDnsResolver.forwards (hardening)', () => {
  test('a container whose networks are all internal is never forwarded (CVE-2024-29018)', () => {
    const INT = net('int', '4'.repeat(64), '10.97.0.0/24', { internal: true });
    fake.nets.push(INT);
    const ONLY = id('8');
    const BOTH = id('b');
    addEp(ONLY, 'only', INT, '10.97.0.2');
    addEp(BOTH, 'both', INT, '10.97.0.3');
    addEp(BOTH, 'both', NET2, '10.99.0.9');
    assert.equal(dns.forwards(ONLY), false);
    assert.equal(dns.forwards(BOTH), true); // it has an external network too
    assert.equal(dns.forwards(D1), true);
    assert.equal(dns.forwards(P1), true, 'the default bridge is external');
    assert.equal(dns.forwards(id('0')), false, 'no endpoint at all');
  });
});

describe('Sandboxes and the embedded DNS', () => {
  test('resolv.conf names 127.0.0.11 for a container on a user network, not on the default bridge alone', () => {
    fake.sandboxRows.set(D1, { containerId: D1, netns: 'berth-d1' });
    assert.equal(sb.etcFacts(D1).nameserver, '127.0.0.11');
    assert.equal(sb.etcFacts(P1).nameserver, null);
    assert.equal(sb.etcFacts(Q1).nameserver, '127.0.0.11', 'bridge and a user network');
  });

  test("startEmbeddedDns listens in the container's netns only when it has a user network and a sandbox", async () => {
    fake.sandboxRows.set(D1, { containerId: D1, netns: 'berth-d1' });
    fake.sandboxRows.set(P1, { containerId: P1, netns: 'berth-p1' });
    await sb.startEmbeddedDns(D1);
    await sb.startEmbeddedDns(P1);
    await sb.startEmbeddedDns(U1); // no sandbox row
    assert.deepEqual(fake.dnsOps, [`listen ${D1} 127.0.0.11:53 /run/netns/berth-d1`]);
  });

  test("a resolver that keeps running after its user network is gone still names 127.0.0.11 (as dockerd's, until the sandbox goes)", async () => {
    fake.sandboxRows.set(P1, { containerId: P1, netns: 'berth-p1' });
    fake.live.add(P1);
    assert.equal(sb.etcFacts(P1).nameserver, '127.0.0.11');
    await sb.tearDown(P1);
    assert.equal(fake.live.has(P1), false);
    assert.equal(sb.etcFacts(P1).nameserver, null);
  });
});

describe('Sandboxes.tearDown: the kernel side goes behind it', () => {
  const container = (cid: string): ContainerNet => ({
    id: cid,
    name: 'k',
    hostname: cid.slice(0, 12),
    endpoints: [],
    ports: { bindings: {}, exposed: [], publishAll: false },
    dns: [],
  });

  test('records and the DNS go at once; the netns removal runs behind, and a setUp or connect waits for it', async () => {
    const removed: string[] = [];
    let release: () => void = () => undefined;
    const original = fakeLinks.removeSandbox;
    fakeLinks.removeSandbox = (netns: string) =>
      new Promise<void>((r) => {
        release = () => {
          removed.push(netns);
          r();
        };
      });
    try {
      fake.eps = fake.eps.filter((e) => e.containerId !== D1);
      await sb.setUp(container(D1));
      addEp(D1, 'd1', NET2, '10.99.0.3');
      await sb.tearDown(D1);
      assert.equal(ask(U1, 'd1'), null, 'no longer answered');
      assert.deepEqual(
        fake.eps.filter((e) => e.containerId === D1),
        [],
        'endpoint rows gone',
      );
      assert.equal(sb.netnsPath(D1), undefined, 'no netns to use');
      assert.ok(fake.sandboxRows.has(D1), 'the row stays while the kernel side is removed (a crash leaves it to the next start)');

      let setUpDone = false;
      const again = sb.setUp(container(D1)).then(() => (setUpDone = true));
      let gone = false;
      const kernel = sb.kernelGone(D1).then(() => (gone = true));
      await new Promise((r) => setImmediate(r));
      assert.equal(setUpDone, false, 'a setUp waits: same netns name, and addresses the old veth may hold');
      assert.equal(gone, false);
      assert.equal(await sb.tearDown(D1), undefined, 'a second teardown does not start another removal');
      release();
      await Promise.all([again, kernel]);
      assert.deepEqual(removed, [sb.netnsName(D1)]);
      assert.equal(sb.netnsPath(D1), `/run/netns/${sb.netnsName(D1)}`, 'made again');
    } finally {
      fakeLinks.removeSandbox = original;
    }
  });
});
