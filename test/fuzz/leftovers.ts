// What the fuzzer checks after a run and cleans up: containers, mounts, FIFOs, cgroups and shims
// left behind by the daemon (findings), and the scrub that removes them so the host stays clean.

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { containerdNamespaceFor } from '../../daemon/config';
import { networkTag } from '../../daemon/networks/service';
import { pollUntil, type Berth } from '../integration/harness';
import { send } from './client';
import { Findings, messageOf } from './findings';
import { api, idOf } from './api';

export function afterStop(dir: string, ns: string, everCreated: Set<string>, findings: Findings): void {
  for (const m of mountsUnder(dir)) findings.add('leftover-mount-after-stop', m);
  for (const s of shimsOf(ns)) findings.add('leftover-shim-after-stop', s);
  for (const id of everCreated) {
    if (fs.existsSync(`/run/netns/berth-${id.slice(0, 12)}`))
      findings.add('leftover-netns-after-stop', `/run/netns/berth-${id.slice(0, 12)}`);
  }
  if (cgroupDirs(ns).length > 0) findings.add('leftover-cgroup-after-stop', ns);
  const { chainPrefix, defaultBridge } = networkTag(ns);
  let rules = '';
  try {
    rules = execFileSync('iptables-save', { encoding: 'utf8' });
  } catch {
    rules = '';
  }
  if (rules.includes(`${chainPrefix}-`)) findings.add('leftover-chains-after-stop', chainPrefix);
  if (fs.existsSync(`/sys/class/net/${defaultBridge}`)) findings.add('leftover-bridge-after-stop', defaultBridge);
  for (const link of fs.readdirSync('/sys/class/net')) {
    if (!link.startsWith('br-')) continue;
    // Bridges of the fuzz's own networks carry an address of the fuzz range.
    const out = spawnSync('ip', ['-4', '-o', 'addr', 'show', 'dev', link], { encoding: 'utf8' }).stdout ?? '';
    if (out.includes(' 10.213.')) findings.add('leftover-bridge-after-stop', link);
  }
}

export async function leftovers(b: Berth, findings: Findings, everCreated: Set<string>): Promise<void> {
  const list = await api(b, 'GET', '/containers/json?all=1');
  const ids = Array.isArray(list.json) ? list.json.map((c) => idOf(c)).filter((x): x is string => x !== undefined) : [];
  for (const id of ids) {
    everCreated.add(id);
    const r = await send(b.socket, { method: 'DELETE', path: `/containers/${id}?force=1&v=1`, headers: {} }, 'normal', 30_000);
    if (r.status !== 204)
      findings.add(
        'leftover-container-rm-fails',
        `DELETE ${id.slice(0, 12)}: ${r.status ?? r.error} ${messageOf(r.body.slice(r.body.indexOf('\r\n\r\n') + 4))}`,
      );
  }
  const nets = await api(b, 'GET', '/networks');
  for (const n of Array.isArray(nets.json) ? (nets.json as { Id?: string; Name?: string }[]) : []) {
    if (!n.Id || ['bridge', 'host', 'none'].includes(n.Name ?? '')) continue;
    const r = await send(b.socket, { method: 'DELETE', path: `/networks/${n.Id}`, headers: {} }, 'normal', 30_000);
    if (r.status !== 204) findings.add('leftover-network-rm-fails', `DELETE network ${n.Name}: ${r.status ?? r.error}`);
  }
  const after = await api(b, 'GET', '/containers/json?all=1');
  if (Array.isArray(after.json) && after.json.length > 0)
    findings.add('leftover-containers', `${after.json.length} containers after clean-up`);
  // An auto-removed container's containerd side (task, rootfs mount, shim, FIFOs) is deleted
  // just after it is reported removed: what is left counts once that has had its time.
  const ns = containerdNamespaceFor(b.dataRoot);
  const left = async (probe: () => string[]): Promise<string[]> => {
    let now: string[] = [];
    await pollUntil(10_000, 100, () => (now = probe()).length === 0);
    return now;
  };
  // Mounts of containers (rootfs, volumes, temp mounts) under the daemon's directories.
  const mounts = (): string[] =>
    mountsUnder(b.dir).filter(
      (m) =>
        !(/\/containerd\/|io\.containerd/.test(m) && !/rootfs/.test(m)) &&
        // The running daemon's own private mount point; what is mounted inside it still counts.
        m !== path.join(b.dataRoot, 'tmp-mounts'),
    );
  for (const m of await left(mounts)) findings.add('leftover-mount', m);
  for (const f of await left(() => fifosUnder(b.execRoot))) findings.add('leftover-fifo', f);
  const netns = (): string[] => [...everCreated].map((id) => `/run/netns/berth-${id.slice(0, 12)}`).filter((n) => fs.existsSync(n));
  for (const n of await left(netns)) findings.add('leftover-netns', n);
  for (const s of await left(() => shimsOf(ns))) findings.add('leftover-shim', s);
}

