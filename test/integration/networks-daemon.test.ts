// The daemon's network flags through the real docker CLI, each case on a berthd of its own:
// --bip/--mtu/--fixed-cidr (and host-gateway), --bridge=none, --iptables=false (no chains, the
// userland proxy still publishes), default-address-pools, -b <a bridge the test made>, --icc=false.
// Expected behaviour is dockerd 20.10's, measured on a reference dockerd in a scratch netns
// (2026-11-28): with -b dockerd takes the bridge's own address as the subnet and leaves the bridge
// (and its address) in place at stop; with default-address-pools the default bridge takes the
// first free pool subnet, user networks the next ones; with --bridge=none `--network bridge` is
// NOT refused: the container runs with only `lo` (dockerd's connectToNetwork disables networking).
// Subnets are random /24s and /16s in 10.0.0.0/8 that overlap no route of the host; test traffic
// goes only to loopback and to the containers made here.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { after, describe, test } from 'node:test';
import { networkTag } from '../../daemon/networks/service';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { Kit, cgroupDirs, lines } from './container-kit';
import { destroyBerth, startBerth } from './harness';
import { freeLoopbackPort as freePort, httpGet, httpdCmd } from './net-tools';

// ------------------------------------------------------------------ subnets

const ipNum = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);

function cidrRange(cidr: string): [number, number] {
  const [ip, len] = cidr.includes('/') ? cidr.split('/') : [cidr, '32'];
  const size = 2 ** (32 - Number(len));
  const start = ipNum(ip) - (ipNum(ip) % size);
  return [start, start + size - 1];
}

const overlaps = (a: string, b: string): boolean => {
  const [a0, a1] = cidrRange(a);
  const [b0, b1] = cidrRange(b);
  return a0 <= b1 && b0 <= a1;
};

const inCidr = (ip: string, cidr: string): boolean => {
  const [s, e] = cidrRange(cidr);
  return ipNum(ip) >= s && ipNum(ip) <= e;
};

/** Every IPv4 route destination of the host (all tables, default routes left out). */
function hostRouteDsts(): string[] {
  const out = execFileSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  return (JSON.parse(out) as { dst?: string }[])
    .map((r) => r.dst ?? '')
    .filter((d) => d !== '' && d !== 'default' && /^[0-9.]+(\/\d+)?$/.test(d));
}

const picked: string[] = [];

/** A random 10.x.0.0/16 or 10.x.y.0/24 that overlaps no host route and nothing picked before. */
function freeNet(prefix: 16 | 24): string {
  const routes = hostRouteDsts();
  for (let i = 0; i < 1000; i++) {
    const a = 1 + Math.floor(Math.random() * 250); // 10.1–10.250: keeps clear of 10.0/16 and 10.255/16
    const b = Math.floor(Math.random() * 256);
    const cidr = prefix === 16 ? `10.${a}.0.0/16` : `10.${a}.${b}.0/24`;
    if (routes.some((r) => overlaps(r, cidr)) || picked.some((p) => overlaps(p, cidr))) continue;
    picked.push(cidr);
    return cidr;
  }
  throw new Error('no free subnet in 10.0.0.0/8');
}

/** "10.a.b" of a /24 (or "10.a" of a /16). */
const stem = (cidr: string, octets: number): string => cidr.split('/')[0].split('.').slice(0, octets).join('.');

// ------------------------------------------------------------------ daemons

let archive: Promise<Buffer> | undefined;
const busybox = (): Promise<Buffer> => (archive ??= buildBusyboxArchive({ tags: ['busybox:latest'] }));

/** Daemons not destroyed yet (after() takes care of them when a test failed half-way). */
const live = new Set<Kit>();
/** Bridges this file made itself (case -b), deleted in after() too. */
const ownBridges = new Set<string>();

async function startKit(opts: { args?: string[]; daemonJson?: string }): Promise<Kit> {
  const b = await startBerth(opts);
  const k = new Kit(b);
  live.add(k);
  await k.ok(['load'], await busybox());
  return k;
}

async function removeContainers(k: Kit): Promise<void> {
  const ids = lines((await k.docker(['ps', '-aq'])).stdout);
  if (ids.length > 0) await k.docker(['rm', '-f', ...ids]);
}

/**
 * Runs `body` on a fresh daemon. When it passes, the daemon is destroyed with Kit's checks (no
 * bridge, chains or cgroups left; `finish` replaces them); when it fails, it is destroyed anyway.
 */
async function withKit(
  opts: { args?: string[]; daemonJson?: string },
  body: (k: Kit) => Promise<void>,
  finish: (k: Kit) => Promise<void> = (k) => k.destroy(),
): Promise<void> {
  const k = await startKit(opts);
  let passed = false;
  try {
    await body(k);
    passed = true;
  } finally {
    live.delete(k);
    if (passed) {
      await removeContainers(k);
      await finish(k);
    } else {
      await removeContainers(k).catch(() => undefined);
      await destroyBerth(k.b).catch(() => undefined);
    }
  }
}

