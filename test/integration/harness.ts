// Starts a real berthd (embedded containerd) on a temporary socket and data root, and drives
// it with the real docker CLI or raw HTTP. Every integration test goes through this.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { containerdNamespaceFor } from '../../daemon/config/checks';
import { networkTag } from '../../daemon/networks/service';

const ROOT = path.resolve(__dirname, '..', '..');
export const BERTHD = path.join(ROOT, 'daemon', 'main.js');
/** Node's flags for berthd, from its shebang (`#!/usr/bin/env -S node <flags>`), as an installed berthd runs. */
export const BERTHD_NODE_FLAGS = (/^#!\/usr\/bin\/env -S node(.*)$/m.exec(fs.readFileSync(BERTHD, 'utf8').split('\n', 1)[0]!)?.[1] ?? '')
  .split(' ')
  .filter((f) => f !== '');
export const DOCKER = process.env.BERTH_TEST_DOCKER ?? '/usr/local/bin/docker';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Berth {
  socket: string;
  dataRoot: string;
  execRoot: string;
  dir: string;
  pid: number;
  log(): string;
  docker(args: string[], opts?: { input?: Buffer | string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  request(method: string, urlPath: string, opts?: { body?: Buffer | string; headers?: Record<string, string> }): Promise<HttpResult>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function run(
  cmd: string,
  args: string[],
  opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

export function httpRequest(
  socket: string,
  method: string,
  urlPath: string,
  opts: { body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: urlPath, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function waitForPing(socket: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`berthd exited with ${child.exitCode}:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    try {
      const res = await httpRequest(socket, 'GET', '/_ping');
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`berthd did not answer within ${timeoutMs} ms:\n${fs.readFileSync(logFile, 'utf8')}`);
}

export async function startBerth(
  opts: { args?: string[]; dir?: string; daemonJson?: string; env?: Record<string, string> } = {},
): Promise<Berth> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'berth-it-'));
  const socket = path.join(dir, 'berth.sock');
  const dataRoot = path.join(dir, 'data');
  const execRoot = path.join(dir, 'exec');
  const logFile = path.join(dir, 'berthd.log');
  const dockerConfig = path.join(dir, 'docker-config');
  fs.mkdirSync(dockerConfig, { recursive: true });
  // An explicit --config-file must exist (as with dockerd); a restart on the same dir keeps it.
  const configFile = path.join(dir, 'daemon.json');
  if (opts.daemonJson !== undefined || !fs.existsSync(configFile)) fs.writeFileSync(configFile, opts.daemonJson ?? '{}\n');
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [
      ...BERTHD_NODE_FLAGS,
      BERTHD,
      '-H',
      `unix://${socket}`,
      '--data-root',
      dataRoot,
      '--exec-root',
      execRoot,
      '--pidfile',
      path.join(dir, 'berthd.pid'),
      '--config-file',
      configFile,
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', logFd, logFd], env: { ...process.env, ...opts.env } },
  );
  fs.closeSync(logFd);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitForPing(socket, child, logFile, 60_000);
  } catch (err) {
    // Leave nothing running (the error carries the log); a directory we made goes too.
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    stopOrphanContainerd(execRoot);
    if (opts.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: 'false' };
  return {
    socket,
    dataRoot,
    execRoot,
    dir,
    pid: child.pid ?? -1,
    log: () => fs.readFileSync(logFile, 'utf8'),
    docker: (args, o = {}) => run(DOCKER, args, { env: { ...env, ...o.env }, input: o.input, timeoutMs: o.timeoutMs }),
    request: (method, urlPath, o) => httpRequest(socket, method, urlPath, o),
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** The PID of the containerd berthd runs for `execRoot`, while that process is alive. */
export function containerdPid(execRoot: string): number | undefined {
  const stateDir = path.join(execRoot, 'containerd');
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(path.join(stateDir, 'containerd.pid'), 'utf8'), 10);
  } catch {
    return undefined;
  }
  try {
    // Only ours: its command line names our config (a recycled PID is someone else's).
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return undefined;
    return argv.includes(path.join(stateDir, 'config.toml')) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops berthd and removes its directory (containerd's state included). A containerd left
 * behind by a berthd that was SIGKILLed is stopped too, and its mounts undone, so nothing
 * outlives the test.
 */
export async function destroyBerth(b: Berth): Promise<void> {
  const code = await b.stop();
  if (code === null && fs.existsSync(b.dataRoot)) {
    // Killed (by the test, or by the stop's own SIGKILL): what only a clean stop undoes (its
    // bridges, firewall chains, containers) would outlive the test, and leaked bridges use up the
    // address pools of every later berthd on the host. One clean start and stop on the same roots
    // takes it all over and removes it.
    let clean: Berth | undefined;
    try {
      stopOrphanContainerd(b.execRoot);
      clean = await startBerth({ dir: b.dir, daemonJson: '{}\n' });
    } catch {
      // Not startable again (a test broke its roots on purpose): the default bridge at least.
      spawnSync('ip', ['link', 'del', defaultBridgeOf(b.dataRoot)], { stdio: 'ignore' });
    }
    if (clean) await clean.stop();
  }
  stopOrphanContainerd(b.execRoot);
  unmountUnder(b.dir);
  fs.rmSync(b.dir, { recursive: true, force: true });
}

/** The default bridge of the berthd of `dataRoot`, as berthd names it. */
function defaultBridgeOf(dataRoot: string): string {
  return networkTag(containerdNamespaceFor(dataRoot)).defaultBridge;
}

/**
 * destroyBerth for a berthd run with live restore, whose stop leaves containers, containerd,
 * bridges and firewall chains in place by design: it is started once more on the same roots
 * without live restore (which stops what was left running and takes the rest over), then
 * destroyed as usual.
 */
export async function destroyLiveRestoreBerth(b: Berth): Promise<void> {
  await b.stop();
  let clean: Berth | undefined;
  try {
    clean = await startBerth({ dir: b.dir, daemonJson: '{}\n' });
  } finally {
    if (clean) await destroyBerth(clean);
    else await destroyBerth(b);
  }
}

/** Stops the containerd a dead berthd left running for `execRoot`, if any. */
function stopOrphanContainerd(execRoot: string): void {
  const orphan = containerdPid(execRoot);
  if (orphan === undefined) return;
  process.kill(orphan, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (containerdPid(execRoot) === orphan && Date.now() < deadline) Atomics.wait(pause, 0, 0, 50);
  if (containerdPid(execRoot) === orphan) process.kill(orphan, 'SIGKILL');
}

/** Lazily unmounts whatever is still mounted below `dir` (deepest first). */
function unmountUnder(dir: string): void {
  let mounts: string[];
  try {
    mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)));
  } catch {
    return;
  }
  for (const m of mounts.sort((a, b) => b.length - a.length)) {
    spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  }
}

/** `p`, or an error naming `what` when it takes longer than `ms`. */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Calls `check` every `everyMs` until it holds; false if it never did within `ms`. */
export async function pollUntil(ms: number, everyMs: number, check: () => Promise<boolean> | boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Loads the busybox fixture image as `busybox:latest` through the API (as `docker load` does). */
export async function loadBusybox(b: Berth): Promise<void> {
  const archive = await buildBusyboxArchive({ tags: ['busybox:latest'] });
  const r = await b.request('POST', '/images/load?quiet=1', { body: archive, headers: { 'Content-Type': 'application/x-tar' } });
  if (r.status !== 200) throw new Error(`loading busybox: ${r.status} ${r.body}`);
}

/** A berthd with the busybox fixture for the whole test file: started before its tests, destroyed after. */
export function berthWithBusybox(set: (b: Berth) => void): void {
  let started: Berth | undefined;
  before(async () => {
    started = await startBerth();
    set(started);
    await loadBusybox(started);
  });
  after(async () => {
    if (started) await destroyBerth(started);
  });
}