/**
 * Removes what the findings recorded as left behind (all of it the fuzz daemon's own: its
 * namespace's shims and cgroups, its containers' netns, its chains and fuzz-range bridges), so
 * a failing run does not leave the CI host dirty.
 */
export function scrub(dir: string, ns: string, everCreated: Set<string>): void {
  for (const line of shimsOf(ns)) {
    const pid = Number(line.split(' ')[0]);
    for (const f of cgroupDirs(ns, 'freezer')) {
      try {
        fs.writeFileSync(path.join(f, 'freezer.state'), 'THAWED');
      } catch {
        // not frozen or gone
      }
    }
    const kids =
      spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
        .stdout?.split('\n')
        .filter((x) => x !== '') ?? [];
    for (const k of [...kids.map(Number), pid]) {
      try {
        process.kill(k, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const m of mountsUnder(dir).sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  for (const id of everCreated) spawnSync('ip', ['netns', 'del', `berth-${id.slice(0, 12)}`], { stdio: 'ignore' });
  const pause = new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(pause, 0, 0, 300);
  for (const c of cgroupDirs(ns)) {
    // Deepest first; a busy one stays (and was reported).
    const dirs: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
      dirs.push(d);
    };
    try {
      walk(c);
    } catch {
      continue;
    }
    for (const d of dirs) {
      try {
        fs.rmdirSync(d);
      } catch {
        // busy
      }
    }
  }
  const { chainPrefix, defaultBridge } = networkTag(ns);
  for (const table of ['filter', 'nat']) {
    const rules = spawnSync('iptables-save', ['-t', table], { encoding: 'utf8' }).stdout ?? '';
    for (const r of rules.split('\n')) {
      const m = /^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) (.*-j (\S+))$/.exec(r);
      if (m && m[3].startsWith(`${chainPrefix}-`))
        spawnSync('iptables', ['-t', table, '-D', m[1], ...m[2].split(' ')], { stdio: 'ignore' });
    }
    const chains = [...rules.matchAll(new RegExp(`^:(${chainPrefix}-[A-Z]+)`, 'gm'))].map((m) => m[1]);
    for (const ch of chains) spawnSync('iptables', ['-t', table, '-F', ch], { stdio: 'ignore' });
    for (const ch of chains) spawnSync('iptables', ['-t', table, '-X', ch], { stdio: 'ignore' });
  }
  const links = fs.readdirSync('/sys/class/net');
  if (links.includes(defaultBridge)) spawnSync('ip', ['link', 'del', defaultBridge], { stdio: 'ignore' });
  for (const link of links) {
    if (!link.startsWith('br-')) continue;
    const out = spawnSync('ip', ['-4', '-o', 'addr', 'show', 'dev', link], { encoding: 'utf8' }).stdout ?? '';
    if (out.includes(' 10.213.')) spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
  }
}

/** The cgroup directories of namespace `ns` (v1 controllers or v2). */
function cgroupDirs(ns: string, only?: string): string[] {
  const root = '/sys/fs/cgroup';
  const out: string[] = [];
  if (fs.existsSync(path.join(root, ns))) out.push(path.join(root, ns));
  for (const ctl of fs.readdirSync(root)) {
    if (only !== undefined && ctl !== only) continue;
    const d = path.join(root, ctl, ns);
    if (fs.existsSync(d)) {
      if (only === 'freezer') {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) out.push(path.join(d, e.name));
      } else out.push(d);
    }
  }
  return out;
}

function mountsUnder(dir: string): string[] {
  try {
    return fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => m !== undefined && m.startsWith(`${dir}/`));
  } catch {
    return [];
  }
}

function fifosUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    if (depth > 8) return;
    let ents: fs.Dirent[];
    try {
      ents = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      const p = path.join(d, e.name);
      if (e.isFIFO()) out.push(p);
      else if (e.isDirectory()) walk(p, depth + 1);
    }
  };
  walk(dir, 0);
  return out;
}

/** Shims (and what they run) of containerd namespace `ns`, from /proc. */
function shimsOf(ns: string): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.includes('containerd-shim') && argv.includes(ns)) out.push(`${pid} ${argv.join(' ').slice(0, 160)}`);
    } catch {
      // gone
    }
  }
  return out;
}
