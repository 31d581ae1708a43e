// The two engines the benchmarks compare: Berth through the test harness, and the reference
// dockerd started on its own socket and roots, with a bridge of its own (docker0 on REF_BIP, user
// networks from REF_POOL, both outside Berth's 172.17-31/16) but --iptables=false, so it never
// touches the host's firewall. The bridges it leaves behind are removed when it stops.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DOCKER, httpRequest, run, destroyBerth, type Berth } from '../test/integration/harness';

export interface Engine {
  /** The daemon's process (berthd or dockerd). */
  pid: number;
  socket: string;
  name: string;
  docker(args: string[], input?: Buffer): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** dockerd's docker0 and its pool for user networks (one /24 each). */
const REF_BIP = '10.123.0.1/24';
const REF_POOL = { base: '10.124.0.0/16', size: 24 };

interface LinkAddrs {
  ifname: string;
  addr_info?: { family: string; local: string }[];
}

function bridges(): LinkAddrs[] {
  return JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'type', 'bridge'], { encoding: 'utf8' }) || '[]') as LinkAddrs[];
}

function linkNames(): Set<string> {
  return new Set((JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as LinkAddrs[]).map((l) => l.ifname));
}

function ipv4(s: string): number {
  return s.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  return Math.floor(ipv4(ip) / size) === Math.floor(ipv4(base) / size);
}

/**
 * Deletes the bridges this dockerd made: docker0 and br-* links that did not exist before it
 * started and carry an address from its own ranges (other daemons on the host name theirs alike).
 */
function removeReferenceBridges(before: Set<string>): string[] {
  const removed: string[] = [];
  for (const l of bridges()) {
    if (before.has(l.ifname) || (l.ifname !== 'docker0' && !l.ifname.startsWith('br-'))) continue;
    const v4 = (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => a.local);
    const ours = v4.some((ip) => inCidr(ip, REF_BIP) || inCidr(ip, REF_POOL.base)) || (l.ifname === 'docker0' && v4.length === 0);
    if (!ours) continue;
    execFileSync('ip', ['link', 'delete', l.ifname]);
    removed.push(l.ifname);
  }
  return removed;
}

export async function startReference(dir: string): Promise<Engine> {
  const before = linkNames();
  // docker0 is the one name dockerd insists on; someone else's must not be taken over.
  if (before.has('docker0')) throw new Error('a docker0 bridge exists already; the reference dockerd needs its own');
  const sock = path.join(dir, 'ref.sock');
  const cfg = path.join(dir, 'ref-config');
  fs.mkdirSync(cfg, { recursive: true });
  fs.writeFileSync(path.join(dir, 'ref.json'), '{}');
  const log = fs.openSync(path.join(dir, 'ref.log'), 'a');
  const child = spawn(
    '/usr/sbin/dockerd',
    ['-H', `unix://${sock}`, '--data-root', path.join(dir, 'ref-data'), '--exec-root', path.join(dir, 'ref-exec'),
      '--pidfile', path.join(dir, 'ref.pid'), '--config-file', path.join(dir, 'ref.json'),
      '--bip', REF_BIP, '--default-address-pool', `base=${REF_POOL.base},size=${REF_POOL.size}`,
      // Never the host's firewall or sysctls (forwarding is not needed: nothing leaves the host).
      '--iptables=false', '--ip-forward=false'],
    { stdio: ['ignore', log, log] },
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await httpRequest(sock, 'GET', '/_ping')).status === 200) break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) {
        if (child.exitCode === null) {
          const gone = new Promise((r) => child.on('exit', r));
          child.kill('SIGKILL');
          await gone;
        }
        removeReferenceBridges(before);
        throw new Error(`reference dockerd did not start; see ${path.join(dir, 'ref.log')}`);
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: cfg };
  return {
    name: 'dockerd',
    pid: child.pid ?? -1,
    socket: sock,
    docker: (args, input) => run(DOCKER, args, { env, input }),
    stop: async () => {
      if (child.exitCode === null) {
        const done = new Promise((r) => child.on('exit', r));
        child.kill('SIGTERM');
        await done;
      }
      removeReferenceBridges(before);
    },
  };
}

export function berthEngine(b: Berth): Engine {
  return { name: 'berth', pid: b.pid, socket: b.socket, docker: (args, input) => b.docker(args, { input }), stop: () => destroyBerth(b) };
}
