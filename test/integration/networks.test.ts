// Networking through the real docker CLI (and raw HTTP where the status matters) against a real
// berthd: `docker network create|ls|inspect|connect|disconnect|rm|prune` with their filters and
// errors, containers on user networks finding each other by name, alias and short ID through the
// embedded DNS and exchanging data, the host/none/container: modes, internal networks, container
// inspect's NetworkSettings, /etc/hosts and resolv.conf, network events, and that a removed
// container leaves no netns or veth behind. Expected texts and statuses are dockerd's (measured on
// dockerd 20.10, see /tmp/net-facts.md when it was written); where Berth deliberately differs
// (DNS served on the network's gateway address instead of 127.0.0.11, NXDOMAIN at once for unknown
// single-label names) the test expects Berth's documented choice.
// Test traffic goes only to loopback, to the containers created here and to a netns created here.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as dnsPacket from 'dns-packet';
import * as path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { Kit, lines, sleep } from './container-kit';
import { freePorts, httpdCmd, rnd, tcpFree } from './net-tools';
import { destroyBerth, startBerth } from './harness';

let k: Kit;

before(async () => {
  k = await Kit.start();
});

after(async () => {
  if (!k) return;
  // Networks are left in place on purpose: stopping berthd must remove their bridges and
  // chains, which destroy() checks.
  await k.destroy();
});

// ---------------------------------------------------------------------------------------------
// Shapes of the API answers (only what the tests read).

interface IpamConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

interface NetworkContainer {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfig[] | null };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigOnly: boolean;
  Containers: Record<string, NetworkContainer> | null;
  Options: Record<string, string> | null;
  Labels: Record<string, string> | null;
}

interface EndpointSettings {
  IPAMConfig: { IPv4Address?: string } | null;
  Links: string[] | null;
  Aliases: string[] | null;
  MacAddress: string;
  DriverOpts: Record<string, string> | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  DNSNames?: string[] | null;
}

interface NetworkSettings {
  SandboxID: string;
  SandboxKey: string;
  Ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null;
  Networks: Record<string, EndpointSettings>;
}

interface ContainerJson {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean };
  HostConfig: { NetworkMode: string };
  Config: { Hostname: string };
  NetworkSettings: NetworkSettings;
}

