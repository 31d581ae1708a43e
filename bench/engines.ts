// The two engines the benchmarks compare: Berth through the test harness, and the reference
// dockerd started on its own socket and roots, with bridges of its own outside Berth's
// 172.17-31/16 but --iptables=false, so it never touches the host's firewall.
// Its default bridge is one made here and handed over with -b, not docker0: any dockerd started
// on the host with --bridge=none deletes docker0 (moby's removeDefaultBridgeInterface), which
// other users of this machine do. The bridges are removed when it stops.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DOCKER, httpRequest, run, destroyBerth, type Berth } from '../test/integration/harness';

export interface Engine {
  /** The daemon's process (berthd or dockerd). */
  pid: number;
  socket: string;
  name: string;
  /** The directories holding the engine's state (data and exec roots): its mounts are below them. */
  roots: string[];
  /** The socket of the engine's own containerd, where the bench can reach it. */
  containerd?: string;
  docker(args: string[], input?: Buffer): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** The address of dockerd's default bridge, and its pool for user networks (one /24 each). */
const REF_BRIDGE_CIDR = '10.123.0.1/24';
const REF_POOL = { base: '10.124.0.0/16', size: 24 };

interface LinkAddrs {
  ifname: string;
  addr_info?: { family: string; local: string }[];
}

function bridges(): LinkAddrs[] {
  return JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'type', 'bridge'], { encoding: 'utf8' }) || '[]') as LinkAddrs[];
}

function ipv4(s: string): number {
  return s.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  return Math.floor(ipv4(ip) / size) === Math.floor(ipv4(base) / size);
}

/** Makes the bridge dockerd gets with -b (dockerd takes its address as the default subnet). */
function makeReferenceBridge(): string {
  const name = `bref-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['link', 'add', name, 'type', 'bridge']);
  try {
    execFileSync('ip', ['addr', 'add', REF_BRIDGE_CIDR, 'dev', name]);
    execFileSync('ip', ['link', 'set', name, 'up']);
  } catch (err) {
    execFileSync('ip', ['link', 'delete', name]);
    throw err;
  }
  return name;
}

/**
 * Deletes the bridge made for dockerd, and the br-* bridges of its user networks that are still
 * there (the cases remove their networks; this is for a run that failed): new since it started,
 * and carrying an address from its pool, since other daemons on the host name theirs alike.
 */
function removeReferenceBridges(own: string, before: Set<string>): void {
  for (const l of bridges()) {
    const v4 = (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => a.local);
    const dockerds = !before.has(l.ifname) && l.ifname.startsWith('br-') && v4.some((ip) => inCidr(ip, REF_POOL.base));
    if (l.ifname === own || dockerds) execFileSync('ip', ['link', 'delete', l.ifname]);
  }
}

export async function startReference(dir: string): Promise<Engine> {
  const before = new Set(bridges().map((l) => l.ifname));
  const bridge = makeReferenceBridge();
  const sock = path.join(dir, 'ref.sock');
  const cfg = path.join(dir, 'ref-config');
  fs.mkdirSync(cfg, { recursive: true });
  fs.writeFileSync(path.join(dir, 'ref.json'), '{}');
  const log = fs.openSync(path.join(dir, 'ref.log'), 'a');
  const child = spawn(
    '/usr/sbin/dockerd',
    [
      '-H',
      `unix://${sock}`,
      '--data-root',
      path.join(dir, 'ref-data'),
      '--exec-root',
      path.join(dir, 'ref-exec'),
      '--pidfile',
      path.join(dir, 'ref.pid'),
      '--config-file',
      path.join(dir, 'ref.json'),
      '-b',
      bridge,
      '--default-address-pool',
      `base=${REF_POOL.base},size=${REF_POOL.size}`,
      // Never the host's firewall or sysctls (forwarding is not needed: nothing leaves the host).
      '--iptables=false',
      '--ip-forward=false',
    ],
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
        removeReferenceBridges(bridge, before);
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
    roots: [path.join(dir, 'ref-data'), path.join(dir, 'ref-exec')],
    docker: (args, input) => run(DOCKER, args, { env, input }),
    stop: async () => {
      if (child.exitCode === null) {
        const done = new Promise((r) => child.on('exit', r));
        child.kill('SIGTERM');
        await done;
      }
      removeReferenceBridges(bridge, before);
    },
  };
}

export function berthEngine(b: Berth): Engine {
  return {
    name: 'berth',
    pid: b.pid,
    socket: b.socket,
    roots: [b.dir],
    containerd: path.join(b.execRoot, 'containerd', 'containerd.sock'),
    docker: (args, input) => b.docker(args, { input }),
    stop: () => destroyBerth(b),
  };
}
