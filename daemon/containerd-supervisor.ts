// Runs berthd's own containerd: private config, roots and socket (several berthd may share a
// host), output into our log, restarted with backoff if it dies, stopped gracefully with us.
// With keepRunning (live restore) it outlives berthd instead: its own session, output to a file
// rather than pipes that die with us, left running at stop, and reconnected to by the next
// berthd (which watches it by PID and starts a new one if it dies).

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Containerd } from '../runtime/containerd';
import { errorMessage, SystemError } from '../lib/errors';

export interface ContainerdSupervisorOptions {
  dataRoot: string;
  execRoot: string;
  logger: Logger;
  debug?: boolean;
  binary?: string;
  /** How long start() waits for the socket to answer Version. */
  startTimeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL on stop. */
  stopTimeoutMs?: number;
  /** Live restore: containerd outlives berthd, and a running one is reconnected to at start. */
  keepRunning?: boolean;
}

export interface ContainerdExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Plugins Berth never uses: CRI is slow and noisy, and the other snapshotters only probe and warn. */
const DISABLED_PLUGINS = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.snapshotter.v1.native',
  // Prometheus collectors per task for a metrics address Berth leaves empty (stats come from
  // the shim through Tasks.Metrics); without it the tasks service takes its no-op monitor.
  'io.containerd.monitor.v1.cgroups',
  'io.containerd.grpc.v1.healthcheck',
  // Creates /opt/containerd; restart monitors containers by label, which we do ourselves.
  'io.containerd.internal.v1.opt',
  'io.containerd.internal.v1.restart',
  // Absent from Debian's build; harmless to name for upstream builds.
  'io.containerd.tracing.processor.v1.otlp',
  'io.containerd.internal.v1.tracing',
];
/** containerd refuses to start without these, which beats failing on the first pull or run. */
const REQUIRED_PLUGINS = ['io.containerd.snapshotter.v1.overlayfs', 'io.containerd.grpc.v1.tasks'];

/** sun_path is 108 bytes including the NUL. */
const MAX_SOCKET_PATH = 107;
const RESTART_BACKOFF_MIN_MS = 200;
const RESTART_BACKOFF_MAX_MS = 15_000;
/** A containerd that ran this long before dying gets a fresh (short) backoff. */
const STABLE_RUN_MS = 60_000;
const OUTPUT_TAIL_LINES = 20;
/** How often a containerd we did not start (a reconnected one) is checked for life. */
const ADOPTED_POLL_MS = 1_000;
/** The output file (keepRunning) is rotated once at launch when it grew past this. */
const LOG_ROTATE_BYTES = 8 * 1024 * 1024;

/** TOML basic strings accept JSON's escapes for quotes, backslashes and control characters. */
const tomlString = (s: string): string => JSON.stringify(s);
const tomlArray = (items: string[]): string => `[${items.map(tomlString).join(', ')}]`;

export function renderContainerdConfig(p: { root: string; state: string; address: string; ttrpcAddress: string; debug: boolean }): string {
  return [
    '# Written by berthd at every start; edits are lost.',
    'version = 2',
    `root = ${tomlString(p.root)}`,
    `state = ${tomlString(p.state)}`,
    `disabled_plugins = ${tomlArray(DISABLED_PLUGINS)}`,
    `required_plugins = ${tomlArray(REQUIRED_PLUGINS)}`,
    '',
    '[grpc]',
    `  address = ${tomlString(p.address)}`,
    '  max_recv_message_size = 16777216',
    '  max_send_message_size = 16777216',
    '',
    '[ttrpc]',
    `  address = ${tomlString(p.ttrpcAddress)}`,
    '',
    '[debug]',
    '  address = ""',
    `  level = ${tomlString(p.debug ? 'debug' : 'info')}`,
    '',
    '[metrics]',
    '  address = ""',
    '',
  ].join('\n');
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return true;
}

