// Bridges, network namespaces and veth endpoints through iproute2. Every operation feeds its
// commands to `ip -batch -` (or `ip -n NS -batch -`) on stdin, so a step costs one process
// instead of one per command (11 spawns took ~380 ms under load; see
// shared/notes/containerd-from-node.md §7). Listings use `ip -j`.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { isIPv4, isIPv6 } from '../lib/addresses';
import { SystemError } from '../lib/errors';
import { parseCidr4 } from './cidr';
import { parseCidr6 } from './cidr6';

/** Where `ip netns add` bind-mounts the namespaces (iproute2's NETNS_RUN_DIR). */
export const NETNS_DIR = '/run/netns';

const IP_TIMEOUT_MS = 30_000;

/** An `ip` run that failed; the message and `stderr` carry ip's own words. */
export class IpError extends SystemError {
  constructor(
    readonly operation: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`${operation}: ${stderr.trim() || `ip exited with code ${exitCode}`}`);
  }
}

export interface InterfaceInfo {
  name: string;
  mac: string;
  /** IPv4 addresses as CIDR ("172.18.0.2/16"); Berth networks are IPv4 only. */
  addresses: string[];
}

export interface EndpointOptions {
  netns: string;
  hostVeth: string;
  bridge: string;
  ifName: string;
  mac: string;
  addressCidr: string;
  gateway?: string;
  /** The IPv6 address (CIDR), added without duplicate address detection so it works at once. */
  address6Cidr?: string;
  /** A default IPv6 route via this address. */
  gateway6?: string;
  /** --link-local-ip addresses (CIDR, either family). */
  linkLocal?: string[];
  mtu: number;
  /** Make the netns (with lo up) in the same steps: a container's first endpoint. */
  createNetns?: boolean;
}

interface IpResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Names end up on batch lines, so anything with blanks, quotes or newlines must never reach ip.
const LINK_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
const NETNS_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

const isCidr4 = (s: string): boolean => parseCidr4(s) !== null;
const isCidr6 = (s: string): boolean => parseCidr6(s) !== null;

function check(ok: boolean, what: string, value: unknown): void {
  if (!ok) throw new Error(`invalid ${what}: ${JSON.stringify(value)}`);
}

function checkLinkName(name: string, what = 'interface name'): void {
  check(typeof name === 'string' && LINK_NAME.test(name), what, name);
}

function checkNetnsName(name: string): void {
  check(typeof name === 'string' && NETNS_NAME.test(name), 'netns name', name);
}

function checkMtu(mtu: number): void {
  check(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535, 'mtu', mtu);
}

