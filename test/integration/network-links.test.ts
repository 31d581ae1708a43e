// network/links.ts against the real kernel (needs root): two bridges on free /24s inside
// 10.200.0.0/16, a netns with two endpoints, a ping from inside to each gateway, the undo of
// half-made endpoints, then teardown and nothing left. Every name carries this run's random hex
// so parallel runs and other daemons' interfaces are never touched.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { IpError, Links } from '../../network/links';

const exec = promisify(execFile);
const logger = pino({ level: process.env.BERTH_TEST_LOG ?? 'silent' });
const isRoot = process.getuid?.() === 0;

const hex = randomBytes(3).toString('hex');
const BR1 = `brt${hex}`;
const BR2 = `brt${hex}x`;
const VETH_PREFIX = `vet${hex}`;
const VETH1 = `${VETH_PREFIX}a`;
const VETH2 = `${VETH_PREFIX}b`;
const VETH_BAD = `${VETH_PREFIX}c`;
const VETH_LOOP = `${VETH_PREFIX}d`;
const NETNS = `berthtest-${hex}`;
const NETNS_OTHER = `berthtest-${hex}-none`;

function ipToInt(s: string): number {
  return s.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

function overlaps(a: string, b: string): boolean {
  const [aip, ap] = a.split('/');
  const [bip, bp] = b.split('/');
  const prefix = Math.min(Number(ap), Number(bp));
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (ipToInt(aip) & mask) >>> 0 === (ipToInt(bip) & mask) >>> 0;
}

/** `ip -j ...` straight, to check Links' work without trusting Links. */
async function ipJson(args: string[]): Promise<Record<string, unknown>[]> {
  const { stdout } = await exec('ip', ['-j', ...args]);
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as Record<string, unknown>[]);
}

async function quietly(args: string[]): Promise<void> {
  try {
    await exec('ip', args);
  } catch {
    // already gone
  }
}

async function timed<T>(timings: Record<string, number[]>, what: string, f: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await f();
  } finally {
    (timings[what] ??= []).push(performance.now() - start);
  }
}

after(async () => {
  // Only the names this run made; the veths die with their peers' netns or explicitly.
  for (const v of [VETH1, VETH2, VETH_BAD, VETH_LOOP]) await quietly(['link', 'del', 'dev', v]);
  for (const n of [NETNS, NETNS_OTHER]) await quietly(['netns', 'del', n]);
  for (const b of [BR1, BR2]) await quietly(['link', 'del', 'dev', b]);
});