after(async () => {
  for (const k of live) await destroyBerth(k.b).catch(() => undefined);
  for (const br of ownBridges) spawnSync('ip', ['link', 'del', br], { stdio: 'ignore' });
});

// ------------------------------------------------------------------ helpers

interface NetworkJson {
  Name: string;
  Id: string;
  IPAM: { Config: { Subnet: string; Gateway?: string; IPRange?: string }[] };
  Options: Record<string, string>;
}

async function networkInspect(k: Kit, name: string): Promise<NetworkJson> {
  const all = JSON.parse(await k.ok(['network', 'inspect', name])) as NetworkJson[];
  assert.equal(all.length, 1);
  return all[0];
}

/** Interface names from `ip -o link` output ("1: lo: <…>", "7: eth0@if8: <…>"). */
const ifNames = (out: string): string[] => lines(out).map((l) => (/^\d+:\s+([^:@\s]+)/.exec(l) ?? [])[1] ?? `?${l}`);

/** The IPv4 address of eth0 from `ip -o -4 addr show eth0`. */
function eth0Address(out: string): { ip: string; prefix: number } {
  const m = /inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(out);
  assert.ok(m, `no IPv4 address in: ${out}`);
  return { ip: m[1], prefix: Number(m[2]) };
}

/** One container's view of its network: eth0 address, eth0 line of `ip -o link`, routes. */
async function containerView(
  k: Kit,
  flags: string[] = [],
): Promise<{ addr: { ip: string; prefix: number }; link: string; routes: string[]; hosts: string }> {
  const out = await k.runOut(flags, [
    'sh',
    '-c',
    'ip -o -4 addr show eth0; echo ===; ip -o link show eth0; echo ===; ip route; echo ===; cat /etc/hosts',
  ]);
  const [addr, link, routes, hosts] = out.split('===\n');
  return { addr: eth0Address(addr), link, routes: lines(routes).map((r) => r.trim()), hosts };
}

/** Polls until http://host:port/ answers 200, then requires `body`. */
async function answers(k: Kit, host: string, port: number, body: string): Promise<void> {
  let last: unknown;
  await k
    .until(
      `http://${host}:${port}/ to answer`,
      async () => {
        last = await httpGet(host, port);
        return 'status' in (last as object) && (last as { status: number }).status === 200;
      },
      20_000,
    )
    .catch((err: unknown) => {
      throw new Error(`${String(err)}; last: ${JSON.stringify(last)}`);
    });
  assert.deepEqual(await httpGet(host, port), { status: 200, body });
}

/** busybox httpd serving `text` at / on port 80. */
const httpd = (text: string): string[] => httpdCmd(text);

/** The IPv4 addresses (CIDR) of a host link. */
function linkAddrs(name: string): string[] {
  const out = execFileSync('ip', ['-j', '-4', 'addr', 'show', 'dev', name], { encoding: 'utf8' });
  return (JSON.parse(out) as { addr_info: { local: string; prefixlen: number }[] }[]).flatMap((l) =>
    l.addr_info.map((a) => `${a.local}/${a.prefixlen}`),
  );
}

const linkExists = (name: string): boolean => fs.existsSync(`/sys/class/net/${name}`);

const iptablesSave = (): string => execFileSync('iptables-save', { encoding: 'utf8' });

/**
 * Whether a throwaway container on the default bridge reaches busybox httpd in another one there.
 * The server is first seen answering from the host, so a refusal is the firewall's doing.
 */