/** Debian keeps ip in /usr/sbin, which a daemon started with a user's PATH may not search. */
function findIp(): string {
  for (const p of ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip']) if (existsSync(p)) return p;
  return 'ip';
}

/** ip -batch prints "Command failed -:N" for the line the kernel refused. Argument errors make
 *  ip exit without it, after the lines before ran: null then means "unknown". */
function failedLine(stderr: string): number | null {
  const m = /Command failed -:(\d+)/.exec(stderr);
  return m ? Number(m[1]) : null;
}

const NO_DEVICE = /Cannot find device|does not exist/;

function randomMac(): string {
  // Locally administered, as dockerd's GenerateRandomMAC; a set address keeps the bridge's MAC
  // from following its lowest-numbered port as veths come and go.
  const b = randomBytes(4);
  return ['02', '42', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

function parseJsonArray(stdout: string, operation: string): Record<string, unknown>[] {
  const text = stdout.trim();
  // `ip -j netns list` prints nothing at all when /run/netns does not exist yet.
  if (text === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new IpError(operation, `unparsable JSON from ip: ${text.slice(0, 200)}`, 0);
  }
  if (!Array.isArray(parsed)) throw new IpError(operation, 'ip -j did not print an array', 0);
  return parsed.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null);
}

function str(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  return typeof v === 'string' ? v : '';
}

export class Links {
  private readonly logger: Logger;
  private readonly ip: string;

  constructor(opts: { logger: Logger; ipPath?: string }) {
    this.logger = opts.logger;
    this.ip = opts.ipPath ?? findIp();
  }

  /** Creates (or adopts) a bridge with address gatewayCidr ("172.18.0.1/16"), mtu, up. Idempotent.
   *  An adopted bridge keeps its MTU; only the address and the up state are ensured. `beforeCreate`
   *  runs just before the link is added (the caller records its claim first). The answer says
   *  whether this call made the link, and whether it added the address to an adopted one. */
  async ensureBridge(
    name: string,
    gatewayCidr: string,
    mtu: number,
    beforeCreate?: () => void,
  ): Promise<{ created: boolean; addressAdded: boolean }> {
    checkLinkName(name, 'bridge name');
    check(isCidr4(gatewayCidr), 'gateway CIDR', gatewayCidr);
    checkMtu(mtu);
    const start = performance.now();
    let adopted = await this.adoptBridge(name, gatewayCidr);
    if (adopted === null) {
      beforeCreate?.();
      const op = `create bridge ${name}`;
      const r = await this.batch([
        `link add ${name} address ${randomMac()} mtu ${mtu} type bridge`,
        `addr add ${gatewayCidr} dev ${name}`,
        `link set ${name} up`,
      ]);
      if (r.code !== 0) {
        const line = failedLine(r.stderr);
        if (line === 1 && /File exists/.test(r.stderr)) {
          // Another caller made it between our look and our add: adopt theirs.
          adopted = await this.adoptBridge(name, gatewayCidr);
          if (adopted !== null) return { created: false, addressAdded: adopted.addressAdded };
        }
        if (line !== 1) await this.deleteLinkQuietly(name);
        throw new IpError(op, r.stderr, r.code);
      }
    }
    this.logger.debug({ bridge: name, gatewayCidr, mtu, ms: Math.round(performance.now() - start) }, 'bridge ready');
    return adopted === null ? { created: true, addressAdded: true } : { created: false, addressAdded: adopted.addressAdded };
  }

  /** null when there is no link of that name; throws when it exists but is no bridge. */
  private async adoptBridge(name: string, gatewayCidr: string): Promise<{ addressAdded: boolean } | null> {
    const shown = await this.run(['-j', '-d', 'link', 'show', 'dev', name]);
    if (shown.code !== 0) {
      if (NO_DEVICE.test(shown.stderr)) return null;
      throw new IpError(`look up bridge ${name}`, shown.stderr, shown.code);
    }
    const [link] = parseJsonArray(shown.stdout, `look up bridge ${name}`);
    const info = link?.linkinfo;
    const kind = typeof info === 'object' && info !== null ? (info as Record<string, unknown>).info_kind : undefined;
    if (kind !== 'bridge') {
      throw new IpError(`adopt bridge ${name}`, `${name} exists and is not a bridge (kind ${String(kind ?? 'none')})`, 0);
    }
    const had = (await this.linkAddresses(name)) ?? [];
    // replace, not add: the address may be there already (daemon restart).
    const r = await this.batch([`addr replace ${gatewayCidr} dev ${name}`, `link set ${name} up`]);
    if (r.code !== 0) throw new IpError(`adopt bridge ${name}`, r.stderr, r.code);
    return { addressAdded: !had.includes(gatewayCidr) };
  }

  /** Adds (or keeps) an IPv6 address on a link without duplicate address detection: a bridge's
   *  IPv6 gateway. Whether it was added (false: it was there). */
  async ensureAddress6(name: string, cidr: string): Promise<boolean> {
    checkLinkName(name);
    check(isCidr6(cidr), 'IPv6 address CIDR', cidr);
    const had = (await this.linkAddresses6(name)) ?? [];
    const r = await this.run(['addr', 'replace', cidr, 'dev', name, 'nodad']);
    if (r.code !== 0) throw new IpError(`add ${cidr} to ${name}`, r.stderr, r.code);
    return !had.includes(cidr);
  }

  /** A host interface's global IPv6 addresses (CIDR), or null when there is no such interface. */
  async linkAddresses6(name: string): Promise<string[] | null> {
    checkLinkName(name);
    const op = `show IPv6 addresses of ${name}`;
    const r = await this.run(['-j', '-6', 'addr', 'show', 'dev', name, 'scope', 'global']);
    if (r.code !== 0) {
      if (NO_DEVICE.test(r.stderr)) return null;
      throw new IpError(op, r.stderr, r.code);
    }
    return parseInterfaces(r.stdout, op, 'inet6')[0]?.addresses ?? [];
  }

  /** Removes one address from a link (an adopted bridge's gateway); a missing link or address is fine. */
  async deleteAddress(name: string, cidr: string): Promise<void> {
    checkLinkName(name);
    check(isCidr4(cidr) || isCidr6(cidr), 'address CIDR', cidr);
    const r = await this.run(['addr', 'del', cidr, 'dev', name]);
    if (r.code !== 0 && !NO_DEVICE.test(r.stderr) && !/Cannot assign requested address/.test(r.stderr)) {
      throw new IpError(`delete address ${cidr} of ${name}`, r.stderr, r.code);
    }
  }

  async deleteBridge(name: string): Promise<void> {
    checkLinkName(name, 'bridge name');
    await this.deleteLink(name, `delete bridge ${name}`);
  }

  /** `ip netns add name` + lo up; returns /run/netns/name. An existing netns of that name is an
   *  error (its interfaces would clash with ours). */
  async createNetns(name: string, opts: { loopbackUp: boolean } = { loopbackUp: true }): Promise<string> {
    checkNetnsName(name);
    const start = performance.now();
    const added = await this.run(['netns', 'add', name]);
    if (added.code !== 0) throw new IpError(`create netns ${name}`, added.stderr, added.code);
    if (!opts.loopbackUp) return `${NETNS_DIR}/${name}`;
    const lo = await this.run(['-n', name, 'link', 'set', 'lo', 'up']);
    if (lo.code !== 0) {
      await this.run(['netns', 'del', name]);
      throw new IpError(`bring up lo in netns ${name}`, lo.stderr, lo.code);
    }
    this.logger.debug({ netns: name, ms: Math.round(performance.now() - start) }, 'netns created');
    return `${NETNS_DIR}/${name}`;
  }

  /** Absent is fine. */
  async deleteNetns(name: string): Promise<void> {
    checkNetnsName(name);
    const r = await this.run(['netns', 'del', name]);
    if (r.code !== 0 && !/No such file or directory/.test(r.stderr)) {
      throw new IpError(`delete netns ${name}`, r.stderr, r.code);
    }
  }

  /** veth pair: host side `hostVeth` into `bridge` (up, mtu), peer made inside the netns and
   *  renamed ifName, mac, mtu and address set, up; a default route via `gateway` when given.
   *  Two processes. On failure the host veth (and with it the peer) is deleted again. */
  async addEndpoint(o: EndpointOptions): Promise<void> {
    checkNetnsName(o.netns);
    checkLinkName(o.hostVeth, 'host veth name');
    checkLinkName(o.bridge, 'bridge name');
    checkLinkName(o.ifName);
    check(MAC.test(o.mac), 'mac address', o.mac);
    check(isCidr4(o.addressCidr), 'address CIDR', o.addressCidr);
    if (o.gateway !== undefined) check(isIPv4(o.gateway), 'gateway', o.gateway);
    if (o.address6Cidr !== undefined) check(isCidr6(o.address6Cidr), 'IPv6 address CIDR', o.address6Cidr);
    if (o.gateway6 !== undefined) check(isIPv6(o.gateway6), 'IPv6 gateway', o.gateway6);
    for (const ll of o.linkLocal ?? []) check(isCidr4(ll) || isCidr6(ll), 'link-local address', ll);
    checkMtu(o.mtu);
    // A missing netns makes ip exit on an argument error, which would hide whether line 1 ran.
    if (!o.createNetns) {
      try {
        await access(`${NETNS_DIR}/${o.netns}`);
      } catch {
        throw new IpError(`add endpoint ${o.hostVeth}`, `netns ${o.netns} does not exist`, null);
      }
    }
    const start = performance.now();
    // The netns may hold an eth0 already (second endpoint), and the peer is born inside it: give
    // it a unique temporary name and rename it in there.
    const tmp = `bt${randomBytes(5).toString('hex')}`;
    const first = o.createNetns ? 2 : 1;
    const host = await this.batch([
      ...(o.createNetns ? [`netns add ${o.netns}`] : []),
      `link add ${o.hostVeth} mtu ${o.mtu} type veth peer name ${tmp} netns ${o.netns}`,
      `link set ${o.hostVeth} master ${o.bridge} up`,
    ]);
    if (host.code !== 0) {
      const failed = failedLine(host.stderr);
      // The veth line refused by the kernel means no veth was made, and the name may be someone else's.
      if (failed === null || failed > first) await this.deleteLinkQuietly(o.hostVeth);
      if (o.createNetns && failed !== 1) await this.run(['netns', 'del', o.netns]);
      throw new IpError(`add endpoint ${o.hostVeth} to ${o.bridge}`, host.stderr, host.code);
    }
    const inside = [
      ...(o.createNetns ? ['link set lo up'] : []),
      `link set ${tmp} name ${o.ifName}`,
      `link set ${o.ifName} address ${o.mac} mtu ${o.mtu}`,
      `addr add ${o.addressCidr} dev ${o.ifName}`,
      ...(o.address6Cidr !== undefined ? [`addr add ${o.address6Cidr} dev ${o.ifName} nodad`] : []),
      ...(o.linkLocal ?? []).map((ll) => `addr add ${ll} dev ${o.ifName}${ll.includes(':') ? ' nodad' : ''}`),
      `link set ${o.ifName} up`,
    ];
    if (o.gateway !== undefined) inside.push(`route add default via ${o.gateway} dev ${o.ifName}`);
    if (o.gateway6 !== undefined) inside.push(`route add ::/0 via ${o.gateway6} dev ${o.ifName}`);
    const ns = await this.batch(inside, o.netns);
    if (ns.code !== 0) {
      await this.deleteLinkQuietly(o.hostVeth);
      if (o.createNetns) await this.run(['netns', 'del', o.netns]);
      throw new IpError(`configure ${o.ifName} in netns ${o.netns}`, ns.stderr, ns.code);
    }
    this.logger.debug(
      { netns: o.netns, hostVeth: o.hostVeth, ifName: o.ifName, ms: Math.round(performance.now() - start) },
      'endpoint added',
    );
  }

  /**
   * A stopped container's sandbox in one process: its host veths, then the netns. Absent ones are
   * fine (`-force` goes on past them); anything else is reported after all were tried.
   */
  async removeSandbox(netns: string, hostVeths: string[]): Promise<void> {
    checkNetnsName(netns);
    for (const v of hostVeths) checkLinkName(v, 'host veth name');
    const r = await this.run(
      ['-force', '-batch', '-'],
      [...hostVeths.map((v) => `link del dev ${v}`), `netns del ${netns}`].join('\n') + '\n',
    );
    if (r.code === 0) return;
    const real = r.stderr
      .split('\n')
      .filter((l) => l.trim() !== '' && !NO_DEVICE.test(l) && !/No such file or directory/.test(l) && !/^Command failed/.test(l));
    if (real.length > 0) throw new IpError(`remove sandbox ${netns}`, real.join('\n'), r.code);
  }

  /** Deletes the host side veth (the peer goes with it). Absent is fine. */
  async removeEndpoint(hostVeth: string): Promise<void> {
    checkLinkName(hostVeth, 'host veth name');
    await this.deleteLink(hostVeth, `remove endpoint ${hostVeth}`);
  }

  /** The IPv4 destinations of the host's routes (main table), for IPAM overlap checks. Default
   *  routes are left out (they overlap everything); single addresses become /32. */
  async hostRoutes(): Promise<{ dst: string; dev: string }[]> {
    const op = 'list host routes';
    const r = await this.run(['-j', '-4', 'route', 'show', 'table', 'main']);
    if (r.code !== 0) throw new IpError(op, r.stderr, r.code);
    const out: { dst: string; dev: string }[] = [];
    for (const route of parseJsonArray(r.stdout, op)) {
      const dst = str(route, 'dst');
      if (dst === '' || dst === 'default') continue;
      out.push({ dst: dst.includes('/') ? dst : `${dst}/32`, dev: str(route, 'dev') });
    }
    return out;
  }

  /** Names of netns whose name starts with prefix (leftover cleanup). */
  async listNetns(prefix: string): Promise<string[]> {
    const op = 'list netns';
    const r = await this.run(['-j', 'netns', 'list']);
    if (r.code !== 0) throw new IpError(op, r.stderr, r.code);
    return parseJsonArray(r.stdout, op)
      .map((n) => str(n, 'name'))
      .filter((n) => n !== '' && n.startsWith(prefix));
  }

  /** Names of the host's links whose name starts with prefix (leftover cleanup). */
  async listLinks(prefix: string): Promise<string[]> {
    const op = 'list links';
    const r = await this.run(['-j', 'link', 'show']);
    if (r.code !== 0) throw new IpError(op, r.stderr, r.code);
    return parseJsonArray(r.stdout, op)
      .map((l) => str(l, 'ifname'))
      .filter((n) => n !== '' && n.startsWith(prefix));
  }

  /** Interfaces inside a netns (for tests and inspect). */
  async interfaces(netns: string): Promise<InterfaceInfo[]> {
    checkNetnsName(netns);
    const op = `list interfaces in netns ${netns}`;
    const r = await this.run(['-j', '-n', netns, 'addr', 'show']);
    if (r.code !== 0) throw new IpError(op, r.stderr, r.code);
    return parseInterfaces(r.stdout, op);
  }

  /** A host interface's IPv4 addresses (CIDR), or null when there is no such interface (`-b NAME`). */
  async linkAddresses(name: string): Promise<string[] | null> {
    checkLinkName(name);
    const op = `show addresses of ${name}`;
    const r = await this.run(['-j', 'addr', 'show', 'dev', name]);
    if (r.code !== 0) {
      if (NO_DEVICE.test(r.stderr)) return null;
      throw new IpError(op, r.stderr, r.code);
    }
    return parseInterfaces(r.stdout, op)[0]?.addresses ?? [];
  }

  private async deleteLink(name: string, op: string): Promise<void> {
    const r = await this.run(['link', 'del', 'dev', name]);
    if (r.code !== 0 && !NO_DEVICE.test(r.stderr)) throw new IpError(op, r.stderr, r.code);
  }

  /** Undo after a failure: the original error is what the caller reports. */
  private async deleteLinkQuietly(name: string): Promise<void> {
    try {
      await this.deleteLink(name, `undo: delete ${name}`);
    } catch (err) {
      this.logger.warn({ err, link: name }, 'could not delete a half-made link');
    }
  }

  /** One ip process for all the commands; ip stops at the first one that fails. */
  private batch(commands: string[], netns?: string): Promise<IpResult> {
    const args = netns === undefined ? ['-batch', '-'] : ['-n', netns, '-batch', '-'];
    return this.run(args, commands.join('\n') + '\n');
  }

  /** Never rejects: spawn failures come back as a failed result with the reason as stderr. */
  private run(args: string[], input?: string): Promise<IpResult> {
    return new Promise((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      const finish = (code: number | null, extra = ''): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const err = Buffer.concat(stderr).toString('utf8') + extra;
        if (code !== 0) this.logger.debug({ args, input, code, stderr: err }, 'ip failed');
        resolve({ code, stdout: Buffer.concat(stdout).toString('utf8'), stderr: err });
      };
      let child: ChildProcessWithoutNullStreams;
      try {
        child = spawn(this.ip, args, {
          env: { ...process.env, LC_ALL: 'C' },
        });
      } catch (err) {
        finish(null, `cannot run ${this.ip}: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      // Our own timer, not spawn's `timeout`: that one outlives a spawn that failed (ENOENT)
      // and holds the event loop for its full length.
      const proc = child;
      timer = setTimeout(() => proc.kill('SIGKILL'), IP_TIMEOUT_MS);
      timer.unref();
      child.stdout.on('data', (c: Buffer) => stdout.push(c));
      child.stderr.on('data', (c: Buffer) => stderr.push(c));
      child.on('error', (err) => finish(null, `cannot run ${this.ip}: ${err.message}`));
      child.on('close', (code, signal) => finish(code, signal ? `ip killed by ${signal}` : ''));
      // ip may exit before reading everything (an early failure): EPIPE is not our error.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input ?? '');
    });
  }
}

/** `ip -j addr show` output: each interface with its IPv4 (or `family`) addresses. */
function parseInterfaces(stdout: string, op: string, family: 'inet' | 'inet6' = 'inet'): InterfaceInfo[] {
  return parseJsonArray(stdout, op).map((l) => {
    const info = Array.isArray(l.addr_info) ? (l.addr_info as unknown[]) : [];
    const addresses: string[] = [];
    for (const a of info) {
      if (typeof a !== 'object' || a === null) continue;
      const rec = a as Record<string, unknown>;
      if (rec.family === family && typeof rec.local === 'string' && typeof rec.prefixlen === 'number') {
        addresses.push(`${rec.local}/${rec.prefixlen}`);
      }
    }
    return { name: str(l, 'ifname'), mac: str(l, 'address'), addresses };
  });
}

/** Whether the host can listen on IPv6 (moby's IsV6Listenable): loopback has ::1. */
export function hostHasIpv6(file = '/proc/net/if_inet6'): boolean {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .some((l) => l.startsWith('00000000000000000000000000000001 '));
  } catch {
    return false;
  }
}