test('Links: bridges, netns and veth endpoints on the real kernel', { skip: !isRoot && 'needs root' }, async (t) => {
  const links = new Links({ logger });
  const timings: Record<string, number[]> = {};

  // A missing ip binary is a rejection, not a crash.
  await assert.rejects(new Links({ logger, ipPath: `/nonexistent-${hex}/ip` }).listLinks('x'), (err: unknown) => {
    assert.ok(err instanceof IpError);
    assert.match(err.message, /cannot run .*ENOENT/);
    return true;
  });

  // Two free /24s inside 10.200.0.0/16 that no host route overlaps.
  const routes = await timed(timings, 'hostRoutes', () => links.hostRoutes());
  assert.ok(
    routes.every((r) => r.dst !== 'default' && r.dst.includes('/')),
    JSON.stringify(routes),
  );
  const free: number[] = [];
  for (let tries = 0; free.length < 2 && tries < 1000; tries++) {
    const octet = randomInt(0, 256);
    if (!free.includes(octet) && !routes.some((r) => overlaps(r.dst, `10.200.${octet}.0/24`))) free.push(octet);
  }
  assert.equal(free.length, 2, 'no free /24 in 10.200.0.0/16');
  const [o1, o2] = free;
  const GW1 = `10.200.${o1}.1`;
  const GW2 = `10.200.${o2}.1`;
  const MAC1 = `02:42:0a:c8:${o1.toString(16).padStart(2, '0')}:02`;
  const MAC2 = `02:42:0a:c8:${o2.toString(16).padStart(2, '0')}:02`;

  // Bridges: create, then adopt (idempotent: the address is there once).
  await timed(timings, 'ensureBridge (create)', () => links.ensureBridge(BR1, `${GW1}/24`, 1450));
  // Two callers racing to create the same bridge: the loser adopts the winner's.
  await Promise.all([
    timed(timings, 'ensureBridge (create)', () => links.ensureBridge(BR2, `${GW2}/24`, 1500)),
    links.ensureBridge(BR2, `${GW2}/24`, 1500),
  ]);
  await timed(timings, 'ensureBridge (adopt)', () => links.ensureBridge(BR1, `${GW1}/24`, 1450));
  const [br1] = await ipJson(['-d', 'addr', 'show', 'dev', BR1]);
  assert.equal((br1.linkinfo as { info_kind: string }).info_kind, 'bridge');
  assert.equal(br1.mtu, 1450);
  assert.ok((br1.flags as string[]).includes('UP'));
  const br1Addrs = (br1.addr_info as { family: string; local: string; prefixlen: number }[]).filter((a) => a.family === 'inet');
  assert.deepEqual(
    br1Addrs.map((a) => `${a.local}/${a.prefixlen}`),
    [`${GW1}/24`],
  );
  assert.match(String(br1.address), /^02:42:/);
  const routesNow = await links.hostRoutes();
  assert.ok(
    routesNow.some((r) => r.dst === `10.200.${o1}.0/24` && r.dev === BR1),
    JSON.stringify(routesNow),
  );
  assert.deepEqual((await links.listLinks(`brt${hex}`)).sort(), [BR1, BR2].sort());

  // A bridge name held by a non-bridge is refused, and the link is left alone.
  await exec('ip', ['link', 'add', VETH_LOOP, 'type', 'veth', 'peer', 'name', VETH_BAD]);
  await assert.rejects(links.ensureBridge(VETH_LOOP, '10.200.255.1/24', 1500), (err: unknown) => {
    assert.ok(err instanceof IpError);
    assert.match(err.message, /not a bridge/);
    return true;
  });
  await exec('ip', ['link', 'del', 'dev', VETH_LOOP]);

  // Netns.
  const path = await timed(timings, 'createNetns', () => links.createNetns(NETNS));
  assert.equal(path, `/run/netns/${NETNS}`);
  assert.ok(existsSync(path));
  assert.deepEqual(await links.listNetns(`berthtest-${hex}`), [NETNS]);
  await assert.rejects(links.createNetns(NETNS), /File exists/);
  const lo = await links.interfaces(NETNS);
  assert.deepEqual(lo, [{ name: 'lo', mac: '00:00:00:00:00:00', addresses: ['127.0.0.1/8'] }]);

  // First endpoint with the default route.
  await timed(timings, 'addEndpoint', () =>
    links.addEndpoint({
      netns: NETNS,
      hostVeth: VETH1,
      bridge: BR1,
      ifName: 'eth0',
      mac: MAC1,
      addressCidr: `10.200.${o1}.2/24`,
      gateway: GW1,
      mtu: 1450,
    }),
  );
  const ifs = await timed(timings, 'interfaces', () => links.interfaces(NETNS));
  const eth0 = ifs.find((i) => i.name === 'eth0');
  assert.deepEqual(eth0, { name: 'eth0', mac: MAC1, addresses: [`10.200.${o1}.2/24`] });
  const [host1] = await ipJson(['link', 'show', 'dev', VETH1]);
  assert.equal(host1.master, BR1);
  assert.equal(host1.mtu, 1450);
  assert.ok((host1.flags as string[]).includes('UP'));
  const [in1] = await ipJson(['-n', NETNS, 'link', 'show', 'dev', 'eth0']);
  assert.equal(in1.mtu, 1450);
  const nsRoutes = await ipJson(['-n', NETNS, '-4', 'route', 'show']);
  assert.ok(
    nsRoutes.some((r) => r.dst === 'default' && r.gateway === GW1 && r.dev === 'eth0'),
    JSON.stringify(nsRoutes),
  );
  await exec('ip', ['netns', 'exec', NETNS, 'busybox', 'ping', '-c', '1', '-W', '2', GW1]);

  // Second endpoint on the other bridge, no gateway: its peer is born while eth0 exists.
  await timed(timings, 'addEndpoint', () =>
    links.addEndpoint({
      netns: NETNS,
      hostVeth: VETH2,
      bridge: BR2,
      ifName: 'eth1',
      mac: MAC2,
      addressCidr: `10.200.${o2}.2/24`,
      mtu: 1500,
    }),
  );
  const ifs2 = await links.interfaces(NETNS);
  assert.deepEqual(ifs2.map((i) => i.name).sort(), ['eth0', 'eth1', 'lo']);
  assert.deepEqual(
    ifs2.find((i) => i.name === 'eth1'),
    { name: 'eth1', mac: MAC2, addresses: [`10.200.${o2}.2/24`] },
  );
  const nsRoutes2 = await ipJson(['-n', NETNS, '-4', 'route', 'show']);
  assert.equal(nsRoutes2.filter((r) => r.dst === 'default').length, 1);
  await exec('ip', ['netns', 'exec', NETNS, 'busybox', 'ping', '-c', '1', '-W', '2', GW2]);

  // Failures undo what they made and carry ip's words.
  await assert.rejects(
    links.addEndpoint({
      netns: NETNS,
      hostVeth: VETH_BAD,
      bridge: BR1,
      ifName: 'eth0',
      mac: MAC1,
      addressCidr: `10.200.${o1}.3/24`,
      mtu: 1450,
    }),
    (err: unknown) => {
      assert.ok(err instanceof IpError);
      assert.match(err.stderr, /File exists/);
      return true;
    },
  );
  await assert.rejects(
    links.addEndpoint({
      netns: NETNS,
      hostVeth: VETH_BAD,
      bridge: `brt${hex}none`,
      ifName: 'eth2',
      mac: MAC1,
      addressCidr: `10.200.${o1}.3/24`,
      mtu: 1450,
    }),
    (err: unknown) => {
      assert.ok(err instanceof IpError);
      assert.match(err.stderr, /does not exist/);
      return true;
    },
  );
  await assert.rejects(
    links.addEndpoint({
      netns: NETNS_OTHER,
      hostVeth: VETH_BAD,
      bridge: BR1,
      ifName: 'eth0',
      mac: MAC1,
      addressCidr: `10.200.${o1}.3/24`,
      mtu: 1450,
    }),
    /does not exist/,
  );
  await assert.rejects(
    links.addEndpoint({
      netns: NETNS,
      hostVeth: 'bad name',
      bridge: BR1,
      ifName: 'eth2',
      mac: MAC1,
      addressCidr: `10.200.${o1}.3/24`,
      mtu: 1450,
    }),
    /invalid host veth name/,
  );
  assert.deepEqual((await links.listLinks(VETH_PREFIX)).sort(), [VETH1, VETH2]);
  assert.deepEqual((await links.interfaces(NETNS)).map((i) => i.name).sort(), ['eth0', 'eth1', 'lo']);

  // Add/remove cycles for timing (no gateway, as a second network's endpoint).
  for (let i = 0; i < 5; i++) {
    await timed(timings, 'addEndpoint', () =>
      links.addEndpoint({
        netns: NETNS,
        hostVeth: VETH_LOOP,
        bridge: BR1,
        ifName: 'eth2',
        mac: MAC1.replace(/02$/, '03'),
        addressCidr: `10.200.${o1}.3/24`,
        mtu: 1450,
      }),
    );
    await timed(timings, 'removeEndpoint', () => links.removeEndpoint(VETH_LOOP));
  }

  // Teardown; absent things are fine the second time.
  await timed(timings, 'removeEndpoint', () => links.removeEndpoint(VETH2));
  assert.deepEqual((await links.interfaces(NETNS)).map((i) => i.name).sort(), ['eth0', 'lo']);
  await links.removeEndpoint(VETH2);
  await timed(timings, 'removeEndpoint', () => links.removeEndpoint(VETH1));
  await timed(timings, 'deleteNetns', () => links.deleteNetns(NETNS));
  await links.deleteNetns(NETNS);
  await timed(timings, 'deleteBridge', () => links.deleteBridge(BR1));
  await timed(timings, 'deleteBridge', () => links.deleteBridge(BR2));
  await links.deleteBridge(BR1);

  assert.deepEqual(await links.listNetns(`berthtest-${hex}`), []);
  assert.deepEqual(await links.listLinks(`brt${hex}`), []);
  assert.deepEqual(await links.listLinks(VETH_PREFIX), []);
  assert.ok(!(await links.hostRoutes()).some((r) => r.dev === BR1 || r.dev === BR2));

  for (const [what, ms] of Object.entries(timings)) {
    const avg = ms.reduce((a, b) => a + b, 0) / ms.length;
    t.diagnostic(
      `${what}: avg ${avg.toFixed(1)} ms over ${ms.length} (min ${Math.min(...ms).toFixed(1)}, max ${Math.max(...ms).toFixed(1)})`,
    );
  }
});
