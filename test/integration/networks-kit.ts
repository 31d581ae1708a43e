// What the network integration suites share: one berthd per test file (useNetworksKit registers
// its hooks), the shapes of the API answers they read, and helpers for DNS lookups, traffic,
// free subnets and the host's netns, bridges and links.

import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { Kit, lines } from './container-kit';
import { freePorts, httpdCmd, rnd } from './net-tools';

export let k: Kit;

/** Starts this file's berthd (with the busybox image) before its tests; destroys it after them. */
export function useNetworksKit(): void {
  before(async () => {
    k = await Kit.start();
  });

  after(async () => {
    if (!k) return;
    // Networks are left in place on purpose: stopping berthd must remove their bridges and
    // chains, which destroy() checks.
    await k.destroy();
  });
}

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

export interface NetworkInspect {
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

export interface EndpointSettings {
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

export interface EventJson {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: string;
  time: number;
}

/** A short random suffix so that names never clash with another test daemon's objects. */

export async function netInspect(name: string): Promise<NetworkInspect> {
  const r = await k.request('GET', `/networks/${encodeURIComponent(name)}`);
  assert.equal(r.status, 200, `network inspect ${name}: ${r.body}`);
  return JSON.parse(r.body) as NetworkInspect;
}

export async function ctrJson(name: string): Promise<ContainerJson> {
  const r = await k.request('GET', `/containers/${encodeURIComponent(name)}/json`);
  assert.equal(r.status, 200, `container inspect ${name}: ${r.body}`);
  return JSON.parse(r.body) as ContainerJson;
}

/** An API call expected to fail: its status and dockerd-style `message`. */
export async function apiError(method: string, urlPath: string, body?: unknown): Promise<{ status: number; message: string }> {
  const r = await k.request(method, urlPath, body);
  assert.ok(r.status >= 400, `${method} ${urlPath} should have failed, got ${r.status}: ${r.body}`);
  return { status: r.status, message: (JSON.parse(r.body) as { message: string }).message };
}

/**
 * Creates then starts a container through the API and returns the first failure. dockerd 20.10
 * refuses bad network settings at start (the container stays created), newer ones already at
 * create: either is fine, the status and text are what count.
 */
export async function createAndStartFails(name: string, body: unknown): Promise<{ status: number; message: string }> {
  const created = await k.request('POST', `/containers/create?name=${name}`, body);
  if (created.status >= 400) return { status: created.status, message: (JSON.parse(created.body) as { message: string }).message };
  assert.equal(created.status, 201, created.body);
  return apiError('POST', `/containers/${name}/start`);
}

export async function rmf(...names: string[]): Promise<void> {
  await k.docker(['rm', '-f', ...names]);
}

export async function netRm(...names: string[]): Promise<void> {
  await k.docker(['network', 'rm', ...names]);
}

/** Networks' subnets handed out by freeSubnet in this process (not yet visible as routes). */
const takenHere = new Set<string>();

export function ipv4ToInt(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

export function overlaps(a: string, b: string): boolean {
  const [ai, ap] = a.split('/');
  const [bi, bp] = b.split('/');
  const prefix = Math.min(Number(ap ?? 32), Number(bp ?? 32));
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return (ipv4ToInt(ai) & mask) >>> 0 === (ipv4ToInt(bi) & mask) >>> 0;
}

/** A /24 "10.A.B" in 10.160-199.x.x that overlaps no host route and no earlier pick. */
export function freeSubnet(): string {
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
export function answers(nslookupOut: string): string[] {
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
export async function nslookup(container: string, name: string): Promise<{ code: number; out: string; addrs: string[] }> {
  const r = await k.docker(['exec', container, 'nslookup', name], { timeoutMs: 30_000 });
  const out = r.stdout + r.stderr;
  return { code: r.code, out, addrs: answers(r.stdout) };
}

export async function execOut(container: string, cmd: string[]): Promise<string> {
  return k.ok(['exec', container, ...cmd]);
}

/** The container's IPv4 address on interface `ifName`, as seen from inside. */
export async function addrInside(container: string, ifName: string): Promise<string | undefined> {
  const r = await k.docker(['exec', container, 'ip', '-o', '-4', 'addr', 'show', ifName]);
  if (r.code !== 0) return undefined;
  return /inet (\d+\.\d+\.\d+\.\d+)\//.exec(r.stdout)?.[1];
}

/** busybox httpd serving `text` at / on port 80. */
export const httpd = (text: string): string[] => httpdCmd(text);

/** `wget -qO- url` from a throwaway busybox on `net`. */
export async function wget(net: string, url: string, timeoutSec = 5): Promise<{ code: number; out: string }> {
  // Under sh, not as PID 1: busybox timeout execs wget in its own place, and a PID 1 ignores SIGTERM.
  const r = await k.docker(['run', '--rm', '--network', net, 'busybox', 'sh', '-c', `timeout ${timeoutSec} wget -qO- '${url}'`], {
    timeoutMs: 60_000,
  });
  return { code: r.code, out: r.stdout };
}

/**
 * An "outside" host for traffic leaving a network: a netns made here, joined to the host by a
 * veth on a free /24 (host .1, outside .2), serving `text` with busybox httpd on .2:8080.
 * Without a default route it can only answer what comes from the host's own address (i.e.
 * masqueraded traffic). Everything is removed after the test. Returns the /24's first three octets.
 */
export function outsideServer(t: TestContext, text: string, defaultRoute: boolean): string {
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
    for (const args of [
      ['link', 'del', hostVeth],
      ['netns', 'del', ns],
    ]) {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  });
  execFileSync('ip', ['-batch', '-'], {
    input: [
      `netns add ${ns}`,
      `link add ${hostVeth} type veth peer name ${peerVeth} netns ${ns}`,
      `addr add ${s}.1/24 dev ${hostVeth}`,
      `link set ${hostVeth} up`,
    ].join('\n'),
  });
  const inside = ['link set lo up', `addr add ${s}.2/24 dev ${peerVeth}`, `link set ${peerVeth} up`];
  if (defaultRoute) inside.push(`route add default via ${s}.1`);
  execFileSync('ip', ['-n', ns, '-batch', '-'], { input: inside.join('\n') });
  server = spawn('ip', ['netns', 'exec', ns, '/bin/busybox', 'httpd', '-f', '-p', `${s}.2:8080`, '-h', www], { stdio: 'ignore' });
  return s;
}

export function netnsNames(): string[] {
  return lines(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).map((l) => l.split(' ')[0]);
}

/** Names of the interfaces enslaved to `bridge` (empty when the bridge is absent). */
export function bridgePorts(bridge: string): string[] {
  try {
    const out = execFileSync('ip', ['-j', 'link', 'show', 'master', bridge], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return (JSON.parse(out || '[]') as { ifname: string }[]).map((l) => l.ifname);
  } catch {
    return [];
  }
}

/** The IPv4 addresses (with prefix) of a host interface, or null when it does not exist. */
export function linkAddrs(ifName: string): string[] | null {
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
export const freePort = (): Promise<number> => freePorts(1);

export const bridgeOf = (n: NetworkInspect): string => n.Options?.['com.docker.network.bridge.name'] ?? `br-${n.Id.slice(0, 12)}`;

/** Now as the CLI's Unix form, "seconds.fraction". */
export const unixNow = (offsetMs = 0): string => ((Date.now() + offsetMs) / 1000).toFixed(3);
