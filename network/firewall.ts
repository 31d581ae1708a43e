// Berth's iptables rules. Everything lives in our own chains (names from the daemon's prefix);
// the built-in chains only get one jump each. The chains' whole content is re-rendered from a
// model and written with ONE `iptables-restore -w --noflush` per change: under --noflush a
// `:CHAIN - [0:0]` line creates or flushes that user chain (measured on iptables 1.8.9 nf_tables)
// and the nft backend commits the table atomically, so there is never a window without rules.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import type { Logger } from 'pino';
import { isIPv4, isIPv6 } from '../lib/addresses';
import { SystemError } from '../lib/errors';
import { parseCidr4 } from './cidr';
import { parseCidr6 } from './cidr6';

/** 4: iptables; 6: ip6tables, with the same chain names in its own tables. */
export type Family = 4 | 6;

export interface FirewallBridge {
  name: string;
  subnet: string;
  /** The IPv6 subnet of a network with IPv6 (its rules go to ip6tables). */
  subnet6?: string;
  internal: boolean;
  icc: boolean;
  masquerade: boolean;
}
export interface FirewallPort {
  proto: 'tcp' | 'udp' | 'sctp';
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
  bridge: string;
}
export interface FirewallModel {
  bridges: FirewallBridge[];
  ports: FirewallPort[];
}

export interface FirewallChains {
  forward: string; // filter, jumped from FORWARD (position 1)
  isolation: string; // filter, drops traffic that leaves one of our bridges for another
  input: string; // filter, jumped from INPUT (position 1): empty since the embedded DNS moved into the containers' netns; declared so that restoring flushes the gateway rules older versions left
  dnat: string; // nat, jumped from PREROUTING and OUTPUT for local destinations
  postrouting: string; // nat, jumped from POSTROUTING (position 1)
}

const MAX_CHAIN_NAME = 28; // XT_EXTENSION_MAXNAMELEN - 1
const LONGEST_SUFFIX = '-POSTROUTING';

export function firewallChains(prefix: string): FirewallChains {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(prefix) || prefix.length + LONGEST_SUFFIX.length > MAX_CHAIN_NAME) {
    throw new Error(
      `invalid iptables chain prefix ${JSON.stringify(prefix)} (letters, digits, - and _; at most ${MAX_CHAIN_NAME - LONGEST_SUFFIX.length} characters)`,
    );
  }
  return {
    forward: `${prefix}-FORWARD`,
    isolation: `${prefix}-ISOLATION`,
    input: `${prefix}-INPUT`,
    dnat: `${prefix}-DNAT`,
    postrouting: `${prefix}-POSTROUTING`,
  };
}

/** The jump rules from the built-in chains, as iptables-restore lines (without the -A/-I verb). */
export function jumpRules(prefix: string, family: Family = 4): { table: 'filter' | 'nat'; chain: string; insert: boolean; spec: string }[] {
  const c = firewallChains(prefix);
  const loopback = family === 4 ? '127.0.0.0/8' : '::1/128';
  return [
    // Position 1: our verdicts come before a reference dockerd's DOCKER-USER and its isolation chains.
    { table: 'filter', chain: 'FORWARD', insert: true, spec: `-j ${c.forward}` },
    { table: 'filter', chain: 'INPUT', insert: true, spec: `-j ${c.input}` },
    // As dockerd: DNAT for any local destination; loopback is left to the userland proxy.
    { table: 'nat', chain: 'PREROUTING', insert: false, spec: `-m addrtype --dst-type LOCAL -j ${c.dnat}` },
    { table: 'nat', chain: 'OUTPUT', insert: false, spec: `! -d ${loopback} -m addrtype --dst-type LOCAL -j ${c.dnat}` },
    { table: 'nat', chain: 'POSTROUTING', insert: true, spec: `-j ${c.postrouting}` },
  ];
}

