// Network creates, removals and the daemon stop's teardown take turns (NetworkService), over a
// fake kernel whose bridge creation can be held part-way: a removal or a stop that runs while a
// create is still bringing its bridge up must not leave that bridge behind (a fuzzer finding: a
// br-* bridge outlived its berthd).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import pino from 'pino';
import { EventBus } from '../../daemon/events';
import { NetworkService } from '../../daemon/networks/service';
import type { DnsServer } from '../../network/dns-server';
import type { Firewall } from '../../network/firewall';
import type { Links } from '../../network/links';
import { migrate } from '../../store/db';
import { NetworkRepo } from '../../store/network-repo';

/** The kernel's bridges, and a gate each bridge creation waits at before its link is made. */
class FakeKernel {
  readonly bridges = new Set<string>();
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;
  /** Called when a creation reaches the gate. */
  reached: () => void = () => undefined;

  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  release(): void {
    this.open();
  }

  readonly links = {
    ensureBridge: async (name: string, _cidr: string, _mtu: number, beforeCreate?: () => void) => {
      this.reached();
      await this.gate;
      if (this.bridges.has(name)) return { created: false, addressAdded: false };
      beforeCreate?.();
      this.bridges.add(name);
      return { created: true, addressAdded: true };
    },
    deleteBridge: async (name: string) => {
      this.bridges.delete(name);
    },
    deleteAddress: async () => undefined,
    ensureAddress6: async () => true,
    hostRoutes: async () => [],
  };
}

function service(kernel: FakeKernel): NetworkService {
  const db = new Database(':memory:');
  migrate(db);
  return new NetworkService({
    usage: { networkUsers: () => [], containerName: () => undefined },
    repo: new NetworkRepo(db),
    links: kernel.links as unknown as Links,
    firewall: { apply: async () => undefined, teardown: async () => undefined } as unknown as Firewall,
    dns: { closeAll: async () => undefined } as unknown as DnsServer,
    events: new EventBus(),
    logger: pino({ level: 'silent' }),
    defaultBridgeName: 'berth-test',
    defaultBridge: {
      bridge: 'none',
      bip: null,
      fixedCidr: null,
      ipv6: false,
      fixedCidrV6: null,
      mtu: 1500,
      icc: true,
      ipMasq: true,
      hostIp: '0.0.0.0',
      iptables: true,
    },
    pools: [],
    ula: 'fd00:1::/48',
  });
}

/** Starts a create of `name` and resolves once it is waiting at the kernel's gate. */
async function createHeld(svc: NetworkService, kernel: FakeKernel, name: string) {
  kernel.hold();
  const reached = new Promise<void>((r) => (kernel.reached = r));
  const created = svc.create({ Name: name, IPAM: { Config: [{ Subnet: '10.213.9.0/24' }] } });
  await reached;
  return created;
}

test('a removal that comes while the create is bringing the bridge up waits for it, then takes the bridge', async () => {
  const kernel = new FakeKernel();
  const svc = service(kernel);
  const created = createHeld(svc, kernel, 'racy');
  const c = await Promise.race([created, new Promise<undefined>((r) => setImmediate(() => r(undefined)))]);
  assert.equal(c, undefined, 'the create is still at the gate');
  const removed = svc.remove('racy');
  kernel.release();
  const { Id } = await created;
  await removed;
  assert.deepEqual([...kernel.bridges], [], `br-${Id.slice(0, 12)} left in the kernel`);
  assert.equal(svc.tryGet('racy'), undefined);
});

test('the daemon stop waits for a create in flight and takes its bridge; a create after it is refused', async () => {
  const kernel = new FakeKernel();
  const svc = service(kernel);
  const created = createHeld(svc, kernel, 'late');
  const stopped = svc.shutdown();
  kernel.release();
  await created;
  await stopped;
  assert.deepEqual([...kernel.bridges], []);
  await assert.rejects(svc.create({ Name: 'after' }), { name: 'Unavailable', message: 'the daemon is shutting down' });
  assert.deepEqual([...kernel.bridges], []);
});

test('two creates without a subnet, at once, get different subnets', async () => {
  const kernel = new FakeKernel();
  const svc = service(kernel);
  const [a, b] = await Promise.all([svc.create({ Name: 'a' }), svc.create({ Name: 'b' })]);
  const subnet = (id: string) => svc.get(id).ipam[0]?.Subnet;
  assert.notEqual(subnet(a.Id), subnet(b.Id));
  assert.equal(kernel.bridges.size, 2);
});
