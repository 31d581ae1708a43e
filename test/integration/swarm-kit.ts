// Swarm-mode test kit: a three-member etcd cluster on free loopback ports (its own data dirs
// under a temporary directory, Debian's etcd-server 3.4) and berthd nodes started with
// `--cluster-store` on it, each with its own data root, socket, bridge and containerd namespace
// (the harness's defaults). Everything is stopped by PID at the end.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { destroyBerth, pollUntil, run, startBerth, type Berth } from './harness';

export const ETCD = '/usr/bin/etcd';
export const ETCDCTL = '/usr/bin/etcdctl';

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  logFile: string;
  child?: ChildProcess;
}

export class EtcdCluster {
  readonly members: EtcdMember[] = [];
  private initial = '';

  constructor(readonly dir: string) {}

  /** `host:port,…` of every member, for `--cluster-store etcd://…`. */
  get endpoints(): string {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`).join(',');
  }

  static async start(size = 3): Promise<EtcdCluster> {
    const c = new EtcdCluster(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-etcd-')));
    for (let i = 1; i <= size; i++) {
      const name = `e${i}`;
      c.members.push({
        name,
        clientPort: await freePort(),
        peerPort: await freePort(),
        dataDir: path.join(c.dir, name),
        logFile: path.join(c.dir, `${name}.log`),
      });
    }
    c.initial = c.members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
    for (const m of c.members) c.spawn(m, 'new');
    const healthy = await pollUntil(30_000, 200, async () => (await c.ctl(['endpoint', 'health'])).code === 0);
    if (!healthy) {
      const logs = c.members.map((m) => fs.readFileSync(m.logFile, 'utf8').slice(-2000)).join('\n---\n');
      await c.destroy();
      throw new Error(`etcd cluster did not become healthy:\n${logs}`);
    }
    return c;
  }

  private spawn(m: EtcdMember, state: 'new' | 'existing'): void {
    const fd = fs.openSync(m.logFile, 'a');
    const client = `http://127.0.0.1:${m.clientPort}`;
    const peer = `http://127.0.0.1:${m.peerPort}`;
    m.child = spawn(
      ETCD,
      [
        '--name',
        m.name,
        '--data-dir',
        m.dataDir,
        '--listen-client-urls',
        client,
        '--advertise-client-urls',
        client,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        this.initial,
        '--initial-cluster-state',
        state,
        '--initial-cluster-token',
        path.basename(this.dir),
        '--heartbeat-interval',
        '100',
        '--election-timeout',
        '1000',
      ],
      { stdio: ['ignore', fd, fd] },
    );
    m.child.on('error', () => undefined);
    fs.closeSync(fd);
  }

  /** etcdctl (v3 API) against every member. */
  ctl(args: string[]): ReturnType<typeof run> {
    return run(ETCDCTL, ['--endpoints', this.endpoints, '--dial-timeout', '2s', '--command-timeout', '5s', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      timeoutMs: 15_000,
    });
  }

  /** Kills one member (SIGKILL, by PID) and waits for it to be gone. */
  async kill(i: number): Promise<void> {
    const m = this.members[i];
    const child = m.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed member again on its data dir. */
  restart(i: number): void {
    this.spawn(this.members[i], 'existing');
  }

  async destroy(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) await this.kill(i);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface SwarmNodeOptions {
  /** Liveness lease TTL, seconds (short in tests). */
  ttl?: number;
  args?: string[];
}

/** A berthd on the etcd cluster. */
export function startSwarmNode(etcd: EtcdCluster, opts: SwarmNodeOptions = {}): Promise<Berth> {
  return startBerth({
    args: ['--cluster-store', `etcd://${etcd.endpoints}`, '--cluster-node-ttl', String(opts.ttl ?? 3), ...(opts.args ?? [])],
  });
}

/** Stops every node (already-stopped ones too) and the etcd cluster. */
export async function destroySwarm(nodes: Array<Berth | undefined>, etcd: EtcdCluster | undefined): Promise<void> {
  for (const n of nodes) if (n) await destroyBerth(n).catch(() => undefined);
  await etcd?.destroy();
}

/** `docker <args>` on node `b` must succeed (within 60 s); its trimmed stdout. */
export async function ok(b: Berth, args: string[], input?: string): Promise<string> {
  const r = await b.docker(args, { timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** `docker <args>` on node `b` must fail with `text` (a substring, or a pattern) on stderr. */
export async function fails(b: Berth, args: string[], text: string | RegExp, input?: string): Promise<void> {
  const r = await b.docker(args, { timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
  assert.notEqual(r.code, 0, `docker ${args.join(' ')} should fail: ${r.stdout}`);
  if (typeof text === 'string') assert.ok(r.stderr.includes(text), `stderr: ${r.stderr}\nwanted: ${text}`);
  else assert.match(r.stderr, text);
}

export { lines } from './container-kit';

/** The swarm agent's and orchestrator's lines of a berthd log, the last `max` of them (failure messages). */
export function swarmLines(log: string, max = 60): string {
  return log
    .split('\n')
    .filter((l) => l.includes('"msg":"swarm'))
    .slice(-max)
    .join('\n');
}