// The restore input is a line protocol: every value that reaches it is checked so that nothing
// (a space, a newline, a quote) can add or change a rule.
function checkCidr(s: string, what: string, family: Family = 4): string {
  if ((family === 4 ? parseCidr4(s) : parseCidr6(s)) === null) {
    throw new Error(`firewall: invalid IPv${family} subnet for ${what}: ${JSON.stringify(s)}`);
  }
  return s;
}
function checkIfName(s: string): string {
  // Linux IFNAMSIZ-1, and no characters iptables would read as an option or a wildcard.
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(s) || s.startsWith('-')) throw new Error(`firewall: invalid bridge name ${JSON.stringify(s)}`);
  return s;
}
function checkPort(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`firewall: invalid ${what} ${n}`);
  return n;
}
function checkProto(p: string): 'tcp' | 'udp' | 'sctp' {
  if (p !== 'tcp' && p !== 'udp' && p !== 'sctp') throw new Error(`firewall: invalid protocol ${JSON.stringify(p)}`);
  return p;
}

/** The iptables-restore (family 6: ip6tables-restore) input for Berth's chains (pure). Declaring
 *  each chain flushes it, so the result replaces their whole content; rules for bridges no longer
 *  in the model disappear. IPv6: the bridges of networks with IPv6 and the ports published on an
 *  IPv6 host address to a container's IPv6 address (to an IPv4-only container the userland proxy
 *  alone carries them). */
