// Shared by the container integration tests (containers-*.test.ts): a berthd with the busybox
// fixture loaded, docker CLI helpers, and the checks that a removed container left nothing behind
// (containerd record, snapshot, FIFOs, log directory, cgroups) and that a stopped berthd left no
// cgroup parent.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { containerdNamespaceFor } from '../../daemon/config';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { DOCKER, destroyBerth, pollUntil, startBerth, type Berth, type HttpResult, type RunResult } from './harness';
import { networkTag } from '../../daemon/networks/service';

export class Kit {
  constructor(readonly b: Berth) {}

  static async start(): Promise<Kit> {
    const b = await startBerth();
    const kit = new Kit(b);
    await kit.ok(['load'], await buildBusyboxArchive({ tags: ['busybox:latest'] }));
    return kit;
  }

  /** Stops berthd, removes its directories, and fails if its cgroup parent outlived it. */
  async destroy(): Promise<void> {
    const ns = this.namespace;
    const bridges = this.bridges();
    await destroyBerth(this.b);
    assert.deepEqual(cgroupDirs(ns), [], `cgroups of ${ns} left behind`);
    // A stopped berthd leaves no bridge, firewall chain or netns of its own.
    const links = fs.readdirSync('/sys/class/net');
    assert.deepEqual(
      bridges.filter((b) => links.includes(b)),
      [],
      'bridges left behind',
    );
    const { chainPrefix } = networkTag(ns);
    for (const save of ['iptables-save', 'ip6tables-save']) {
      const rules = execFileSync(save, { encoding: 'utf8' }) as string;
      assert.ok(!rules.includes(`${chainPrefix}-`), `firewall chains ${chainPrefix}-* left behind (${save})`);
    }
  }