async function containerReachesContainer(k: Kit, tag: string): Promise<{ rc: number; out: string }> {
  const srv = `srv-${tag}`;
  await k.ok(['run', '-d', '--name', srv, 'busybox', ...httpd(`hello-${tag}`)]);
  const ip = (await k.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', srv])).trim();
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
  await answers(k, ip, 80, `hello-${tag}\n`);
  // Not `timeout … wget` as the command: as the container's PID 1 wget would ignore timeout's
  // SIGTERM and hang on the dropped SYN; under sh (kept by the echo) it is an ordinary child.
  const out = await k.runOut([], ['sh', '-c', `timeout 3 wget -qO- http://${ip}/; echo "rc=$?"`]);
  const m = /rc=(\d+)\n$/.exec(out);
  assert.ok(m, `no rc in: ${out}`);
  return { rc: Number(m[1]), out: out.slice(0, m.index) };
}

// ------------------------------------------------------------------ the cases

describe('daemon network flags', { concurrency: 3 }, () => {
  test('--bip, --mtu 1400, --fixed-cidr: bridge network IPAM and mtu option, container address/mtu/route, host-gateway', async () => {
    const sub = freeNet(24);
    const p = stem(sub, 3);
    const range = `${p}.128/25`;
    await withKit({ args: ['--bip', `${p}.1/24`, '--mtu', '1400', '--fixed-cidr', range] }, async (k) => {
      const nw = await networkInspect(k, 'bridge');
      assert.deepEqual(nw.IPAM.Config, [{ Subnet: sub, IPRange: range, Gateway: `${p}.1` }]);
      assert.equal(nw.Options['com.docker.network.driver.mtu'], '1400');
      const br = nw.Options['com.docker.network.bridge.name'];
      assert.ok(br && linkExists(br), `bridge ${br} exists on the host`);
      assert.deepEqual(linkAddrs(br), [`${p}.1/24`], `the bridge carries the bip address`);

      const v = await containerView(k, ['--add-host', 'hg:host-gateway']);
      assert.ok(inCidr(v.addr.ip, range), `container address ${v.addr.ip} inside --fixed-cidr ${range}`);
      assert.equal(v.addr.prefix, 24, 'prefix of the bridge subnet, not of the fixed-cidr');
      assert.match(v.link, /\bmtu 1400\b/, `eth0 mtu: ${v.link}`);
      assert.ok(
        v.routes.some((r) => r.startsWith(`default via ${p}.1 dev eth0`)),
        `default route via the bip: ${v.routes.join(' | ')}`,
      );
      assert.ok(lines(v.hosts).includes(`${p}.1\thg`), `host-gateway resolves to the bip address:\n${v.hosts}`);
    });
  });

  test('--bridge=none: no bridge network, default containers get only lo, --network bridge gives only lo, user networks work', async () => {
    await withKit({ args: ['--bridge=none'] }, async (k) => {
      assert.deepEqual(lines(await k.ok(['network', 'ls', '--format', '{{.Name}}'])).sort(), ['host', 'none']);
      const inspect = await k.docker(['network', 'inspect', 'bridge']);
      assert.notEqual(inspect.code, 0);
      assert.match(inspect.stderr, /network bridge not found/);
      assert.ok(!linkExists(networkTag(k.namespace).defaultBridge), 'no default bridge made on the host');

      assert.deepEqual(ifNames(await k.runOut([], ['ip', '-o', 'link'])), ['lo']);

      await k.ok(['network', 'create', 'usernet']);
      const sub = (await networkInspect(k, 'usernet')).IPAM.Config[0].Subnet;
      const v = await containerView(k, ['--network', 'usernet']);
      assert.ok(inCidr(v.addr.ip, sub), `${v.addr.ip} in ${sub}`);
      await k.ok(['network', 'rm', 'usernet']);

      // dockerd 20.10 accepts it and disables the container's networking (measured: exit 0, lo only).
      const r = await k.docker(['run', '--rm', '--network', 'bridge', 'busybox', 'ip', '-o', 'link']);
      assert.equal(r.code, 0, `--network bridge with --bridge=none: ${r.stderr}`);
      assert.deepEqual(ifNames(r.stdout), ['lo']);
    });
  });

  test('--iptables=false: no chains of this daemon, before or after publishing a port; the port answers through the userland proxy', async () => {
    await withKit({ args: ['--iptables=false'] }, async (k) => {
      const { chainPrefix } = networkTag(k.namespace);
      assert.ok(!iptablesSave().includes(chainPrefix), `no ${chainPrefix} chain or jump after start`);
      const port = await freePort();
      await k.ok(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'busybox', ...httpd('via-proxy')]);
      assert.deepEqual(lines(await k.ok(['port', 'web', '80'])), [`127.0.0.1:${port}`]);
      await answers(k, '127.0.0.1', port, 'via-proxy\n');
      assert.ok(!iptablesSave().includes(chainPrefix), `no ${chainPrefix} chain or jump with a published port`);
      const nw = await networkInspect(k, 'bridge');
      assert.equal(
        nw.Options['com.docker.network.bridge.enable_ip_masquerade'],
        'false',
        'dockerd reports masquerade off without iptables',
      );
    });
  });

  test('default-address-pools in daemon.json: the default bridge and new networks take /24s from the pool in order', async () => {
    const pool = freeNet(16);
    const p = stem(pool, 2);
    const daemonJson = `${JSON.stringify({ 'default-address-pools': [{ base: pool, size: 24 }] })}\n`;
    await withKit({ daemonJson }, async (k) => {
      // dockerd: the default bridge is elected from the pools first (docker0 got the first free one).
      assert.equal((await networkInspect(k, 'bridge')).IPAM.Config[0].Subnet, `${p}.0.0/24`);
      await k.ok(['network', 'create', 'x']);
      await k.ok(['network', 'create', 'y']);
      const x = await networkInspect(k, 'x');
      const y = await networkInspect(k, 'y');
      assert.deepEqual(x.IPAM.Config, [{ Subnet: `${p}.1.0/24`, Gateway: `${p}.1.1` }]);
      assert.deepEqual(y.IPAM.Config, [{ Subnet: `${p}.2.0/24`, Gateway: `${p}.2.1` }]);
      const v = await containerView(k, ['--network', 'x']);
      assert.equal(v.addr.ip, `${p}.1.2`);
      await k.ok(['network', 'rm', 'x', 'y']);
    });
  });

  test('-b <bridge made by the test>: the default network uses its subnet; the daemon leaves the bridge and its address at stop', async () => {
    const sub = freeNet(24);
    const p = stem(sub, 3);
    const br = `brt${randomBytes(3).toString('hex')}`;
    ownBridges.add(br);
    execFileSync('ip', ['link', 'add', br, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', `${p}.1/24`, 'dev', br]);
    execFileSync('ip', ['link', 'set', br, 'up']);
    try {
      await withKit(
        { args: ['-b', br] },
        async (k) => {
          const nw = await networkInspect(k, 'bridge');
          assert.equal(nw.Options['com.docker.network.bridge.name'], br);
          assert.deepEqual(nw.IPAM.Config, [{ Subnet: sub, Gateway: `${p}.1` }]);
          const v = await containerView(k);
          assert.ok(inCidr(v.addr.ip, sub), `container address ${v.addr.ip} in ${br}'s subnet ${sub}`);
          assert.ok(
            v.routes.some((r) => r.startsWith(`default via ${p}.1 dev eth0`)),
            `default route via ${p}.1: ${v.routes.join(' | ')}`,
          );
        },
        async (k) => {
          // Kit.destroy would require the bridge gone: here it must stay, the rest of its checks apply.
          const ns = k.namespace;
          await destroyBerth(k.b);
          assert.deepEqual(cgroupDirs(ns), [], `cgroups of ${ns} left behind`);
          assert.ok(!iptablesSave().includes(`${networkTag(ns).chainPrefix}-`), 'firewall chains left behind');
          assert.ok(linkExists(br), `berthd deleted the user's bridge ${br} at stop (dockerd keeps it)`);
          assert.deepEqual(linkAddrs(br), [`${p}.1/24`], `the user's bridge keeps exactly its own address`);
          assert.deepEqual(fs.readdirSync(`/sys/class/net/${br}/brif`), [], 'no container veth left on the bridge');
        },
      );
    } finally {
      spawnSync('ip', ['link', 'del', br], { stdio: 'ignore' });
      ownBridges.delete(br);
    }
  });

  test('--icc=false: containers on the default bridge cannot reach each other; with the default they can', async () => {
    // Both daemons run to the end (and are destroyed) before a failure of either is reported.
    const results = await Promise.allSettled([
      withKit({ args: ['--icc=false'] }, async (k) => {
        assert.equal((await networkInspect(k, 'bridge')).Options['com.docker.network.bridge.enable_icc'], 'false');
        const r = await containerReachesContainer(k, 'noicc');
        assert.notEqual(r.rc, 0, `wget reached the other container with --icc=false: ${r.out}`);
        assert.equal(r.out, '');
      }),
      withKit({}, async (k) => {
        assert.equal((await networkInspect(k, 'bridge')).Options['com.docker.network.bridge.enable_icc'], 'true');
        // The positive control of the --iptables=false case: by default the daemon has chains.
        assert.ok(iptablesSave().includes(`${networkTag(k.namespace).chainPrefix}-`), 'a default daemon writes its chains');
        const r = await containerReachesContainer(k, 'icc');
        assert.equal(r.rc, 0, 'wget between containers with the default --icc');
        assert.equal(r.out, 'hello-icc\n');
      }),
    ]);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  });
});

describe('several daemons on one host', () => {
  test('daemons started at the same moment end up with default bridges on different subnets', async () => {
    const daemons = await Promise.all([startBerth(), startBerth(), startBerth()]);
    try {
      const subnets: string[] = [];
      for (const b of daemons) {
        const r = await b.docker([
          'network',
          'inspect',
          '-f',
          '{{range .IPAM.Config}}{{.Subnet}}{{end}} {{index .Options "com.docker.network.bridge.name"}}',
          'bridge',
        ]);
        assert.equal(r.code, 0, r.stderr);
        const [subnet, bridge] = r.stdout.trim().split(' ');
        // The bridge on the host carries that subnet's gateway.
        assert.ok(
          linkAddrs(bridge).some((a) => inCidr(a.split('/')[0], subnet)),
          `${bridge} is on ${subnet}`,
        );
        subnets.push(subnet);
      }
      assert.equal(new Set(subnets).size, 3, `subnets: ${subnets.join(', ')}`);
    } finally {
      await Promise.all(daemons.map((b) => destroyBerth(b)));
    }
  });
});