interface EventJson {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: string;
  time: number;
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/** A short random suffix so that names never clash with another test daemon's objects. */

async function netInspect(name: string): Promise<NetworkInspect> {
  const r = await k.request('GET', `/networks/${encodeURIComponent(name)}`);
  assert.equal(r.status, 200, `network inspect ${name}: ${r.body}`);
  return JSON.parse(r.body) as NetworkInspect;
}

async function ctrJson(name: string): Promise<ContainerJson> {
  const r = await k.request('GET', `/containers/${encodeURIComponent(name)}/json`);
  assert.equal(r.status, 200, `container inspect ${name}: ${r.body}`);
  return JSON.parse(r.body) as ContainerJson;
}

/** An API call expected to fail: its status and dockerd-style `message`. */
async function apiError(method: string, urlPath: string, body?: unknown): Promise<{ status: number; message: string }> {
  const r = await k.request(method, urlPath, body);
  assert.ok(r.status >= 400, `${method} ${urlPath} should have failed, got ${r.status}: ${r.body}`);
  return { status: r.status, message: (JSON.parse(r.body) as { message: string }).message };
}

/**
 * Creates then starts a container through the API and returns the first failure. dockerd 20.10
 * refuses bad network settings at start (the container stays created), newer ones already at
 * create: either is fine, the status and text are what count.
 */
async function createAndStartFails(name: string, body: unknown): Promise<{ status: number; message: string }> {
  const created = await k.request('POST', `/containers/create?name=${name}`, body);
  if (created.status >= 400) return { status: created.status, message: (JSON.parse(created.body) as { message: string }).message };
  assert.equal(created.status, 201, created.body);
  return apiError('POST', `/containers/${name}/start`);
}

async function rmf(...names: string[]): Promise<void> {
  await k.docker(['rm', '-f', ...names]);
}

async function netRm(...names: string[]): Promise<void> {
  await k.docker(['network', 'rm', ...names]);
}

/** Networks' subnets handed out by freeSubnet in this process (not yet visible as routes). */
const takenHere = new Set<string>();

function ipv4ToInt(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

function overlaps(a: string, b: string): boolean {
  const [ai, ap] = a.split('/');
  const [bi, bp] = b.split('/');
  const prefix = Math.min(Number(ap ?? 32), Number(bp ?? 32));
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return ((ipv4ToInt(ai) & mask) >>> 0) === ((ipv4ToInt(bi) & mask) >>> 0);
}

/** A /24 "10.A.B" in 10.160-199.x.x that overlaps no host route and no earlier pick. */
function freeSubnet(): string {
  const routes = (JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' })) as { dst: string }[])
    .map((r) => r.dst)
    .filter((d) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(d));
  for (;;) {
    const base = `10.${160 + Math.floor(Math.random() * 40)}.${Math.floor(Math.random() * 256)}`;
    const cidr = `${base}.0/24`;
    if (takenHere.has(base) || routes.some((r) => overlaps(r, cidr))) continue;
    takenHere.add(base);
    return base;
  }
}

/** The IPv4 addresses busybox nslookup printed as answers (not the server's own address). */
function answers(nslookupOut: string): string[] {
  const out: string[] = [];
  let inAnswer = false;
  for (const l of nslookupOut.split('\n')) {
    if (l.startsWith('Name:')) inAnswer = true;
    else if (inAnswer && l.startsWith('Address:')) out.push(l.slice('Address:'.length).trim());
    else if (l.trim() === '') inAnswer = false;
  }
  return out;
}

/** `nslookup name` inside a running container: exit code, output, answers, and how long it took. */
async function nslookup(container: string, name: string): Promise<{ code: number; out: string; addrs: string[]; ms: number }> {
  const t0 = Date.now();
  const r = await k.docker(['exec', container, 'nslookup', name], { timeoutMs: 30_000 });
  const out = r.stdout + r.stderr;
  return { code: r.code, out, addrs: answers(r.stdout), ms: Date.now() - t0 };
}

async function execOut(container: string, cmd: string[]): Promise<string> {
  return k.ok(['exec', container, ...cmd]);
}

/** The container's IPv4 address on interface `ifName`, as seen from inside. */
async function addrInside(container: string, ifName: string): Promise<string | undefined> {
  const r = await k.docker(['exec', container, 'ip', '-o', '-4', 'addr', 'show', ifName]);
  if (r.code !== 0) return undefined;
  return /inet (\d+\.\d+\.\d+\.\d+)\//.exec(r.stdout)?.[1];
}

/** busybox httpd serving `text` at / on port 80. */
const httpd = (text: string): string[] => httpdCmd(text);

/** `wget -qO- url` from a throwaway busybox on `net`. */
async function wget(net: string, url: string, timeoutSec = 5): Promise<{ code: number; out: string }> {
  // Under sh, not as PID 1: busybox timeout execs wget in its own place, and a PID 1 ignores SIGTERM.
  const r = await k.docker(['run', '--rm', '--network', net, 'busybox', 'sh', '-c', `timeout ${timeoutSec} wget -qO- '${url}'`], { timeoutMs: 60_000 });
  return { code: r.code, out: r.stdout };
}

/**
 * An "outside" host for traffic leaving a network: a netns made here, joined to the host by a
 * veth on a free /24 (host .1, outside .2), serving `text` with busybox httpd on .2:8080.
 * Without a default route it can only answer what comes from the host's own address (i.e.
 * masqueraded traffic). Everything is removed after the test. Returns the /24's first three octets.
 */
function outsideServer(t: TestContext, text: string, defaultRoute: boolean): string {
  const s = freeSubnet();
  const tag = rnd();
  const ns = `btout-${tag}`;
  const hostVeth = `btoh${tag}`;
  const peerVeth = `btop${tag}`;
  const www = fs.mkdtempSync(path.join(k.b.dir, 'outside-'));
  fs.writeFileSync(path.join(www, 'index.html'), `${text}\n`);
  let server: ChildProcess | undefined;
  t.after(() => {
    if (server?.pid !== undefined && server.exitCode === null) process.kill(server.pid, 'SIGKILL');
    for (const args of [['link', 'del', hostVeth], ['netns', 'del', ns]]) {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  });
  execFileSync('ip', ['-batch', '-'], {
    input: [`netns add ${ns}`, `link add ${hostVeth} type veth peer name ${peerVeth} netns ${ns}`, `addr add ${s}.1/24 dev ${hostVeth}`, `link set ${hostVeth} up`].join('\n'),
  });
  const inside = ['link set lo up', `addr add ${s}.2/24 dev ${peerVeth}`, `link set ${peerVeth} up`];
  if (defaultRoute) inside.push(`route add default via ${s}.1`);
  execFileSync('ip', ['-n', ns, '-batch', '-'], { input: inside.join('\n') });
  server = spawn('ip', ['netns', 'exec', ns, '/bin/busybox', 'httpd', '-f', '-p', `${s}.2:8080`, '-h', www], { stdio: 'ignore' });
  return s;
}

function netnsNames(): string[] {
  return lines(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).map((l) => l.split(' ')[0]);
}

/** Names of the interfaces enslaved to `bridge` (empty when the bridge is absent). */
function bridgePorts(bridge: string): string[] {
  try {
    const out = execFileSync('ip', ['-j', 'link', 'show', 'master', bridge], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return (JSON.parse(out || '[]') as { ifname: string }[]).map((l) => l.ifname);
  } catch {
    return [];
  }
}

/** The IPv4 addresses (with prefix) of a host interface, or null when it does not exist. */
function linkAddrs(ifName: string): string[] | null {
  try {
    const out = execFileSync('ip', ['-j', '-4', 'addr', 'show', 'dev', ifName], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const parsed = JSON.parse(out || '[]') as { addr_info: { local: string; prefixlen: number }[] }[];
    if (parsed.length === 0) return null;
    return parsed[0].addr_info.map((a) => `${a.local}/${a.prefixlen}`);
  } catch {
    return null;
  }
}

/** A TCP port that is free on 0.0.0.0 right now, below the ephemeral range. */
const freePort = (): Promise<number> => freePorts(1);

const bridgeOf = (n: NetworkInspect): string => n.Options?.['com.docker.network.bridge.name'] ?? `br-${n.Id.slice(0, 12)}`;

/** Now as the CLI's Unix form, "seconds.fraction". */
const unixNow = (offsetMs = 0): string => ((Date.now() + offsetMs) / 1000).toFixed(3);

// ---------------------------------------------------------------------------------------------

describe('built-in networks', () => {
  test('bridge, host and none are listed with their drivers, and the default bridge exists on the host', async () => {
    const ls = lines(await k.ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']));
    for (const want of ['bridge bridge local', 'host host local', 'none null local']) assert.ok(ls.includes(want), `${want} in ${ls.join(', ')}`);
    assert.deepEqual(lines(await k.ok(['network', 'ls', '--filter', 'type=builtin', '--format', '{{.Name}}'])), ['bridge', 'host', 'none']);

    const bridge = await netInspect('bridge');
    assert.match(bridge.Id, /^[0-9a-f]{64}$/);
    assert.equal(bridge.Driver, 'bridge');
    assert.equal(bridge.Scope, 'local');
    assert.equal(bridge.Internal, false);
    assert.equal(bridge.IPAM.Driver, 'default');
    assert.equal(bridge.IPAM.Config?.length, 1);
    const { Subnet, Gateway } = bridge.IPAM.Config[0];
    assert.ok(Subnet && Gateway, JSON.stringify(bridge.IPAM));
    assert.ok(overlaps(Subnet, `${Gateway}/32`), `gateway ${Gateway} in ${Subnet}`);
    const opts = bridge.Options ?? {};
    assert.equal(opts['com.docker.network.bridge.default_bridge'], 'true');
    assert.equal(opts['com.docker.network.bridge.enable_icc'], 'true');
    assert.equal(opts['com.docker.network.bridge.host_binding_ipv4'], '0.0.0.0');
    assert.equal(opts['com.docker.network.driver.mtu'], '1500');
    // Berth's default bridge is its own (berth0 / berth-<hash>), never docker0, which dockerd owns.
    const brName = opts['com.docker.network.bridge.name'];
    assert.match(brName, /^berth/);
    assert.deepEqual(linkAddrs(brName), [`${Gateway}/${Subnet.split('/')[1]}`]);

    for (const [name, driver] of [['host', 'host'], ['none', 'null']]) {
      const n = await netInspect(name);
      assert.equal(n.Driver, driver);
      assert.deepEqual(n.IPAM.Config ?? [], []);
      assert.match(n.Id, /^[0-9a-f]{64}$/);
    }
  });

  test('built-in networks cannot be removed or created again', async () => {
    for (const name of ['bridge', 'host', 'none']) {
      const r = await k.fails(['network', 'rm', name]);
      assert.match(r.stderr, new RegExp(`Error response from daemon: ${name} is a pre-defined network and cannot be removed`));
      const e = await apiError('DELETE', `/networks/${name}`);
      assert.equal(e.status, 403);
      assert.equal(e.message, `${name} is a pre-defined network and cannot be removed`);
    }
    const dup = await apiError('POST', '/networks/create', { Name: 'bridge' });
    assert.equal(dup.status, 403);
    assert.match(dup.message, /^operation is not permitted on predefined bridge network/);
    const host = await apiError('POST', '/networks/create', { Name: 'x-host-' + rnd(), Driver: 'host' });
    assert.equal(host.status, 403);
    assert.equal(host.message, 'only one instance of "host" network is allowed');
    const nul = await apiError('POST', '/networks/create', { Name: 'x-null-' + rnd(), Driver: 'null' });
    assert.equal(nul.status, 403);
    assert.equal(nul.message, 'only one instance of "null" network is allowed');
    const plugin = await apiError('POST', '/networks/create', { Name: 'x-plugin-' + rnd(), Driver: 'nosuch' });
    assert.equal(plugin.status, 404);
    assert.equal(plugin.message, 'plugin "nosuch" not found');
  });
});

describe('network create, inspect, ls and rm', () => {
  test('create with every IPAM option, inspect, ls, and rm removes the bridge', async () => {
    const s = freeSubnet();
    const name = `full-${rnd()}`;
    const br = `bt${rnd()}`;
    const id = (
      await k.ok([
        'network', 'create',
        '--subnet', `${s}.0/24`, '--gateway', `${s}.254`, '--ip-range', `${s}.128/25`,
        '--aux-address', `a=${s}.5`, '--aux-address', `b=${s}.6`,
        '--attachable', '--label', 'k=v', '--label', 'k2',
        '-o', `com.docker.network.bridge.name=${br}`, '-o', 'foo=bar',
        name,
      ])
    ).trim();
    assert.match(id, /^[0-9a-f]{64}$/);

    const n = await netInspect(name);
    assert.equal(n.Name, name);
    assert.equal(n.Id, id);
    assert.equal(n.Driver, 'bridge');
    assert.equal(n.Scope, 'local');
    assert.equal(n.EnableIPv6, false);
    assert.equal(n.Internal, false);
    assert.equal(n.Attachable, true);
    assert.equal(n.Ingress, false);
    assert.ok(!Number.isNaN(Date.parse(n.Created)), n.Created);
    assert.equal(n.IPAM.Driver, 'default');
    assert.deepEqual(n.IPAM.Config, [{ Subnet: `${s}.0/24`, IPRange: `${s}.128/25`, Gateway: `${s}.254`, AuxiliaryAddresses: { a: `${s}.5`, b: `${s}.6` } }]);
    assert.deepEqual(n.Options, { 'com.docker.network.bridge.name': br, foo: 'bar' });
    assert.deepEqual(n.Labels, { k: 'v', k2: '' });
    assert.deepEqual(n.Containers ?? {}, {});
    // The Linux bridge carries the gateway.
    assert.deepEqual(linkAddrs(br), [`${s}.254/24`]);

    // By ID prefix too; ls shows it.
    assert.equal((await netInspect(id.slice(0, 12))).Name, name);
    assert.deepEqual(lines(await k.ok(['network', 'ls', '--filter', `name=${name}`, '--format', '{{.ID}} {{.Name}} {{.Driver}} {{.Scope}}'])), [
      `${id.slice(0, 12)} ${name} bridge local`,
    ]);
    assert.ok(lines(await k.ok(['network', 'ls', '-q', '--no-trunc'])).includes(id));

    // A container gets an address from the ip-range, never the gateway or an aux address.
    const ip = (await k.runOut(['--network', name], ['sh', '-c', "ip -o -4 addr show eth0 | sed -E 's/.*inet ([0-9.]+).*/\\1/'"])).trim();
    const last = Number(ip.split('.')[3]);
    assert.ok(ip.startsWith(`${s}.`) && last >= 128 && last < 254, `${ip} in ${s}.128/25 below the gateway`);

    assert.equal(await k.ok(['network', 'rm', name]), `${name}\n`);
    assert.equal(linkAddrs(br), null, `bridge ${br} removed`);
    const gone = await apiError('GET', `/networks/${name}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.message, `network ${name} not found`);
  });

  test('without options: a subnet from the pools, the first host address as gateway, bridge br-<id>', async () => {
    const name = `plain-${rnd()}`;
    const id = (await k.ok(['network', 'create', name])).trim();
    const n = await netInspect(name);
    assert.equal(n.IPAM.Config?.length, 1);
    const { Subnet, Gateway } = n.IPAM.Config[0];
    assert.ok(Subnet && Gateway);
    const [net, prefix] = Subnet.split('/');
    assert.equal(ipv4ToInt(Gateway), ipv4ToInt(net) + 1);
    assert.deepEqual(n.Options ?? {}, {});
    assert.deepEqual(n.Labels ?? {}, {});
    assert.equal(n.Internal, false);
    assert.equal(n.Attachable, false);
    assert.deepEqual(linkAddrs(`br-${id.slice(0, 12)}`), [`${Gateway}/${prefix}`]);
    // Another network gets another, non-overlapping subnet.
    const other = `plain2-${rnd()}`;
    await k.ok(['network', 'create', other]);
    const sub2 = (await netInspect(other)).IPAM.Config?.[0].Subnet ?? '';
    assert.ok(sub2 !== '' && !overlaps(Subnet, sub2), `${sub2} vs ${Subnet}`);
    await k.ok(['network', 'rm', name, other]);
    assert.equal(linkAddrs(`br-${id.slice(0, 12)}`), null);
  });

  test('create errors: duplicate name, overlapping or invalid subnet, gateway outside', async () => {
    const s = freeSubnet();
    const name = `dup-${rnd()}`;
    await k.ok(['network', 'create', '--subnet', `${s}.0/24`, name]);

    const dup = await k.fails(['network', 'create', name]);
    assert.equal(dup.stderr.trim(), `Error response from daemon: network with name ${name} already exists`);
    const dupApi = await apiError('POST', '/networks/create', { Name: name, CheckDuplicate: true });
    assert.equal(dupApi.status, 409);
    assert.equal(dupApi.message, `network with name ${name} already exists`);

    const over = await apiError('POST', '/networks/create', { Name: `over-${rnd()}`, IPAM: { Config: [{ Subnet: `${s}.0/25` }] } });
    assert.equal(over.status, 403);
    assert.match(over.message, /Pool overlaps with other one on this address space$/);
    const overCli = await k.fails(['network', 'create', '--subnet', `${s}.128/25`, `over-${rnd()}`]);
    assert.match(overCli.stderr, /Error response from daemon: .*Pool overlaps with other one on this address space/);

    // dockerd 20.10: "Invalid subnet foo : invalid CIDR address: foo"; current: "invalid subnet foo: invalid CIDR block notation".
    const bad = await apiError('POST', '/networks/create', { Name: `bad-${rnd()}`, IPAM: { Config: [{ Subnet: 'foo' }] } });
    assert.match(bad.message, /invalid subnet foo ?: invalid CIDR/i);
    const s2 = freeSubnet();
    const gw = await apiError('POST', '/networks/create', { Name: `gw-${rnd()}`, IPAM: { Config: [{ Subnet: `${s2}.0/24`, Gateway: '10.97.0.1' }] } });
    assert.match(gw.message, /(failed to allocate gateway \(10\.97\.0\.1\): Requested address is out of range|invalid gateway 10\.97\.0\.1)/);
    const aux = await apiError('POST', '/networks/create', { Name: `aux-${rnd()}`, IPAM: { Config: [{ Subnet: `${s2}.0/24`, AuxiliaryAddresses: { x: '10.97.0.3' } }] } });
    assert.match(aux.message, /(auxiliary address: \(x:10\.97\.0\.3\) must belong to the master pool|invalid auxiliary address x)/);
    // The CLI checks these itself before asking the daemon.
    const cliGw = await k.fails(['network', 'create', '--subnet', `${s2}.0/24`, '--gateway', '10.97.0.1', `gw-${rnd()}`]);
    assert.match(cliGw.stderr, /no matching subnet for gateway 10\.97\.0\.1/);
    // None of the failed creates left a network behind.
    assert.deepEqual(lines(await k.ok(['network', 'ls', '--filter', 'name=over-', '-q'])), []);
    assert.deepEqual(lines(await k.ok(['network', 'ls', '--filter', 'name=gw-', '-q'])), []);
    await k.ok(['network', 'rm', name]);
  });

  test('rm: unknown, in use by a running container (refused), then free once it is gone', async () => {
    const unknown = await k.fails(['network', 'rm', 'nosuch-net']);
    assert.match(unknown.stderr, /Error response from daemon: network nosuch-net not found/);
    const e404 = await apiError('DELETE', '/networks/nosuch-net');
    assert.equal(e404.status, 404);
    assert.equal(e404.message, 'network nosuch-net not found');

    const name = `busy-${rnd()}`;
    const id = (await k.ok(['network', 'create', name])).trim();
    await k.ok(['run', '-d', '--name', `busy-c-${name}`, '--network', name, 'busybox', 'sleep', '600']);
    const refused = await apiError('DELETE', `/networks/${name}`);
    assert.equal(refused.status, 403);
    assert.equal(refused.message, `error while removing network: network ${name} id ${id} has active endpoints`);
    const cli = await k.fails(['network', 'rm', name]);
    assert.match(cli.stderr, new RegExp(`Error response from daemon: error while removing network: network ${name} id ${id} has active endpoints`));
    // Several names: the good ones go, the bad one is reported, exit 1.
    const spare = `spare-${rnd()}`;
    await k.ok(['network', 'create', spare]);
    const mixed = await k.fails(['network', 'rm', 'nosuch-net', spare]);
    assert.equal(mixed.stdout, `${spare}\n`);
    assert.match(mixed.stderr, /network nosuch-net not found/);

    await rmf(`busy-c-${name}`);
    assert.equal(await k.ok(['network', 'rm', name]), `${name}\n`);
  });

  test('ls filters: driver, id, label, name, scope, type, dangling, and bad filters', async () => {
    const fa = `fa-${rnd()}`;
    const fb = `fb-${rnd()}`;
    const used = `fu-${rnd()}`;
    const idA = (await k.ok(['network', 'create', '--label', 'env=prod', '--label', 'tier', fa])).trim();
    await k.ok(['network', 'create', '--internal', '--label', 'env=dev', fb]);
    await k.ok(['network', 'create', used]);
    await k.ok(['run', '-d', '--name', `c-${used}`, '--network', used, 'busybox', 'sleep', '600']);
    const names = async (...filters: string[]): Promise<string[]> =>
      lines(await k.ok(['network', 'ls', ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Name}}']));
    const ours = (l: string[]): string[] => l.filter((n) => [fa, fb, used].includes(n) || ['bridge', 'host', 'none'].includes(n));

    assert.deepEqual(ours(await names('driver=bridge')), ['bridge', fa, fb, used].sort());
    assert.deepEqual(await names('driver=null'), ['none']);
    assert.deepEqual(await names('driver=host'), ['host']);
    assert.deepEqual(await names(`id=${idA.slice(0, 10)}`), [fa]);
    assert.deepEqual(await names('label=env'), [fa, fb].sort());
    assert.deepEqual(await names('label=env=prod'), [fa]);
    assert.deepEqual(await names('label=tier'), [fa]);
    assert.deepEqual(await names('label=env', 'label=tier'), [fa]);
    assert.deepEqual(await names(`name=${fa.slice(0, 6)}`), [fa]);
    assert.deepEqual(ours(await names('scope=local')), ['bridge', fa, fb, 'host', 'none', used].sort());
    assert.deepEqual(await names('scope=swarm'), []);
    assert.deepEqual(ours(await names('type=custom')), [fa, fb, used].sort());
    assert.deepEqual(await names('type=builtin'), ['bridge', 'host', 'none']);
    // dangling: custom networks without endpoints (dockerd 20.10 listed every custom network here,
    // in-use ones too, because its list had empty Containers; current dockerd and Berth check use).
    const dangling = ours(await names('dangling=true'));
    assert.ok(dangling.includes(fa) && dangling.includes(fb), dangling.join());
    assert.ok(!dangling.includes(used) && !dangling.includes('bridge'), dangling.join());
    assert.ok((await names('dangling=false')).includes('bridge'));

    // The table and the JSON format.
    const table = lines(await k.ok(['network', 'ls', '--filter', `name=${fa}`]));
    assert.match(table[0], /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    assert.match(table[1], new RegExp(`^${idA.slice(0, 12)}\\s+${fa}\\s+bridge\\s+local$`));
    const js = JSON.parse(await k.ok(['network', 'ls', '--filter', `name=${fb}`, '--format', '{{json .}}'])) as Record<string, string>;
    assert.equal(js.Internal, 'true');
    assert.equal(js.Labels, 'env=dev');
    assert.equal(js.Driver, 'bridge');
    assert.equal(js.IPv6, 'false');

    const badType = await k.fails(['network', 'ls', '--filter', 'type=foo']);
    assert.match(badType.stderr, /invalid filter: 'type'='foo'/);
    const badDangling = await apiError('GET', `/networks?filters=${encodeURIComponent(JSON.stringify({ dangling: ['maybe'] }))}`);
    assert.equal(badDangling.status, 400);
    // dockerd 20.10: `invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`; current: "invalid filter 'dangling=…'".
    assert.match(badDangling.message, /^invalid (value for filter 'dangling', must be "true" \(or "1"\), or "false" \(or "0"\)|filter 'dangling=\[?maybe\]?')$/);
    const badKey = await apiError('GET', `/networks?filters=${encodeURIComponent(JSON.stringify({ foo: ['bar'] }))}`);
    assert.equal(badKey.status, 400);
    // dockerd 20.10 capitalises it, current dockerd does not.
    assert.match(badKey.message, /^[Ii]nvalid filter 'foo'$/);

    await rmf(`c-${used}`);
    await netRm(fa, fb, used);
  });

  test('prune removes unused custom networks only, honours label filters, and reports them', async () => {
    // Leave nothing from earlier tests around: each prune result below is then exact.
    await k.request('POST', '/networks/prune');
    const p1 = `p1-${rnd()}`;
    const keep = `pk-${rnd()}`;
    const inUse = `pu-${rnd()}`;
    await k.ok(['network', 'create', p1]);
    await k.ok(['network', 'create', '--label', 'keep=1', keep]);
    await k.ok(['network', 'create', inUse]);
    await k.ok(['run', '-d', '--name', `c-${inUse}`, '--network', inUse, 'busybox', 'sleep', '600']);

    const filtered = await k.request('POST', `/networks/prune?filters=${encodeURIComponent(JSON.stringify({ 'label!': ['keep'] }))}`);
    assert.equal(filtered.status, 200, filtered.body);
    assert.deepEqual(JSON.parse(filtered.body), { NetworksDeleted: [p1] });

    const cli = await k.ok(['network', 'prune', '-f']);
    assert.equal(cli, `Deleted Networks:\n${keep}\n\n`);
    const names = lines(await k.ok(['network', 'ls', '--format', '{{.Name}}']));
    assert.ok(names.includes(inUse) && names.includes('bridge') && !names.includes(keep) && !names.includes(p1), names.join());

    const none = await k.request('POST', '/networks/prune');
    assert.equal(none.status, 200);
    const deleted = (JSON.parse(none.body) as { NetworksDeleted: string[] | null }).NetworksDeleted;
    assert.ok(deleted === null || deleted.length === 0, none.body);
    assert.equal(await k.ok(['network', 'prune', '-f']), '');

    await rmf(`c-${inUse}`);
    await netRm(inUse);
  });

  test('events: network create, connect, disconnect and destroy', async () => {
    const since = unixNow(-1);
    const name = `ev-${rnd()}`;
    const id = (await k.ok(['network', 'create', name])).trim();
    const cid = (await k.ok(['run', '-d', '--name', `c-${name}`, 'busybox', 'sleep', '600'])).trim();
    await k.ok(['network', 'connect', name, `c-${name}`]);
    await k.ok(['network', 'disconnect', name, `c-${name}`]);
    await k.ok(['network', 'rm', name]);
    await rmf(`c-${name}`);
    await sleep(200);
    const out = await k.ok(['events', '--since', since, '--until', unixNow(), '--filter', 'type=network', '--filter', `network=${id}`, '--format', '{{json .}}']);
    const evs = lines(out).map((l) => JSON.parse(l) as EventJson);
    // dockerd 20.10 repeats the disconnect event; compare the sequence without repeats.
    const seq = evs.map((e) => e.Action).filter((a, i, all) => i === 0 || all[i - 1] !== a);
    assert.deepEqual(seq, ['create', 'connect', 'disconnect', 'destroy'], out);
    for (const e of evs) {
      assert.equal(e.Type, 'network');
      assert.equal(e.scope, 'local');
      assert.equal(e.Actor.ID, id);
      assert.equal(e.Actor.Attributes.name, name);
      assert.equal(e.Actor.Attributes.type, 'bridge');
      if (e.Action === 'connect' || e.Action === 'disconnect') assert.equal(e.Actor.Attributes.container, cid);
      else assert.equal(e.Actor.Attributes.container, undefined);
    }
    // A container start on the default bridge connects it to `bridge`, its exit disconnects it.
    const since2 = unixNow(-1);
    const rid = (await k.ok(['run', '-d', 'busybox', 'true'])).trim();
    await k.ok(['wait', rid]);
    await sleep(200);
    const out2 = await k.ok(['events', '--since', since2, '--until', unixNow(), '--filter', 'type=network', '--format', '{{json .}}']);
    const mine = lines(out2).map((l) => JSON.parse(l) as EventJson).filter((e) => e.Actor.Attributes.container === rid);
    assert.deepEqual([...new Set(mine.map((e) => e.Action))], ['connect', 'disconnect'], out2);
    assert.equal(mine[0].Actor.Attributes.name, 'bridge');
    await rmf(rid);
  });
});

describe('containers on a user network', () => {
  test('two containers resolve each other by name, alias, short ID and name.network, and exchange data', async () => {
    const net = `app-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const gateway = (await netInspect(net)).IPAM.Config?.[0].Gateway ?? '';
    const srv = `srv-${rnd()}`;
    const srvId = (await k.ok(['run', '-d', '--name', srv, '--network', net, '--network-alias', 'web', '--network-alias', 'www', 'busybox', ...httpd('hello-from-srv')])).trim();
    const cli = `cli-${rnd()}`;
    await k.ok(['run', '-d', '--name', cli, '--network', net, 'busybox', 'sleep', '600']);
    const srvIp = (await ctrJson(srv)).NetworkSettings.Networks[net].IPAddress;
    const cliIp = (await ctrJson(cli)).NetworkSettings.Networks[net].IPAddress;
    assert.ok(srvIp && cliIp);

    for (const name of [srv, 'web', 'www', srvId.slice(0, 12), `${srv}.${net}`]) {
      const r = await nslookup(cli, name);
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(r.addrs, [srvIp], `${name}: ${r.out}`);
      // Berth's embedded DNS listens on the network's gateway.
      assert.match(r.out, new RegExp(`Server:\\s+${gateway.replace(/\./g, '\\.')}`));
    }
    // And the other way round.
    assert.deepEqual((await nslookup(srv, cli)).addrs, [cliIp]);
    // Reverse: the address maps to name.network (dockerd: `2.0.99.10.in-addr.arpa\tname = srv.lk`).
    const ptr = await nslookup(cli, srvIp);
    assert.equal(ptr.code, 0, ptr.out);
    assert.match(ptr.out, new RegExp(`in-addr\\.arpa\\s+name = ${srv}\\.${net}\\.?\\n`));

    // Data both ways: HTTP by alias and by name, and a line through nc.
    await k.until('httpd in the server to answer', async () => (await wget(net, 'http://web/', 2)).code === 0, 20_000);
    assert.equal((await wget(net, 'http://web/')).out, 'hello-from-srv\n');
    assert.equal(await execOut(cli, ['timeout', '5', 'wget', '-qO-', `http://${srv}/`]), 'hello-from-srv\n');
    const ncSrv = `nc-${rnd()}`;
    await k.ok(['run', '-d', '--name', ncSrv, '--network', net, 'busybox', 'sh', '-c', 'nc -l -p 7000 > /tmp/got; cat /tmp/got']);
    await k.until('nc to listen', async () => (await k.docker(['exec', ncSrv, 'sh', '-c', 'netstat -ltn | grep -q :7000'])).code === 0);
    await execOut(cli, ['sh', '-c', `echo ping-data | nc ${ncSrv} 7000`]);
    await k.until('the nc server to exit', async () => !(await ctrJson(ncSrv)).State.Running);
    assert.equal(await k.ok(['logs', ncSrv]), 'ping-data\n');

    // A name that is not ours and has no dots: NXDOMAIN at once (dockerd 20.10 forwarded it).
    const unknown = await nslookup(cli, `nosuchname${rnd()}`);
    assert.notEqual(unknown.code, 0, unknown.out);
    assert.match(unknown.out, /NXDOMAIN/);
    assert.ok(unknown.ms < 3000, `unknown name took ${unknown.ms} ms`);

    // From another network, and from the default bridge, the names are not visible.
    const other = `other-${rnd()}`;
    await k.ok(['network', 'create', other]);
    const outsider = `out-${rnd()}`;
    await k.ok(['run', '-d', '--name', outsider, '--network', other, 'busybox', 'sleep', '600']);
    for (const name of [srv, 'web']) {
      const r = await nslookup(outsider, name);
      assert.notEqual(r.code, 0, r.out);
      assert.deepEqual(r.addrs, []);
    }
    await rmf(srv, cli, ncSrv, outsider);
    await netRm(net, other);
  });

  test('/etc/hosts, /etc/hostname and resolv.conf on a user network, the default bridge and none', async () => {
    const net = `etc-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const gateway = (await netInspect(net)).IPAM.Config?.[0].Gateway ?? '';
    const u = `u-${rnd()}`;
    const uid = (await k.ok(['run', '-d', '--name', u, '--network', net, 'busybox', 'sleep', '600'])).trim();
    const uip = (await ctrJson(u)).NetworkSettings.Networks[net].IPAddress;
    const base = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
    assert.equal(await execOut(u, ['cat', '/etc/hosts']), `${base}${uip}\t${uid.slice(0, 12)}\n`);
    assert.equal(await execOut(u, ['cat', '/etc/hostname']), `${uid.slice(0, 12)}\n`);
    const resolv = lines(await execOut(u, ['cat', '/etc/resolv.conf']));
    assert.deepEqual(resolv.filter((l) => l.startsWith('nameserver')), [`nameserver ${gateway}`]);
    assert.ok(resolv.includes('options ndots:0'), resolv.join('\n'));

    // The default bridge: an address line too, but the host's resolvers (no embedded DNS there).
    const d = `d-${rnd()}`;
    const did = (await k.ok(['run', '-d', '--name', d, 'busybox', 'sleep', '600'])).trim();
    const dNet = (await ctrJson(d)).NetworkSettings.Networks.bridge;
    assert.equal(await execOut(d, ['cat', '/etc/hosts']), `${base}${dNet.IPAddress}\t${did.slice(0, 12)}\n`);
    const hostNs = lines(fs.readFileSync('/etc/resolv.conf', 'utf8'))
      .filter((l) => /^nameserver\s/.test(l))
      .map((l) => l.split(/\s+/)[1])
      .filter((ip) => !ip.startsWith('127.') && ip !== '::1');
    const dNs = lines(await execOut(d, ['cat', '/etc/resolv.conf'])).filter((l) => l.startsWith('nameserver')).map((l) => l.split(/\s+/)[1]);
    assert.ok(!dNs.includes(dNet.Gateway), `no DNS on the default bridge: ${dNs.join()}`);
    if (hostNs.length > 0) assert.deepEqual(dNs, hostNs);

    // none: no address line.
    const nid = (await k.ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '600'])).trim();
    assert.equal(await execOut(nid, ['cat', '/etc/hosts']), base);

    // Two networks: one line per address.
    await k.ok(['network', 'connect', 'bridge', u]);
    const both = (await ctrJson(u)).NetworkSettings.Networks;
    const hosts = lines(await execOut(u, ['cat', '/etc/hosts']));
    assert.ok(hosts.includes(`${both[net].IPAddress}\t${uid.slice(0, 12)}`) && hosts.includes(`${both.bridge.IPAddress}\t${uid.slice(0, 12)}`), hosts.join('\n'));
    await rmf(u, d, nid);
    await netRm(net);
  });

  test('inspect NetworkSettings with --ip and --network-alias, and the network\'s Containers map', async () => {
    const s = freeSubnet();
    const net = `ins-${rnd()}`;
    const netId = (await k.ok(['network', 'create', '--subnet', `${s}.0/24`, net])).trim();
    const name = `ins-c-${rnd()}`;
    const id = (await k.ok(['run', '-d', '--name', name, '--network', net, '--network-alias', 'web', '--network-alias', 'www', '--ip', `${s}.10`, 'busybox', 'sleep', '600'])).trim();
    const c = await ctrJson(name);
    assert.equal(c.HostConfig.NetworkMode, net);
    const ns = c.NetworkSettings;
    assert.match(ns.SandboxID, /^[0-9a-f]{64}$/);
    assert.notEqual(ns.SandboxKey, '');
    assert.deepEqual(ns.Ports ?? {}, {});
    assert.deepEqual(Object.keys(ns.Networks), [net]);
    const ep = ns.Networks[net];
    assert.deepEqual(ep.IPAMConfig, { IPv4Address: `${s}.10` });
    assert.equal(ep.NetworkID, netId);
    assert.match(ep.EndpointID, /^[0-9a-f]{64}$/);
    assert.equal(ep.Gateway, `${s}.1`);
    assert.equal(ep.IPAddress, `${s}.10`);
    assert.equal(ep.IPPrefixLen, 24);
    assert.match(ep.MacAddress, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    // Aliases hold the given ones (dockerd before API 1.45 added the short ID); DNSNames all names.
    assert.ok(ep.Aliases?.includes('web') && ep.Aliases.includes('www'), JSON.stringify(ep.Aliases));
    for (const n of [name, 'web', 'www', id.slice(0, 12)]) assert.ok(ep.DNSNames?.includes(n), `${n} in DNSNames ${JSON.stringify(ep.DNSNames)}`);

    // What the container sees matches.
    assert.equal(await addrInside(name, 'eth0'), `${s}.10`);
    assert.equal((await execOut(name, ['cat', '/sys/class/net/eth0/address'])).trim(), ep.MacAddress);
    assert.match(await execOut(name, ['ip', 'route']), new RegExp(`default via ${s}\\.1 dev eth0`));

    // The network lists it with the same endpoint.
    const n = await netInspect(net);
    assert.deepEqual(n.Containers, { [id]: { Name: name, EndpointID: ep.EndpointID, MacAddress: ep.MacAddress, IPv4Address: `${s}.10/24`, IPv6Address: '' } });
    assert.equal((await k.ok(['ps', '--filter', `id=${id}`, '--format', '{{.Networks}}'])).trim(), net);

    // Stopped: still configured on the network, but no endpoint; the network's map drops it.
    await k.ok(['stop', '-t', '0', name]);
    const stopped = (await ctrJson(name)).NetworkSettings;
    assert.deepEqual(Object.keys(stopped.Networks), [net]);
    assert.equal(stopped.Networks[net].IPAddress, '');
    assert.equal(stopped.Networks[net].EndpointID, '');
    assert.deepEqual((await netInspect(net)).Containers ?? {}, {});
    // Started again: the static address comes back.
    await k.ok(['start', name]);
    assert.equal((await ctrJson(name)).NetworkSettings.Networks[net].IPAddress, `${s}.10`);
    await rmf(name);
    await netRm(net);
  });

  test('--link aliases resolve for the linking container only; --mac-address is applied', async () => {
    const netName = `lk-${rnd()}`;
    await k.ok(['network', 'create', netName]);
    const srv = `lk-srv-${rnd()}`;
    await k.ok(['run', '-d', '--name', srv, '--network', netName, 'busybox', 'sleep', '600']);
    const srvIp = (await ctrJson(srv)).NetworkSettings.Networks[netName].IPAddress;
    const linker = `lk-c-${rnd()}`;
    await k.ok(['run', '-d', '--name', linker, '--network', netName, '--link', `${srv}:db`, 'busybox', 'sleep', '600']);
    assert.deepEqual((await nslookup(linker, 'db')).addrs, [srvIp]);
    const bystander = `lk-b-${rnd()}`;
    await k.ok(['run', '-d', '--name', bystander, '--network', netName, 'busybox', 'sleep', '600']);
    const r = await nslookup(bystander, 'db');
    assert.notEqual(r.code, 0, r.out);
    assert.deepEqual(r.addrs, []);

    const mac = '02:42:aa:bb:cc:dd';
    const withMac = `mac-${rnd()}`;
    await k.ok(['run', '-d', '--name', withMac, '--network', netName, '--mac-address', mac, 'busybox', 'sleep', '600']);
    assert.equal((await execOut(withMac, ['cat', '/sys/class/net/eth0/address'])).trim(), mac);
    assert.equal((await ctrJson(withMac)).NetworkSettings.Networks[netName].MacAddress, mac);
    await rmf(srv, linker, bystander, withMac);
    await netRm(netName);
  });

  test('run errors: --ip outside or taken, --ip or alias on the default bridge, unknown network', async () => {
    const s = freeSubnet();
    const net = `runerr-${rnd()}`;
    await k.ok(['network', 'create', '--subnet', `${s}.0/24`, net]);
    await k.ok(['run', '-d', '--name', `holder-${net}`, '--network', net, '--ip', `${s}.50`, 'busybox', 'sleep', '600']);

    const taken = await k.docker(['run', '-d', '--name', `taken-${net}`, '--network', net, '--ip', `${s}.50`, 'busybox', 'sleep', '600']);
    assert.equal(taken.code, 125);
    assert.match(taken.stderr, /Error response from daemon: Address already in use/);
    const takenApi = await createAndStartFails(`taken2-${net}`, { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: net }, NetworkingConfig: { EndpointsConfig: { [net]: { IPAMConfig: { IPv4Address: `${s}.50` } } } } });
    assert.equal(takenApi.status, 403);
    assert.equal(takenApi.message, 'Address already in use');

    const outside = await k.docker(['run', '-d', '--name', `outside-${net}`, '--network', net, '--ip', '10.98.0.5', 'busybox', 'true']);
    assert.equal(outside.code, 125);
    assert.match(outside.stderr, /Error response from daemon: invalid address 10\.98\.0\.5: It does not belong to any of this network's subnets/i);

    const onBridge = await createAndStartFails(`ipbr-${net}`, { Image: 'busybox', Cmd: ['true'], NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: '172.17.0.50' } } } } });
    assert.equal(onBridge.status, 400);
    assert.equal(onBridge.message, 'user specified IP address is supported on user defined networks only');
    const aliasBridge = await createAndStartFails(`albr-${net}`, { Image: 'busybox', Cmd: ['true'], NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: ['al'] } } } });
    assert.equal(aliasBridge.status, 400);
    assert.equal(aliasBridge.message, 'network-scoped alias is supported only for containers in user defined networks');
    // The CLI refuses an alias on the default network itself.
    const aliasCli = await k.docker(['run', '--rm', '--network-alias', 'al', 'busybox', 'true']);
    assert.equal(aliasCli.code, 125);
    assert.match(aliasCli.stderr, /network-scoped aliases are only supported for user-defined networks/);

    const nosuch = await k.docker(['run', '-d', '--name', `nosuch-${net}`, '--network', 'nosuch-net', 'busybox', 'true']);
    assert.equal(nosuch.code, 125);
    assert.match(nosuch.stderr, /Error response from daemon: network nosuch-net not found/);
    const nosuchApi = await createAndStartFails(`nosuch2-${net}`, { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'nosuch-net' } });
    assert.equal(nosuchApi.status, 404);
    assert.equal(nosuchApi.message, 'network nosuch-net not found');

    const shared = await createAndStartFails(`cshare-${net}`, { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: `container:holder-${net}`, PortBindings: { '80/tcp': [{ HostPort: '' }] } } });
    assert.equal(shared.status, 400);
    assert.equal(shared.message, 'conflicting options: port publishing and the container type network mode');

    await rmf(`holder-${net}`, `taken-${net}`, `taken2-${net}`, `outside-${net}`, `ipbr-${net}`, `albr-${net}`, `nosuch-${net}`, `nosuch2-${net}`, `cshare-${net}`);
    await netRm(net);
  });
});

describe('legacy links on the default bridge', () => {
  test('--link puts the target in /etc/hosts, is stored as dockerd stores it, and needs a running target', async () => {
    const db = `ldb-${rnd()}`;
    const web = `lweb-${rnd()}`;
    await k.ok(['run', '-d', '--name', db, '--expose', '5432', '-e', 'SECRET=s1', 'busybox', 'sleep', '300']);
    const dbIp = (await k.ok(['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', db])).trim();
    await k.ok(['create', '--name', web, '--link', `${db}:dbalias`, 'busybox', 'sh', '-c', 'grep dbalias /etc/hosts; ping -c1 -W2 dbalias >/dev/null && echo reached']);
    assert.equal((await k.ok(['inspect', '-f', '{{json .HostConfig.Links}}', web])).trim(), JSON.stringify([`/${db}:/${web}/dbalias`]));
    const out = lines(await k.ok(['start', '-a', web]));
    assert.match(out[0], new RegExp(`^${dbIp.replace(/\./g, '\\.')}\\tdbalias .*${db}$`));
    assert.equal(out[1], 'reached');
    // dockerd's link variables.
    const envc = `lenv-${rnd()}`;
    const env = lines(await k.ok(['run', '--rm', '--name', envc, '--link', `${db}:db-alias`, 'busybox', 'env'])).filter((l) => l.startsWith('DB_ALIAS_')).sort();
    assert.deepEqual(env, [
      `DB_ALIAS_ENV_SECRET=s1`,
      `DB_ALIAS_NAME=/${envc}/db-alias`,
      `DB_ALIAS_PORT=tcp://${dbIp}:5432`,
      `DB_ALIAS_PORT_5432_TCP=tcp://${dbIp}:5432`,
      `DB_ALIAS_PORT_5432_TCP_ADDR=${dbIp}`,
      `DB_ALIAS_PORT_5432_TCP_PORT=5432`,
      `DB_ALIAS_PORT_5432_TCP_PROTO=tcp`,
    ]);
    // An unknown target is refused at create; a stopped one at start.
    const bad = await k.fails(['create', '--link', 'nosuch-target:x', 'busybox', 'true']);
    assert.match(bad.stderr, /could not get container for nosuch-target/);
    await k.ok(['stop', '-t', '0', db]);
    const stopped = await k.fails(['start', web]);
    assert.match(stopped.stderr, new RegExp(`Cannot link to a non running container: /${db} AS /${web}/dbalias`));
    await rmf(web, db);
  });
});

describe('network status', () => {
  test('inspect at API 1.52+ counts the subnet\'s addresses in use and still free; older versions have no Status', async () => {
    const s = freeSubnet();
    const net = `st-${rnd()}`;
    await k.ok(['network', 'create', '--subnet', `${s}.0/24`, '--ip-range', `${s}.128/25`, net]);
    const c = `stc-${rnd()}`;
    await k.ok(['run', '-d', '--name', c, '--network', net, 'busybox', 'sleep', '300']);
    const modern = JSON.parse((await k.request('GET', `/v1.53/networks/${net}`)).body) as { Status?: { IPAM: { Subnets: Record<string, { IPsInUse: number; DynamicIPsAvailable: number }> } } };
    // network, broadcast and gateway addresses plus the container's; of the range's 128, the
    // gateway (first of the range), the container and the subnet's broadcast address are taken.
    assert.deepEqual(modern.Status, { IPAM: { Subnets: { [`${s}.0/24`]: { IPsInUse: 4, DynamicIPsAvailable: 125 } } } });
    const old = JSON.parse((await k.request('GET', `/v1.50/networks/${net}`)).body) as Record<string, unknown>;
    assert.equal('Status' in old, false);
    await rmf(c);
    await netRm(net);
  });
});

describe('wrongly typed network fields', () => {
  test('are refused with 400 and Go\'s json text, and nothing is created', async () => {
    const net = `ty-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const before = lines(await k.ok(['ps', '-aq'])).length;
    const cases: [string, string, unknown, RegExp][] = [
      ['POST', '/containers/create', { Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': 5 } } }, /cannot unmarshal number into Go struct field HostConfig\.HostConfig\.PortBindings of type \[\]nat\.PortBinding/],
      ['POST', '/containers/create', { Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 8080 }] } } }, /cannot unmarshal number into Go struct field PortBinding\.HostConfig\.PortBindings\.HostPort of type string/],
      ['POST', '/containers/create', { Image: 'busybox', NetworkingConfig: { EndpointsConfig: { [net]: { Aliases: 'web' } } } }, /cannot unmarshal string into Go struct field EndpointSettings\.NetworkingConfig\.EndpointsConfig\.Aliases of type \[\]string/],
      ['POST', '/containers/create', { Image: 'busybox', NetworkingConfig: { EndpointsConfig: [] } }, /cannot unmarshal array into Go struct field NetworkingConfig\.NetworkingConfig\.EndpointsConfig of type map\[string\]\*network\.EndpointSettings/],
      ['POST', `/networks/${net}/connect`, { Container: 'x', EndpointConfig: { IPAMConfig: { IPv4Address: 7 } } }, /cannot unmarshal number into Go struct field ConnectOptions.EndpointConfig.IPAMConfig.IPv4Address of type string/],
    ];
    for (const [method, url, body, message] of cases) {
      const r = await k.request(method, url, body);
      assert.equal(r.status, 400, `${url} ${JSON.stringify(body)}: ${r.body}`);
      assert.match((JSON.parse(r.body) as { message: string }).message, message);
    }
    assert.equal(lines(await k.ok(['ps', '-aq'])).length, before);
    await netRm(net);
  });
});

describe('embedded DNS forwarding', () => {
  test('names that are not the network\'s go to the container\'s --dns servers (a loopback one here) and come back', async () => {
    // A fake upstream on a loopback address of the host: the embedded DNS runs in the host's
    // namespace, so it reaches it although the container itself could not.
    const upstreamIp = `127.53.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
    const asked: string[] = [];
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      const name = q.questions?.[0]?.name ?? '';
      asked.push(`${q.questions?.[0]?.type ?? ''} ${name}`);
      const answers: dnsPacket.Answer[] = q.questions?.[0]?.type === 'A' && name === 'far.example.test' ? [{ type: 'A', name, ttl: 30, data: '192.0.2.77' }] : [];
      const reply = dnsPacket.encode({ id: q.id, type: 'response', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: q.questions, answers });
      sock.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(53, upstreamIp, () => resolve());
    });
    try {
      const net = `fw-${rnd()}`;
      await k.ok(['network', 'create', net]);
      const out = await k.runOut(['--network', net, '--dns', upstreamIp], ['nslookup', 'far.example.test']);
      assert.match(out, /Address:\s+192\.0\.2\.77/);
      assert.ok(asked.includes('A far.example.test'), `upstream saw: ${asked.join(', ')}`);
      // resolv.conf still names the embedded server, not the --dns one.
      const resolv = await k.runOut(['--network', net, '--dns', upstreamIp], ['cat', '/etc/resolv.conf']);
      assert.doesNotMatch(resolv, new RegExp(upstreamIp.replace(/\./g, '\\.')));
      await netRm(net);
    } finally {
      sock.close();
    }
  });
});

describe('docker ps by network', () => {
  test('--filter network= matches a network\'s name or ID, as configured, and the Networks column names them', async () => {
    const a = `fa-${rnd()}`;
    const b = `fb-${rnd()}`;
    await k.ok(['network', 'create', a]);
    await k.ok(['network', 'create', b]);
    const idA = (await k.ok(['network', 'inspect', '-f', '{{.Id}}', a])).trim();
    const ca = `pa-${rnd()}`;
    const cb = `pb-${rnd()}`;
    const cn = `pn-${rnd()}`;
    await k.ok(['run', '-d', '--name', ca, '--network', a, 'busybox', 'sleep', '300']);
    await k.ok(['create', '--name', cb, '--network', b, 'busybox', 'true']);
    await k.ok(['run', '-d', '--name', cn, '--network', 'none', 'busybox', 'sleep', '300']);
    const names = async (...filters: string[]): Promise<string[]> =>
      lines(await k.ok(['ps', '-a', ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Names}}'])).filter((n) => [ca, cb, cn].includes(n)).sort();
    assert.deepEqual(await names(`network=${a}`), [ca]);
    assert.deepEqual(await names(`network=${idA}`), [ca]);
    assert.deepEqual(await names(`network=${b}`), [cb], 'a created container counts on the network it is configured on');
    assert.deepEqual(await names('network=none'), [cn]);
    assert.deepEqual(await names(`network=${a}`, `network=${b}`), [ca, cb].sort());
    assert.deepEqual(await names('network=nosuch'), []);
    assert.equal((await k.ok(['ps', '--filter', `name=${ca}`, '--format', '{{.Networks}}'])).trim(), a);
    await k.ok(['network', 'connect', b, ca]);
    assert.deepEqual((await k.ok(['ps', '--filter', `name=${ca}`, '--format', '{{.Networks}}'])).trim().split(',').sort(), [a, b].sort());
    assert.deepEqual(await names(`network=${b}`), [ca, cb].sort());
    await rmf(ca, cb, cn);
    await netRm(a, b);
  });
});

describe('connect and disconnect', () => {
  test('a running container gets the new interface at once, is resolvable by its alias, and loses both on disconnect', async () => {
    const s = freeSubnet();
    const netA = `ca-${rnd()}`;
    const netB = `cb-${rnd()}`;
    await k.ok(['network', 'create', netA]);
    const netBId = (await k.ok(['network', 'create', '--subnet', `${s}.0/24`, netB])).trim();
    const c = `conn-${rnd()}`;
    const cid = (await k.ok(['run', '-d', '--name', c, '--network', netA, 'busybox', 'sleep', '600'])).trim();
    const peer = `peer-${rnd()}`;
    await k.ok(['run', '-d', '--name', peer, '--network', netB, 'busybox', 'sleep', '600']);
    assert.equal(await addrInside(c, 'eth1'), undefined);

    await k.ok(['network', 'connect', '--alias', 'a2', '--alias', 'a3', '--ip', `${s}.77`, netB, c]);
    assert.equal(await addrInside(c, 'eth1'), `${s}.77`);
    const eps = (await ctrJson(c)).NetworkSettings.Networks;
    assert.deepEqual(Object.keys(eps).sort(), [netA, netB].sort());
    assert.equal(eps[netB].IPAddress, `${s}.77`);
    assert.equal(eps[netB].NetworkID, netBId);
    assert.ok(eps[netB].Aliases?.includes('a2') && eps[netB].Aliases.includes('a3'), JSON.stringify(eps[netB].Aliases));
    assert.deepEqual((await k.ok(['ps', '--filter', `id=${cid}`, '--format', '{{.Networks}}'])).trim().split(',').sort(), [netA, netB].sort());
    // The peer on netB resolves it by name and alias, and reaches it.
    for (const name of [c, 'a2', 'a3']) assert.deepEqual((await nslookup(peer, name)).addrs, [`${s}.77`], name);
    assert.match(await execOut(peer, ['ping', '-c', '1', '-W', '3', 'a2']), /1 packets received/);
    // The container's /etc/hosts gained the new address.
    assert.ok(lines(await execOut(c, ['cat', '/etc/hosts'])).includes(`${s}.77\t${cid.slice(0, 12)}`));

    // Errors while connected.
    const twice = await apiError('POST', `/networks/${netB}/connect`, { Container: c });
    assert.equal(twice.status, 403);
    assert.equal(twice.message, `endpoint with name ${c} already exists in network ${netB}`);
    const twiceCli = await k.fails(['network', 'connect', netB, c]);
    assert.match(twiceCli.stderr, new RegExp(`Error response from daemon: endpoint with name ${c} already exists in network ${netB}`));

    await k.ok(['network', 'disconnect', netB, c]);
    assert.equal(await addrInside(c, 'eth1'), undefined);
    assert.deepEqual(Object.keys((await ctrJson(c)).NetworkSettings.Networks), [netA]);
    const after = await nslookup(peer, 'a2');
    assert.notEqual(after.code, 0, after.out);
    assert.deepEqual(after.addrs, []);
    assert.ok(after.ms < 3000, `took ${after.ms} ms`);
    assert.ok(!lines(await execOut(c, ['cat', '/etc/hosts'])).includes(`${s}.77\t${cid.slice(0, 12)}`));
    assert.deepEqual(Object.keys((await netInspect(netB)).Containers ?? {}).includes(cid), false);

    const notConnected = await apiError('POST', `/networks/${netB}/disconnect`, { Container: c });
    assert.equal(notConnected.message, `container ${cid} is not connected to network ${netB}`);
    await rmf(c, peer);
    await netRm(netA, netB);
  });

  test('connect errors: host, none, a host- or none-mode container, the default bridge with --alias or --ip, unknown names', async () => {
    const net = `ce-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const c = `ce-c-${rnd()}`;
    await k.ok(['run', '-d', '--name', c, '--network', net, 'busybox', 'sleep', '600']);
    const hostC = `ce-h-${rnd()}`;
    await k.ok(['run', '-d', '--name', hostC, '--network', 'host', 'busybox', 'sleep', '600']);
    const noneC = `ce-n-${rnd()}`;
    await k.ok(['run', '-d', '--name', noneC, '--network', 'none', 'busybox', 'sleep', '600']);

    const cases: [string, unknown, number, string][] = [
      ['host', { Container: c }, 400, 'container cannot be disconnected from host network or connected to host network'],
      ['none', { Container: c }, 400, 'container cannot be connected to multiple networks with one of the networks in private (none) mode'],
      [net, { Container: noneC }, 400, 'container cannot be connected to multiple networks with one of the networks in private (none) mode'],
      [net, { Container: hostC }, 400, 'container sharing network namespace with another container or host cannot be connected to any other network'],
      ['bridge', { Container: c, EndpointConfig: { Aliases: ['a1'] } }, 400, 'network-scoped alias is supported only for containers in user defined networks'],
      ['bridge', { Container: c, EndpointConfig: { IPAMConfig: { IPv4Address: '172.17.0.50' } } }, 400, 'user specified IP address is supported on user defined networks only'],
      ['nosuch-net', { Container: c }, 404, 'network nosuch-net not found'],
      [net, { Container: 'nosuch-ctr' }, 404, 'No such container: nosuch-ctr'],
    ];
    for (const [target, body, status, message] of cases) {
      const e = await apiError('POST', `/networks/${target}/connect`, body);
      assert.deepEqual(e, { status, message }, `connect ${target} ${JSON.stringify(body)}`);
    }
    const cli = await k.fails(['network', 'connect', 'host', c]);
    assert.equal(cli.stderr.trim(), 'Error response from daemon: container cannot be disconnected from host network or connected to host network');
    await rmf(c, hostC, noneC);
    await netRm(net);
  });
});

describe('network modes', () => {
  test('none has only lo; host sees the host\'s interfaces; both are listed in inspect', async () => {
    assert.equal(await k.runOut(['--network', 'none'], ['ls', '/sys/class/net']), 'lo\n');
    const noneId = (await k.ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '600'])).trim();
    const none = (await ctrJson(noneId)).NetworkSettings;
    assert.deepEqual(Object.keys(none.Networks), ['none']);
    assert.equal(none.Networks.none.IPAddress, '');
    assert.equal(none.Networks.none.NetworkID, (await netInspect('none')).Id);

    const defaultBridge = (await netInspect('bridge')).Options?.['com.docker.network.bridge.name'] ?? '';
    const seen = lines(await k.runOut(['--network', 'host'], ['ls', '/sys/class/net']));
    for (const ifName of ['lo', 'eth0', defaultBridge]) {
      if (fs.existsSync(path.join('/sys/class/net', ifName))) assert.ok(seen.includes(ifName), `${ifName} in ${seen.join(' ')}`);
    }
    const hostId = (await k.ok(['run', '-d', '--network', 'host', 'busybox', 'sleep', '600'])).trim();
    const host = (await ctrJson(hostId)).NetworkSettings;
    assert.deepEqual(Object.keys(host.Networks), ['host']);
    assert.equal(host.Networks.host.NetworkID, (await netInspect('host')).Id);
    assert.deepEqual(lines(await k.ok(['ps', '--filter', `id=${noneId}`, '--filter', `id=${hostId}`, '--format', '{{.Networks}}'])).sort(), ['host', 'none']);
    await rmf(noneId, hostId);
  });

  test('container:<id> shares the other container\'s network namespace, hostname and files', async () => {
    const net = `share-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const a = `sh-a-${rnd()}`;
    const aid = (await k.ok(['run', '-d', '--name', a, '--network', net, 'busybox', 'sleep', '600'])).trim();
    const b = `sh-b-${rnd()}`;
    await k.ok(['run', '-d', '--name', b, '--network', `container:${a}`, 'busybox', 'sleep', '600']);
    assert.equal(await addrInside(b, 'eth0'), await addrInside(a, 'eth0'));
    assert.equal(await execOut(b, ['cat', '/sys/class/net/eth0/address']), await execOut(a, ['cat', '/sys/class/net/eth0/address']));
    assert.equal(await execOut(b, ['hostname']), `${aid.slice(0, 12)}\n`);
    assert.equal(await execOut(b, ['cat', '/etc/hosts']), await execOut(a, ['cat', '/etc/hosts']));
    // Traffic on localhost crosses between them.
    await k.ok(['exec', '-d', a, 'sh', '-c', 'echo shared-lo | nc -l -p 7100']);
    await k.until('nc in a to listen', async () => (await k.docker(['exec', a, 'sh', '-c', 'netstat -ltn | grep -q :7100'])).code === 0);
    assert.equal(await execOut(b, ['nc', '127.0.0.1', '7100']), 'shared-lo\n');

    const bj = await ctrJson(b);
    assert.equal(bj.HostConfig.NetworkMode, `container:${aid}`);
    assert.deepEqual(bj.NetworkSettings.Networks, {});
    assert.equal(bj.NetworkSettings.SandboxKey, '');
    assert.equal((await k.ok(['ps', '--filter', `name=${b}`, '--format', '{{.Networks}}'])).trim(), '');

    const conflict = await k.docker(['run', '--rm', '--network', `container:${a}`, '-p', '80', 'busybox', 'true']);
    assert.equal(conflict.code, 125);
    assert.match(conflict.stderr, /conflicting options: port publishing and the container type network mode/);
    const nosuch = await k.docker(['run', '--rm', '--network', 'container:nosuch-ctr', 'busybox', 'true']);
    assert.equal(nosuch.code, 125);
    assert.match(nosuch.stderr, /No such container: nosuch-ctr/);
    await rmf(b, a);
    await netRm(net);
  });

  test('an internal network reaches its own members and its DNS, but nothing beyond the gateway', async (t) => {
    // "Outside": a netns made here, routed through the host like any destination beyond a gateway.
    const s = outsideServer(t, 'outside-world', true);
    const open = `open-${rnd()}`;
    const closed = `int-${rnd()}`;
    await k.ok(['network', 'create', open]);
    await k.ok(['network', 'create', '--internal', closed]);
    assert.equal((await netInspect(closed)).Internal, true);
    // Control: from a normal network the outside answers.
    await k.until('the outside httpd to answer a container on a normal network', async () => (await wget(open, `http://${s}.2:8080/`, 2)).code === 0, 20_000);
    assert.equal((await wget(open, `http://${s}.2:8080/`)).out, 'outside-world\n');

    // Internal: members reach each other by name, but not the outside.
    const member = `m-${rnd()}`;
    await k.ok(['run', '-d', '--name', member, '--network', closed, 'busybox', ...httpd('inside-only')]);
    await k.until('the internal member to answer', async () => (await wget(closed, `http://${member}/`, 2)).code === 0, 20_000);
    assert.equal((await wget(closed, `http://${member}/`)).out, 'inside-only\n');
    const blocked = await wget(closed, `http://${s}.2:8080/`, 3);
    assert.notEqual(blocked.code, 0, 'an internal network must not reach beyond its gateway');
    await rmf(member);
    await netRm(open, closed);
  });
});

describe('isolation', () => {
  test('two user networks cannot reach each other\'s containers; a container on both reaches each', async () => {
    const a = `isa-${rnd()}`;
    const b = `isb-${rnd()}`;
    await k.ok(['network', 'create', a]);
    await k.ok(['network', 'create', b]);
    const srv = `iss-${rnd()}`;
    await k.ok(['run', '-d', '--name', srv, '--network', a, 'busybox', ...httpd('on-a')]);
    const ip = (await k.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${a}").IPAddress}}`, srv])).trim();
    await k.until('the server to answer on its own network', async () => (await wget(a, `http://${ip}/`, 2)).code === 0, 20_000);
    assert.equal((await wget(a, `http://${ip}/`)).out, 'on-a\n');
    const across = await wget(b, `http://${ip}/`, 3);
    assert.notEqual(across.code, 0, 'a container on another network must not reach it');
    // On both networks: reaches it (through its interface on a).
    const both = `isboth-${rnd()}`;
    await k.ok(['create', '--name', both, '--network', b, 'busybox', 'sh', '-c', `timeout 5 wget -qO- http://${ip}/`]);
    await k.ok(['network', 'connect', a, both]);
    await k.ok(['start', '-a', both]).then((out) => assert.equal(out, 'on-a\n'));
    await rmf(srv, both);
    await netRm(a, b);
  });
});

describe('outbound NAT', () => {
  test('traffic leaving a network is masqueraded; enable_ip_masquerade=false keeps the container\'s address', async (t) => {
    // "Outside": a netns with no route back to the containers' subnets, so only masqueraded
    // traffic (source = the host's address on the link) gets an answer.
    const s = outsideServer(t, 'far-away', false);
    const masq = `masq-${rnd()}`;
    const plain = `nomasq-${rnd()}`;
    await k.ok(['network', 'create', masq]);
    await k.ok(['network', 'create', '-o', 'com.docker.network.bridge.enable_ip_masquerade=false', plain]);
    await k.until('the outside to answer a masqueraded container', async () => (await wget(masq, `http://${s}.2:8080/`, 2)).code === 0, 20_000);
    assert.equal((await wget(masq, `http://${s}.2:8080/`)).out, 'far-away\n');
    const unmasked = await wget(plain, `http://${s}.2:8080/`, 3);
    assert.notEqual(unmasked.code, 0, 'without masquerade the outside has no way back to the container');
    await netRm(masq, plain);
  });
});

describe('leftovers', () => {
  test('after rm a container leaves no netns and no veth, and its address is free again', async () => {
    const s = freeSubnet();
    const net = `left-${rnd()}`;
    const netId = (await k.ok(['network', 'create', '--subnet', `${s}.0/24`, net])).trim();
    const bridge = bridgeOf(await netInspect(net));
    assert.equal(bridge, `br-${netId.slice(0, 12)}`);
    const id = (await k.ok(['run', '-d', '--network', net, '--ip', `${s}.20`, 'busybox', 'sleep', '600'])).trim();
    const netns = `berth-${id.slice(0, 12)}`;
    assert.ok(netnsNames().includes(netns), `${netns} while running`);
    const ports = bridgePorts(bridge);
    assert.equal(ports.length, 1, ports.join());
    assert.match(ports[0], /^veth[0-9a-f]{7}$/);
    // Connected to a second network: a second veth, on that network's bridge.
    const defaultBridge = (await netInspect('bridge')).Options?.['com.docker.network.bridge.name'] ?? '';
    const beforeConnect = bridgePorts(defaultBridge);
    await k.ok(['network', 'connect', 'bridge', id]);
    const added = bridgePorts(defaultBridge).filter((p) => !beforeConnect.includes(p));
    assert.equal(added.length, 1, added.join());

    await k.ok(['rm', '-f', id]);
    assert.ok(!netnsNames().includes(netns), `${netns} left behind`);
    assert.deepEqual(bridgePorts(bridge), []);
    assert.ok(!fs.existsSync(`/sys/class/net/${ports[0]}`), `${ports[0]} left behind`);
    assert.ok(!fs.existsSync(`/sys/class/net/${added[0]}`), `${added[0]} left behind`);
    assert.deepEqual(k.leftovers(id), []);
    assert.deepEqual((await netInspect(net)).Containers ?? {}, {});
    // The static address can be taken again at once.
    const again = (await k.ok(['run', '-d', '--network', net, '--ip', `${s}.20`, 'busybox', 'sleep', '600'])).trim();
    // A container that exits on its own also gives everything back.
    assert.equal(bridgePorts(bridge).length, 1);
    await k.ok(['stop', '-t', '0', again]);
    await k.until('the stopped container\'s netns and veth to go', async () => !netnsNames().includes(`berth-${again.slice(0, 12)}`) && bridgePorts(bridge).length === 0);
    await k.ok(['rm', again]);
    await k.ok(['network', 'rm', net]);
    assert.equal(linkAddrs(bridge), null);
  });
});

describe('restart', () => {
  test('built-in networks keep their IDs, user networks and their bridges survive a daemon restart', async () => {
    let b = await startBerth();
    try {
      const docker = async (args: string[]): Promise<string> => {
        const r = await b.docker(args, { timeoutMs: 60_000 });
        assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${b.log().slice(-2000)}`);
        return r.stdout;
      };
      const name = `persist-${rnd()}`;
      const id = (await docker(['network', 'create', '--label', 'x=y', name])).trim();
      const before = lines(await docker(['network', 'ls', '--no-trunc', '--format', '{{.ID}} {{.Name}}'])).sort();
      const subnet = (JSON.parse(await docker(['network', 'inspect', name])) as NetworkInspect[])[0].IPAM.Config?.[0].Subnet;
      await b.stop();
      b = await startBerth({ dir: b.dir });
      assert.deepEqual(lines(await docker(['network', 'ls', '--no-trunc', '--format', '{{.ID}} {{.Name}}'])).sort(), before);
      const n = (JSON.parse(await docker(['network', 'inspect', name])) as NetworkInspect[])[0];
      assert.equal(n.Id, id);
      assert.equal(n.IPAM.Config?.[0].Subnet, subnet);
      assert.deepEqual(n.Labels, { x: 'y' });
      assert.notEqual(linkAddrs(`br-${id.slice(0, 12)}`), null);
      await docker(['network', 'rm', name]);
      assert.equal(linkAddrs(`br-${id.slice(0, 12)}`), null);
    } finally {
      await destroyBerth(b);
    }
  });

  test('after a crash and a restart, a container that was running has no netns, veth or host port left, and starts again', async () => {
    let b = await startBerth();
    try {
      const docker = async (args: string[], input?: Buffer): Promise<string> => {
        const r = await b.docker(args, { input, timeoutMs: 60_000 });
        assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${b.log().slice(-2000)}`);
        return r.stdout;
      };
      await docker(['load'], await buildBusyboxArchive({ tags: ['busybox:latest'] }));
      const netName = `crash-${rnd()}`;
      const netId = (await docker(['network', 'create', netName])).trim();
      const bridge = `br-${netId.slice(0, 12)}`;
      const port = await freePort();
      const id = (await docker(['run', '-d', '--network', netName, '-p', `127.0.0.1:${port}:80`, 'busybox', ...httpd('after-crash')])).trim();
      const netns = `berth-${id.slice(0, 12)}`;
      assert.ok(netnsNames().includes(netns));
      assert.equal(bridgePorts(bridge).length, 1);
      assert.equal(await tcpFree('127.0.0.1', port), false);

      await b.stop('SIGKILL');
      b = await startBerth({ dir: b.dir });
      assert.equal((await docker(['inspect', '-f', '{{.State.Status}}', id])).trim(), 'exited');
      assert.ok(!netnsNames().includes(netns), `${netns} left after the restart`);
      assert.deepEqual(bridgePorts(bridge), []);
      assert.equal(await tcpFree('127.0.0.1', port), true);
      assert.deepEqual((JSON.parse(await docker(['network', 'inspect', netName])) as NetworkInspect[])[0].Containers ?? {}, {});

      // It starts again with the same binding.
      await docker(['start', id]);
      assert.ok(netnsNames().includes(netns));
      assert.equal(bridgePorts(bridge).length, 1);
      assert.equal(await tcpFree('127.0.0.1', port), false);
      await docker(['rm', '-f', id]);
      assert.ok(!netnsNames().includes(netns));
      await docker(['network', 'rm', netName]);
    } finally {
      await destroyBerth(b);
    }
  });
});