export function renderRules(prefix: string, model: FirewallModel, family: Family = 4): string {
  const c = firewallChains(prefix);
  const isIp = family === 4 ? isIPv4 : (s: string): boolean => isIPv6(s);
  const host = family === 4 ? 32 : 128;
  const bridges = model.bridges
    .filter((b) => family === 4 || b.subnet6 !== undefined)
    .map((b) => ({ ...b, name: checkIfName(b.name), subnet: checkCidr(family === 4 ? b.subnet : (b.subnet6 ?? ''), b.name, family) }));
  const ports = model.ports
    .filter((p) => p.hostIp.includes(':') === (family === 6) && (family === 4 || p.containerIp.includes(':')))
    .map((p) => {
      if (p.hostIp !== '' && !isIp(p.hostIp)) throw new Error(`firewall: invalid host IP ${JSON.stringify(p.hostIp)}`);
      if (!isIp(p.containerIp)) throw new Error(`firewall: invalid container IP ${JSON.stringify(p.containerIp)}`);
      return {
        proto: checkProto(p.proto),
        hostIp: p.hostIp === '0.0.0.0' || p.hostIp === '::' ? '' : p.hostIp,
        hostPort: checkPort(p.hostPort, 'host port'),
        containerIp: p.containerIp,
        containerPort: checkPort(p.containerPort, 'container port'),
        bridge: checkIfName(p.bridge),
      };
    });

  const fwd: string[] = [];
  const iso: string[] = [];
  const dnat: string[] = [];
  const post: string[] = [];

  // Filter. Each rule names one of our bridges as -i or -o, so the order only matters for
  // packets that touch two of them (isolation first) or that both enter and leave one.
  for (const b of bridges) {
    // Leaving b for any other of our bridges: dropped in the isolation chain (dockerd's two stages in one).
    fwd.push(`-A ${c.forward} -i ${b.name} ! -o ${b.name} -j ${c.isolation}`);
    iso.push(`-A ${c.isolation} -o ${b.name} -j DROP`);
  }
  for (const b of bridges.filter((x) => x.internal)) {
    fwd.push(`-A ${c.forward} -i ${b.name} ! -o ${b.name} -j DROP`);
    fwd.push(`-A ${c.forward} ! -i ${b.name} -o ${b.name} -j DROP`);
  }
  for (const b of bridges) {
    fwd.push(`-A ${c.forward} -o ${b.name} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
  }
  for (const p of ports) {
    // The DNAT'd first packet of a published port (replies are ESTABLISHED).
    fwd.push(
      `-A ${c.forward} -d ${p.containerIp}/${host} ! -i ${p.bridge} -o ${p.bridge} -p ${p.proto} -m ${p.proto} --dport ${p.containerPort} -j ACCEPT`,
    );
  }
  for (const b of bridges.filter((x) => !x.internal)) {
    fwd.push(`-A ${c.forward} -i ${b.name} ! -o ${b.name} -j ACCEPT`);
  }
  for (const b of bridges) {
    // br_netfilter makes bridged traffic between two containers pass FORWARD too.
    fwd.push(`-A ${c.forward} -i ${b.name} -o ${b.name} -j ${b.icc ? 'ACCEPT' : 'DROP'}`);
  }

  // Nat.
  for (const p of ports) {
    const dst = p.hostIp === '' ? '' : `-d ${p.hostIp}/${host} `;
    const to = family === 4 ? `${p.containerIp}:${p.containerPort}` : `[${p.containerIp}]:${p.containerPort}`;
    // `! -i bridge`: a container reaching its own network's published port goes to the userland proxy, as with dockerd.
    dnat.push(`-A ${c.dnat} ${dst}! -i ${p.bridge} -p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -j DNAT --to-destination ${to}`);
  }
  for (const b of bridges.filter((x) => x.masquerade && !x.internal)) {
    post.push(`-A ${c.postrouting} -s ${b.subnet} ! -o ${b.name} -j MASQUERADE`);
  }
  for (const p of ports) {
    // Hairpin: a container DNAT'd back to itself must see a source other than its own address.
    post.push(
      `-A ${c.postrouting} -s ${p.containerIp}/${host} -d ${p.containerIp}/${host} -p ${p.proto} -m ${p.proto} --dport ${p.containerPort} -j MASQUERADE`,
    );
  }

  return [
    '*filter',
    `:${c.forward} - [0:0]`,
    `:${c.isolation} - [0:0]`,
    `:${c.input} - [0:0]`,
    ...fwd,
    ...iso,
    'COMMIT',
    '*nat',
    `:${c.dnat} - [0:0]`,
    `:${c.postrouting} - [0:0]`,
    ...dnat,
    ...post,
    'COMMIT',
    '',
  ].join('\n');
}

/** A rule of the saved ruleset that jumps into one of `ours` from a chain that is not ours. */
interface SavedJump {
  table: string;
  rule: string; // "FORWARD -j BERTH-FORWARD": iptables-save's text after "-A "
}
interface SavedState {
  chains: Map<string, Set<string>>; // table → chain names
  jumps: SavedJump[];
}

/** Parses iptables-save output: the chains of each table and the jumps into `ours` (exact names). */
export function parseSaved(text: string, ours: Set<string>): SavedState {
  const chains = new Map<string, Set<string>>();
  const jumps: SavedJump[] = [];
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      chains.set(table, new Set());
    } else if (line.startsWith(':')) {
      chains.get(table)?.add(line.slice(1).split(' ')[0]);
    } else if (line.startsWith('-A ')) {
      const words = line.split(' ');
      const from = words[1];
      const j = words.indexOf('-j');
      if (!ours.has(from) && j > 0 && ours.has(words[j + 1] ?? '')) jumps.push({ table, rule: line.slice(3) });
    }
  }
  return { chains, jumps };
}

export interface FirewallOptions {
  prefix: string;
  enabled: boolean;
  ipForward: boolean;
  /** ip6tables too (the host has IPv6): the same chains for networks with IPv6. A host where
   *  ip6tables fails at setup goes on with iptables alone. */
  ipv6?: boolean;
  logger: Logger;
  /** Runs a command with stdin `input` and returns its stdout (tests replace it; default spawns). */
  exec?: (cmd: string, args: string[], input: string) => Promise<string>;
}

interface Batch {
  model: FirewallModel;
  waiters: { resolve(): void; reject(e: Error): void }[];
}

export class Firewall {
  private readonly chains: FirewallChains;
  private readonly ours: Set<string>;
  private readonly tables: Record<'filter' | 'nat', string[]>;
  /** The newest model given to apply: setup writes it with the chains, so a restart has no empty window. */
  private model: FirewallModel = { bridges: [], ports: [] };
  private active = false;
  private pending: Batch | null = null;
  private pumping = false;
  /** Every iptables process of ours runs under this, in call order. */
  private tail: Promise<void> = Promise.resolve();
  private runs = 0;
  private families: Family[];
  /** What each family's chains hold now: a model that changes nothing there runs no process. */
  private readonly written = new Map<Family, string>();

  constructor(private readonly opts: FirewallOptions) {
    this.families = opts.ipv6 ? [4, 6] : [4];
    this.chains = firewallChains(opts.prefix);
    const c = this.chains;
    this.ours = new Set<string>(Object.values(c));
    this.tables = { filter: [c.forward, c.isolation, c.input], nat: [c.dnat, c.postrouting] };
  }

  /** iptables-restore processes started so far (tests check that applies coalesce). */
  get restoreRuns(): number {
    return this.runs;
  }

  /** Creates the chains (filled with the newest model) and the jumps from FORWARD, INPUT,
   *  PREROUTING, OUTPUT, POSTROUTING; sets ip_forward=1 when ipForward. Idempotent: jumps already
   *  there (a crashed daemon's) are replaced in the same transaction, so none is ever doubled
   *  and FORWARD's stays first. Two processes: iptables-save, iptables-restore. */
  async setup(): Promise<void> {
    if (!this.opts.enabled) return;
    await this.exclusive(async () => {
      if (this.opts.ipForward) await this.enableForwarding();
      await this.enableBridgeFiltering();
      for (const family of [...this.families]) {
        try {
          await this.setupFamily(family);
        } catch (err) {
          if (family === 4) throw err;
          this.families = [4];
          this.opts.logger.warn({ err }, 'ip6tables unusable: IPv6 networks get no firewall rules');
        }
      }
      this.active = true;
    });
  }

  private async setupFamily(family: Family): Promise<void> {
    const saved = parseSaved(await this.exec(tool(family, 'save'), [], ''), this.ours);
    const rendered = renderRules(this.opts.prefix, this.model, family);
    const body = rendered.split('\n');
    const out: string[] = [];
    for (const table of ['filter', 'nat'] as const) {
      const start = body.indexOf(`*${table}`);
      const commit = body.indexOf('COMMIT', start);
      out.push(...body.slice(start, commit));
      // `-C` inside a restore aborts the whole transaction when the rule is missing, so instead
      // of checking, delete what is there (exact saved text) and add it again, atomically.
      for (const j of saved.jumps.filter((x) => x.table === table)) out.push(`-D ${j.rule}`);
      for (const j of jumpRules(this.opts.prefix, family).filter((x) => x.table === table)) {
        out.push(j.insert ? `-I ${j.chain} 1 ${j.spec}` : `-A ${j.chain} ${j.spec}`);
      }
      out.push('COMMIT');
    }
    await this.restore(out.join('\n') + '\n', family);
    this.written.set(family, rendered);
    this.opts.logger.debug({ prefix: this.opts.prefix, family, replacedJumps: saved.jumps.length }, 'firewall chains set up');
  }

  /** Writes the model. Calls made while a run is in flight coalesce: only the newest model is
   *  written next, and every caller resolves (or rejects) with the run that wrote its model or a
   *  newer one. Before setup (or after teardown) the model is only kept, for setup to write. */
  apply(model: FirewallModel): Promise<void> {
    if (!this.opts.enabled) return Promise.resolve();
    // Rendering now reports a bad model to its own caller instead of failing a shared batch.
    try {
      for (const f of this.families) renderRules(this.opts.prefix, model, f);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      if (this.pending === null) this.pending = { model, waiters: [] };
      this.pending.model = model;
      this.pending.waiters.push({ resolve, reject });
      if (!this.pumping) {
        // Started after the current tick, so applies issued together share the first run too.
        this.pumping = true;
        queueMicrotask(() => void this.pump());
      }
    });
  }

  /** Removes the jumps and Berth's chains (exact names; daemon stop). Waits for queued applies. */
  async teardown(): Promise<void> {
    if (!this.opts.enabled) return;
    await this.exclusive(async () => {
      this.active = false;
      this.written.clear();
      for (const family of this.families) await this.teardownFamily(family);
    });
  }

  private async teardownFamily(family: Family): Promise<void> {
    const saved = parseSaved(await this.exec(tool(family, 'save'), [], ''), this.ours);
    const out: string[] = [];
    for (const table of ['filter', 'nat'] as const) {
      const present = this.tables[table].filter((n) => saved.chains.get(table)?.has(n));
      const jumps = saved.jumps.filter((x) => x.table === table);
      if (present.length === 0 && jumps.length === 0) continue;
      out.push(`*${table}`);
      for (const j of jumps) out.push(`-D ${j.rule}`);
      // Flush all before deleting any: our chains reference each other.
      for (const n of present) out.push(`-F ${n}`);
      for (const n of present) out.push(`-X ${n}`);
      out.push('COMMIT');
    }
    if (out.length > 0) await this.restore(out.join('\n') + '\n', family);
    this.opts.logger.debug({ prefix: this.opts.prefix, family }, 'firewall chains removed');
  }

  private async pump(): Promise<void> {
    try {
      while (this.pending !== null) {
        const batch = this.pending;
        this.pending = null;
        try {
          await this.exclusive(async () => {
            this.model = batch.model;
            if (!this.active) return;
            for (const family of this.families) {
              const rendered = renderRules(this.opts.prefix, batch.model, family);
              if (this.written.get(family) === rendered) continue;
              this.written.delete(family);
              await this.restore(rendered, family);
              this.written.set(family, rendered);
            }
          });
          for (const w of batch.waiters) w.resolve();
        } catch (e) {
          const err = e instanceof Error ? e : new Error(String(e));
          this.opts.logger.warn({ err, prefix: this.opts.prefix }, 'firewall apply failed');
          for (const w of batch.waiters) w.reject(err);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async enableForwarding(): Promise<void> {
    const file = '/proc/sys/net/ipv4/ip_forward';
    if ((await fs.readFile(file, 'utf8')).trim() === '1') return;
    // As dockerd: a host that did not route before must not start routing everything now.
    await this.exec('iptables', ['-w', '-P', 'FORWARD', 'DROP'], '');
    await fs.writeFile(file, '1\n');
    this.opts.logger.info('enabled IPv4 forwarding (FORWARD policy set to DROP)');
  }

  /**
   * As dockerd with iptables on: bridged traffic passes iptables (br_netfilter's
   * bridge-nf-call-iptables), or icc=false and isolation inside one bridge would not hold. When
   * br_netfilter is absent (no /proc/sys/net/bridge) a modprobe is tried once.
   */
  private async enableBridgeFiltering(): Promise<void> {
    const file = '/proc/sys/net/bridge/bridge-nf-call-iptables';
    const file6 = '/proc/sys/net/bridge/bridge-nf-call-ip6tables';
    try {
      await fs.access(file);
    } catch {
      await this.exec('modprobe', ['br_netfilter'], '').catch((err: unknown) =>
        this.opts.logger.warn({ err }, 'br_netfilter is not available: icc=false cannot be enforced inside a bridge'),
      );
    }
    for (const f of this.families.includes(6) ? [file, file6] : [file]) {
      try {
        if ((await fs.readFile(f, 'utf8')).trim() !== '1') await fs.writeFile(f, '1\n');
      } catch (err) {
        this.opts.logger.debug({ err, file: f }, 'bridge netfilter switch not set');
      }
    }
  }

  private async restore(input: string, family: Family): Promise<void> {
    this.runs++;
    const started = Date.now();
    await this.exec(tool(family, 'restore'), ['-w', '--noflush'], input);
    this.opts.logger.debug({ prefix: this.opts.prefix, ms: Date.now() - started }, 'iptables-restore done');
  }

  private exec(cmd: string, args: string[], input: string): Promise<string> {
    return (this.opts.exec ?? spawnCommand)(cmd, args, input);
  }
}

function tool(family: Family, what: 'save' | 'restore'): string {
  return `${family === 4 ? 'iptables' : 'ip6tables'}-${what}`;
}

/** Spawns cmd, feeds `input` on stdin; rejects with its stderr on a non-zero exit. */
function spawnCommand(cmd: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(new SystemError(`${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out).toString());
      const msg = Buffer.concat(err).toString().trim() || `exit ${code ?? signal}`;
      reject(new SystemError(`${cmd} ${args.join(' ')} failed: ${msg}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