/** Gone, or a zombie waiting for its (new) parent to reap it. */
async function processGone(pid: number): Promise<boolean> {
  if (!processExists(pid)) return true;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

export class ContainerdSupervisor {
  readonly socketPath: string;
  readonly configPath: string;
  readonly pidFile: string;
  readonly rootDir: string;
  readonly stateDir: string;
  /** Where containerd's output goes with keepRunning. */
  readonly logFile: string;

  private readonly logger: Logger;
  private readonly keepRunning: boolean;
  /** A containerd left running by an earlier berthd and reconnected to (not our child). */
  private adoptedPid: number | undefined;
  private adoptedPoll: NodeJS.Timeout | undefined;
  private readonly binary: string;
  private readonly debug: boolean;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly events = new EventEmitter();
  private child: ChildProcess | undefined;
  private childExited: Promise<void> = Promise.resolve();
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = RESTART_BACKOFF_MIN_MS;

  constructor(opts: ContainerdSupervisorOptions) {
    this.logger = opts.logger.child({ component: 'containerd' });
    this.binary = opts.binary ?? 'containerd';
    this.debug = opts.debug ?? false;
    this.startTimeoutMs = opts.startTimeoutMs ?? 30_000;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 15_000;
    this.rootDir = path.join(opts.dataRoot, 'containerd');
    this.stateDir = path.join(opts.execRoot, 'containerd');
    this.configPath = path.join(this.stateDir, 'config.toml');
    this.pidFile = path.join(this.stateDir, 'containerd.pid');
    this.socketPath = path.join(this.stateDir, 'containerd.sock');
    this.logFile = path.join(this.stateDir, 'containerd.log');
    this.keepRunning = opts.keepRunning ?? false;
  }

  /** PID of the running containerd, if any. */
  get pid(): number | undefined {
    return this.child?.pid ?? this.adoptedPid;
  }

  /** Called when containerd died unexpectedly (a restart follows). Returns an unsubscriber. */
  onExit(cb: (exit: ContainerdExit) => void): () => void {
    this.events.on('exit', cb);
    return () => this.events.off('exit', cb);
  }

  /** Called when a restarted containerd answers again; long-lived streams should be re-opened. */
  onRestart(cb: (socketPath: string) => void): () => void {
    this.events.on('restart', cb);
    return () => this.events.off('restart', cb);
  }

  /** Starts containerd and resolves with its socket path once it answers Version. */
  async start(): Promise<string> {
    if (this.child) return this.socketPath;
    if (Buffer.byteLength(this.socketPath) > MAX_SOCKET_PATH) {
      throw new SystemError(`containerd socket path is too long for a unix socket: ${this.socketPath}`);
    }
    this.stopping = false;
    // A pending restart would launch a second containerd next to the one started here.
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await mkdir(this.rootDir, { recursive: true, mode: 0o711 });
    await mkdir(this.stateDir, { recursive: true, mode: 0o711 });
    if (this.keepRunning && (await this.reconnectLeftover())) return this.socketPath;
    await this.stopLeftover();
    const config = renderContainerdConfig({
      root: this.rootDir,
      state: this.stateDir,
      address: this.socketPath,
      ttrpcAddress: `${this.socketPath}.ttrpc`,
      debug: this.debug,
    });
    await writeFile(this.configPath, config, { mode: 0o600 });
    await this.launch();
    return this.socketPath;
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (this.adoptedPoll) clearInterval(this.adoptedPoll);
    this.adoptedPoll = undefined;
    // Live restore: containerd keeps the shims (and so the containers) company until the next
    // berthd reconnects; its pidfile tells that berthd where it is.
    if (this.keepRunning) return;
    const child = this.child;
    if (child?.pid !== undefined) {
      await this.terminate(child.pid, this.childExited);
    } else if (this.adoptedPid !== undefined) {
      await this.terminate(this.adoptedPid, undefined);
    }
    this.adoptedPid = undefined;
    await rm(this.pidFile, { force: true });
  }

  /** The PID in our pidfile, when that process is alive and runs with our config file. */
  private async leftoverPid(): Promise<number | undefined> {
    let pid: number;
    try {
      pid = Number.parseInt(await readFile(this.pidFile, 'utf8'), 10);
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    try {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      if (!argv.includes(this.configPath)) return undefined; // a recycled PID is someone else's
    } catch {
      return undefined; // not running
    }
    return (await processGone(pid)) ? undefined : pid;
  }

  /**
   * Live restore: a containerd an earlier berthd left running on our socket is used as it is
   * (its shims, and so the containers, carry on). False when there is none, or it does not
   * answer (then it is stopped and a new one started, which reconnects to the shims).
   */
  private async reconnectLeftover(): Promise<boolean> {
    const pid = await this.leftoverPid();
    if (pid === undefined) return false;
    const probe = new Containerd({ address: this.socketPath, namespace: 'berth-probe', logger: this.logger });
    try {
      await probe.waitReady(5_000);
    } catch (err) {
      this.logger.warn({ err, containerdPid: pid }, 'containerd left running does not answer; replacing it');
      return false;
    } finally {
      probe.close();
    }
    this.adoptedPid = pid;
    this.logger.info({ containerdPid: pid, socket: this.socketPath }, 'reconnected to the containerd left running (live restore)');
    this.watchAdopted(pid);
    return true;
  }

  /** A containerd that is not our child gives no exit event: it is polled, and restarted if it dies. */
  private watchAdopted(pid: number): void {
    const startedAt = Date.now();
    let checking = false;
    this.adoptedPoll = setInterval(() => {
      if (checking) return;
      checking = true;
      processGone(pid)
        .then((gone) => {
          if (!gone || this.adoptedPid !== pid) return;
          if (this.adoptedPoll) clearInterval(this.adoptedPoll);
          this.adoptedPoll = undefined;
          this.adoptedPid = undefined;
          this.onUnexpectedExit({ pid, code: null, signal: null }, Date.now() - startedAt);
        })
        .catch(() => undefined)
        .finally(() => (checking = false));
    }, ADOPTED_POLL_MS);
    this.adoptedPoll.unref();
  }

  /**
   * A containerd left running by a crashed berthd would hold our socket and metadata lock. Stop
   * it, but only when its command line names our config file: a recycled PID is someone else's.
   */
  private async stopLeftover(): Promise<void> {
    const pid = await this.leftoverPid();
    if (pid === undefined) return;
    this.logger.warn({ containerdPid: pid }, 'stopping containerd left over from a previous berthd');
    await this.terminate(pid, undefined);
  }

  private async terminate(pid: number, exited: Promise<void> | undefined): Promise<void> {
    const gone = exited ?? this.pollGone(pid);
    const signal = (sig: NodeJS.Signals): void => {
      try {
        process.kill(pid, sig);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    };
    signal('SIGTERM');
    // Cancelled once settled: a pending grace timer would keep the process alive after stop().
    const cancelTimer = new AbortController();
    const timeout = sleep(this.stopTimeoutMs, 'timeout' as const, { signal: cancelTimer.signal }).catch(() => 'cancelled' as const);
    const outcome = await Promise.race([gone.then(() => 'gone' as const), timeout]);
    cancelTimer.abort();
    if (outcome === 'timeout') {
      this.logger.warn({ containerdPid: pid }, `containerd did not stop within ${this.stopTimeoutMs} ms; killing it`);
      signal('SIGKILL');
      await gone;
    }
  }

  private async pollGone(pid: number): Promise<void> {
    while (!(await processGone(pid))) await sleep(50);
  }

  private async launch(): Promise<void> {
    const startedAt = Date.now();
    // keepRunning: output to a file, since pipes to us would break when we exit.
    const logFd = this.keepRunning ? await this.openLogFile() : undefined;
    let child: ChildProcess;
    try {
      child = spawn(this.binary, ['--config', this.configPath], {
        stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
        // Own session: a Ctrl-C aimed at berthd must not hit containerd before we stop it in
        // order (and with keepRunning, nothing aimed at berthd's process group reaches it).
        detached: true,
        // Go's default (GOGC=100) lets garbage grow to the live heap's size before a GC, and an
        // unpack leaves ~5 MB of it until Go's 2-minute forced GC; 50 halves that bound (the
        // shims inherit it). A GOGC in berthd's environment wins.
        env: { ...process.env, GOGC: process.env.GOGC ?? '50' },
      });
    } finally {
      if (logFd !== undefined) closeSync(logFd);
    }
    this.child = child;
    if (this.keepRunning) child.unref();
    const tail: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        tail.push(line);
        if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
        this.logLine(line);
      });
    }
    let ready = false;
    let failEarly: (err: Error) => void = () => undefined;
    const early = new Promise<never>((_, reject) => (failEarly = reject));
    early.catch(() => undefined);
    this.childExited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        resolve();
        if (this.child === child) this.child = undefined;
        if (!ready) {
          failEarly(new SystemError(`containerd exited during startup (${signal ?? `code ${code}`})`));
          return;
        }
        this.onUnexpectedExit({ pid: child.pid ?? 0, code, signal }, Date.now() - startedAt);
      });
    });
    child.once('error', (err) => {
      if (this.child === child) this.child = undefined;
      failEarly(new SystemError(`cannot run ${this.binary}: ${err.message}`));
    });
    if (child.pid !== undefined) await writeFile(this.pidFile, `${child.pid}\n`);

    const probe = new Containerd({ address: this.socketPath, namespace: 'berth-probe', logger: this.logger });
    const answered = probe.waitReady(this.startTimeoutMs);
    answered.catch(() => undefined);
    let version = 'unknown';
    try {
      await Promise.race([answered, early]);
      ready = true;
      version = (await probe.version({ timeoutMs: 5_000 }).catch(() => ({ version }))).version;
    } catch (err) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await this.childExited;
      }
      if (logFd !== undefined) tail.push(...(await this.logTail()));
      const output = tail.length > 0 ? `; last output:\n${tail.join('\n')}` : '';
      throw new SystemError(`containerd failed to start: ${errorMessage(err)}${output}`);
    } finally {
      probe.close();
    }
    this.logger.info({ containerdPid: child.pid, socket: this.socketPath, version }, 'containerd is ready');
  }

  private async openLogFile(): Promise<number> {
    try {
      if ((await stat(this.logFile)).size > LOG_ROTATE_BYTES) await rename(this.logFile, `${this.logFile}.1`);
    } catch {
      // no file yet
    }
    return openSync(this.logFile, 'a', 0o600);
  }

  private async logTail(): Promise<string[]> {
    try {
      return (await readFile(this.logFile, 'utf8')).trimEnd().split('\n').slice(-OUTPUT_TAIL_LINES);
    } catch {
      return [];
    }
  }

  private onUnexpectedExit(exit: ContainerdExit, ranMs: number): void {
    if (this.stopping) return;
    this.logger.error({ containerdPid: exit.pid, code: exit.code, signal: exit.signal }, 'containerd exited unexpectedly; restarting it');
    this.emitSafe('exit', exit);
    if (ranMs >= STABLE_RUN_MS) this.backoffMs = RESTART_BACKOFF_MIN_MS;
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopping || this.restartTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, RESTART_BACKOFF_MAX_MS);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.launch().then(
        () => {
          if (this.stopping) return;
          this.emitSafe('restart', this.socketPath);
        },
        (err: unknown) => {
          this.logger.error({ err, retryInMs: this.backoffMs }, 'containerd restart failed');
          this.scheduleRestart();
        },
      );
    }, delay);
  }

  /** A throwing listener must neither stop supervision nor count as a failed restart. */
  private emitSafe(event: 'exit' | 'restart', arg: ContainerdExit | string): void {
    for (const listener of this.events.listeners(event)) {
      try {
        (listener as (a: typeof arg) => void)(arg);
      } catch (err) {
        this.logger.error({ err, event }, 'containerd supervisor listener failed');
      }
    }
  }

  /** containerd logs logfmt lines on stderr; errors stay visible at our default level. */
  private logLine(line: string): void {
    const level = /\blevel=(\w+)/.exec(line)?.[1];
    if (level === 'error' || level === 'fatal' || level === 'panic') this.logger.warn(line);
    else this.logger.debug(line);
  }
}