  /** The Linux bridges of this daemon's networks (from `docker network inspect`). */
  bridges(): string[] {
    const out = execFileSync(DOCKER, ['-H', `unix://${this.b.socket}`, 'network', 'ls', '-q', '--filter', 'driver=bridge', '--no-trunc'], {
      encoding: 'utf8',
    });
    const ids = out.split('\n').filter((l) => l !== '');
    if (ids.length === 0) return [];
    const out2 = execFileSync(
      DOCKER,
      [
        '-H',
        `unix://${this.b.socket}`,
        'network',
        'inspect',
        '--format',
        '{{.Id}} {{index .Options "com.docker.network.bridge.name"}}',
        ...ids,
      ],
      { encoding: 'utf8' },
    );
    return out2
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [id, name] = l.split(' ');
        return name && name !== '<no value>' ? name : `br-${id.slice(0, 12)}`;
      });
  }

  get namespace(): string {
    return containerdNamespaceFor(this.b.dataRoot);
  }

  docker(args: string[], opts: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<RunResult> {
    return this.b.docker(args, { input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
  }

  /** Runs docker, requires exit 0, returns stdout. */
  async ok(args: string[], input?: Buffer | string): Promise<string> {
    const r = await this.docker(args, { input });
    assert.equal(r.code, 0, `docker ${args.join(' ')} failed (${r.code}): ${r.stderr}\nberthd log:\n${this.b.log().slice(-3000)}`);
    return r.stdout;
  }

  /** Runs docker, requires failure; returns the result for the caller to check the message. */
  async fails(args: string[], input?: Buffer | string): Promise<RunResult> {
    const r = await this.docker(args, { input });
    assert.notEqual(r.code, 0, `docker ${args.join(' ')} should have failed; stdout: ${r.stdout}`);
    return r;
  }

  /** `docker run --rm busybox <cmd...>` with extra flags; returns stdout. */
  async runOut(flags: string[], cmd: string[]): Promise<string> {
    return this.ok(['run', '--rm', ...flags, 'busybox', ...cmd]);
  }

  request(method: string, urlPath: string, body?: unknown): Promise<HttpResult> {
    return this.b.request(
      method,
      urlPath,
      body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } },
    );
  }

  async inspect(name: string): Promise<ContainerInspect> {
    const all = JSON.parse(await this.ok(['container', 'inspect', name])) as ContainerInspect[];
    assert.equal(all.length, 1);
    return all[0];
  }

  async id(name: string): Promise<string> {
    return (await this.ok(['container', 'inspect', '-f', '{{.Id}}', name])).trim();
  }

  /** Polls `fn` until it returns true (or throws after `ms`). */
  async until(what: string, fn: () => Promise<boolean>, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (await fn()) return;
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }

  /**
   * After an AutoRemove (`--rm`): the container is gone from the API at once and its containerd
   * side is deleted behind the removal (see docs/divergence.md); waits for all of it to go.
   */
  async autoRemoved(id: string): Promise<void> {
    let left: string[] = [];
    await pollUntil(15_000, 50, () => (left = this.leftovers(id)).length === 0);
    assert.deepEqual(left, [], `what --rm container ${id.slice(0, 12)} left after 15 s`);
  }

  /**
   * Right after an explicit rm: the task and the container's own directory are gone already (rm
   * waits for the task's teardown); containerd's record, the snapshot and the FIFO directory may
   * still be in deletion behind it, and go within 15 s.
   */
  async removed(id: string): Promise<void> {
    const behind = ['containerd container', 'snapshot', path.join(this.b.execRoot, 'fifo', id)];
    const now = this.leftovers(id).filter((l) => !behind.includes(l));
    assert.deepEqual(now, [], `what rm of ${id.slice(0, 12)} left when it answered`);
    await this.autoRemoved(id);
  }

  /** `ctr` against berthd's containerd, in its namespace. */
  ctr(args: string[]): string {
    const sock = path.join(this.b.execRoot, 'containerd', 'containerd.sock');
    return execFileSync('ctr', ['-a', sock, '-n', this.namespace, ...args], { encoding: 'utf8' });
  }

  /** Everything a container owns outside the store, by full ID: what must be gone after rm. */
  leftovers(id: string): string[] {
    const found: string[] = [];
    if (this.ctr(['containers', 'ls', '-q']).split('\n').includes(id)) found.push('containerd container');
    if (
      this.ctr(['snapshots', 'ls'])
        .split('\n')
        .some((l) => l.split(/\s+/)[0] === id)
    )
      found.push('snapshot');
    if (this.ctr(['tasks', 'ls', '-q']).split('\n').includes(id)) found.push('task');
    for (const p of [path.join(this.b.execRoot, 'fifo', id), path.join(this.b.dataRoot, 'containers', id)]) {
      if (fs.existsSync(p)) found.push(p);
    }
    for (const d of cgroupDirs(this.namespace)) if (fs.existsSync(path.join(d, id))) found.push(path.join(d, id));
    return found;
  }
}

/** The per-namespace parent cgroups (`/sys/fs/cgroup/<controller>/<ns>`, or the v2 one). */
export function cgroupDirs(ns: string): string[] {
  const root = '/sys/fs/cgroup';
  const out: string[] = [];
  if (fs.existsSync(path.join(root, ns))) out.push(path.join(root, ns));
  for (const e of fs.readdirSync(root, { withFileTypes: true })) {
    if (e.isDirectory() && fs.existsSync(path.join(root, e.name, ns))) out.push(path.join(root, e.name, ns));
  }
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: {
    Status: string;
    Running: boolean;
    Paused: boolean;
    Restarting: boolean;
    OOMKilled: boolean;
    Dead: boolean;
    Pid: number;
    ExitCode: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
  };
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  HostConfig: Record<string, unknown> & {
    Memory: number;
    MemorySwap: number;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    NetworkMode: string;
    AutoRemove: boolean;
    LogConfig: { Type: string; Config: Record<string, string> };
  };
  Config: Record<string, unknown> & {
    Hostname: string;
    User: string;
    Env: string[] | null;
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    WorkingDir: string;
    Image: string;
    Labels: Record<string, string>;
  };
  Mounts: unknown[];
  NetworkSettings: Record<string, unknown>;
}
