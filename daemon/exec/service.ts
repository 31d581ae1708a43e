// Exec instances: extra processes run in a running container's task. Like dockerd, the records
// live in memory only, and go when their container stops or is removed (a restarted daemon
// knows no exec). Each record runs at most once; its output is drained whether or not a
// client is attached, and goes to the attached client while there is one.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Containerd } from '../../runtime/containerd';
import { hostCapabilities } from '../../runtime/capabilities';
import { readContainerSpec } from '../../runtime/container-spec';
import type { OciSpec } from '../../runtime/oci-types';
import { isProcessGone } from '../../runtime/grpc-errors';
import { overlayDirsFromMounts, snapshotMounts } from '../../runtime/snapshots';
import type { ContainerRuntime, TaskIO } from '../../runtime/tasks';
import { resolveUser } from '../../runtime/user';
import { DetachKeys, parseDetachKeys, type OutputStream } from '../containers/attach-hub';
import type { Container, ContainerService } from '../containers/service';
import { withDefaultEnv } from '../containers/spec-factory';
import { Conflict, errorMessage, InvalidParameter, NotFound } from '../../lib/errors';
import type { EventBus } from '../events';
import { execProcess, replaceOrAppendEnv } from './process-spec';

/** POST /containers/{id}/exec's body (ExecConfig). */
export interface ExecCreateConfig {
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  ConsoleSize?: number[] | null;
}

export interface ExecStartOptions {
  detach: boolean;
  /** The framing the client asked for in the start body (dockerd frames by it). */
  tty: boolean;
  consoleSize?: number[] | null;
}

/** GET /exec/{id}/json. */
export interface ExecInspectResponse {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  ProcessConfig: { tty: boolean; entrypoint: string; arguments: string[]; privileged: boolean; user?: string };
  OpenStdin: boolean;
  OpenStderr: boolean;
  OpenStdout: boolean;
  CanRemove: boolean;
  ContainerID: string;
  /** Base64 of the detach key bytes, as Go encodes a []byte. */
  DetachKeys: string;
  Pid: number;
}

/** Where an attached exec's output goes. */
export interface ExecSink {
  /** Returns false when the client's buffer is full; output then pauses until `drain`. */
  output(stream: OutputStream, chunk: Buffer): boolean;
  onDrain(cb: () => void): void;
  /** The session is over: the process exited and its output is drained, or the client detached. */
  end(reason: 'exited' | 'detached'): void;
  /** The exec could not start after the stream was hijacked: tell the client in-band. */
  fail(message: string): void;
}

/** One started exec as the route drives it. */
export interface ExecSession {
  readonly tty: boolean;
  readonly detach: boolean;
  /** Starts the process. With detach, resolves once it runs; else once the session is over. */
  run(sink?: ExecSink): Promise<void>;
  /** Returns false when the process's stdin is full: stop reading until `onStdinDrain`. */
  stdin(chunk: Buffer): boolean;
  onStdinDrain(cb: () => void): void;
  stdinEnd(): void;
  /** The client went away: stop sending it output (the process keeps running). */
  close(): void;
}

export interface ExecRecord {
  id: string;
  containerId: string;
  entrypoint: string;
  args: string[];
  env: string[];
  user: string;
  workingDir: string;
  privileged: boolean;
  tty: boolean;
  openStdin: boolean;
  openStdout: boolean;
  openStderr: boolean;
  detachKeys: Buffer;
  consoleSize?: number[] | null;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  /** Settles once the process runs (true) or failed to start (false), for resize. */
  ready: Promise<boolean>;
  markReady: (ok: boolean) => void;
}

export interface ExecServiceDeps {
  containers: ContainerService;
  runtime: ContainerRuntime;
  ctd: Containerd;
  events: EventBus;
  logger: Logger;
}

const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';
/** dockerd waits this long for an exec to start before a resize gives up. */
const RESIZE_WAIT_MS = 10_000;

export class ExecService {
  private readonly execs = new Map<string, ExecRecord>();
  /**
   * The spec each container's current run was started with (keyed by the run: pid and start
   * time), so a container's execs after the first skip containerd's Containers.Get and the parse.
   * Only read (execProcess copies what it changes); weak, so it goes with the container.
   */
  private readonly specs = new WeakMap<Container, { run: string; spec: OciSpec }>();
  private readonly byContainer = new Map<string, Set<string>>();
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: ExecServiceDeps) {
    // As dockerd: a container that stops drops the execs that never ran (an exec that ran stays
    // inspectable, for its exit code); a container that goes takes all of its execs along.
    this.unsubscribe = deps.events.subscribe(
      (ev) => {
        if (ev.Type !== 'container') return;
        if (ev.Action === 'die') this.forgetContainer(ev.Actor.ID, (rec) => !rec.started);
        else if (ev.Action === 'destroy') this.forgetContainer(ev.Actor.ID, () => true);
      },
      { internal: true },
    );
  }

  close(): void {
    this.unsubscribe();
  }

  /**
   * Container inspect's ExecIDs: the execs not yet exited (dockerd drops an exec from its
   * container's list when it exits); null when none.
   */
  execIds(containerId: string): string[] | null {
    const ids = [...(this.byContainer.get(containerId) ?? [])].filter((id) => this.execs.get(id)?.exitCode === null);
    return ids.length > 0 ? ids : null;
  }

  private activeContainer(input: string): Container {
    const c = this.deps.containers.get(input);
    if (!c.state.running) throw new Conflict(`container ${c.record.id} is not running`);
    if (c.state.paused) throw new Conflict(`Container ${input} is paused, unpause the container before exec`);
    if (c.state.restarting) throw new Conflict(`Container ${c.record.id} is restarting, wait until the container is running`);
    return c;
  }

  create(input: string, config: ExecCreateConfig): { Id: string } {
    const c = this.activeContainer(input);
    const cmd = config.Cmd ?? [];
    if (cmd.length === 0) throw new InvalidParameter('No exec command specified');
    let detachKeys: Buffer = Buffer.alloc(0);
    if (config.DetachKeys) {
      try {
        detachKeys = parseDetachKeys(config.DetachKeys);
      } catch {
        throw new InvalidParameter(`Invalid escape keys (${config.DetachKeys}) provided`);
      }
    }
    const tty = config.Tty === true;
    const rec = newExecRecord(c, {
      cmd,
      env: replaceOrAppendEnv(withDefaultEnv({ ...c.record.config, Tty: tty }), config.Env ?? []),
      user: config.User || c.record.config.User || '',
      workingDir: config.WorkingDir || c.record.config.WorkingDir || '',
      privileged: config.Privileged === true,
      tty,
      openStdin: config.AttachStdin === true,
      openStdout: config.AttachStdout === true,
      openStderr: config.AttachStderr === true,
      detachKeys,
      consoleSize: config.ConsoleSize,
    });
    this.addRecord(rec);
    this.publish(c, `exec_create: ${this.commandLine(rec)}`, { execID: rec.id });
    return { Id: rec.id };
  }

  /** @internal Registers an exec (inspectable, and in its container's ExecIDs while it runs). */
  addRecord(rec: ExecRecord): void {
    this.execs.set(rec.id, rec);
    let ids = this.byContainer.get(rec.containerId);
    if (!ids) this.byContainer.set(rec.containerId, (ids = new Set()));
    ids.add(rec.id);
  }

  /** @internal Forgets an exec at once (a healthcheck probe that has exited). */
  dropRecord(rec: ExecRecord): void {
    this.execs.delete(rec.id);
    const ids = this.byContainer.get(rec.containerId);
    ids?.delete(rec.id);
    if (ids?.size === 0) this.byContainer.delete(rec.containerId);
  }

  private record(id: string): ExecRecord {
    const rec = this.execs.get(id);
    if (!rec) throw new NotFound(`No such exec instance: ${id}`);
    return rec;
  }

  /** Throws NotFound for an unknown exec, before the route hijacks the connection. */
  exists(id: string): void {
    this.record(id);
  }

  inspect(id: string): ExecInspectResponse {
    const rec = this.record(id);
    return {
      ID: rec.id,
      Running: rec.running,
      ExitCode: rec.exitCode,
      ProcessConfig: {
        tty: rec.tty,
        entrypoint: rec.entrypoint,
        arguments: [...rec.args],
        privileged: rec.privileged,
        ...(rec.user ? { user: rec.user } : {}),
      },
      OpenStdin: rec.openStdin,
      OpenStderr: rec.openStderr,
      OpenStdout: rec.openStdout,
      CanRemove: false,
      ContainerID: rec.containerId,
      DetachKeys: rec.detachKeys.toString('base64'),
      Pid: rec.pid,
    };
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    const rec = this.record(id);
    const ready = rec.ready;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), RESIZE_WAIT_MS)));
    const outcome = await Promise.race([ready, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw new Error('timeout waiting for exec session ready');
    if (!outcome || !rec.running) throw new NotFound('no such exec');
    await this.deps.runtime.resizePty(rec.containerId, width, height, rec.id).catch((err: unknown) => {
      // The process exited between the check and the call: answered as if it had exited before.
      if (!rec.running || isProcessGone(err)) throw new NotFound('no such exec');
      throw err;
    });
  }

  /**
   * Claims the exec for one run and checks its container, throwing what dockerd answers with a
   * status (before any hijack); the returned session starts the process.
   */
  start(id: string, opts: ExecStartOptions): ExecSession {
    const rec = this.record(id);
    if (rec.exitCode !== null) throw new Conflict(`Error: Exec command ${id} has already run`);
    if (rec.started) throw new Conflict(`Error: Exec command ${id} is already running`);
    const c = this.deps.containers.tryGetById(rec.containerId);
    if (!c || !c.state.running) throw new Conflict(`container ${rec.containerId} is not running`);
    if (c.state.paused) throw new Conflict(`Container ${rec.containerId} is paused, unpause the container before exec`);
    rec.started = true;
    if (opts.consoleSize) rec.consoleSize = opts.consoleSize;
    return new Run(this, rec, c, opts);
  }

  // ---- used by Run -----------------------------------------------------------------------------

  /** @internal */
  async launch(rec: ExecRecord, c: Container): Promise<{ pid: number; io: TaskIO }> {
    const { ctd, runtime } = this.deps;
    const run = `${c.state.pid}@${c.state.startedAt}`;
    let spec = this.specs.get(c)?.run === run ? this.specs.get(c)?.spec : undefined;
    if (!spec) {
      spec = await readContainerSpec(ctd, c.record.id);
      this.specs.set(c, { run, spec });
    }
    let user;
    if (rec.user) {
      const dirs = overlayDirsFromMounts(await snapshotMounts(ctd, c.record.id));
      const layers = [dirs.UpperDir, ...(dirs.LowerDir ? dirs.LowerDir.split(':') : [])];
      user = await resolveUser(layers, rec.user, c.record.hostConfig.GroupAdd ?? []);
    }
    const process = execProcess({
      base: spec.process,
      args: [rec.entrypoint, ...rec.args],
      env: rec.env,
      cwd: rec.workingDir,
      terminal: rec.tty,
      consoleSize: rec.consoleSize,
      user,
      allCapabilities: rec.privileged ? hostCapabilities().available : undefined,
    });
    return runtime.exec(c.record.id, rec.id, { process, stdin: rec.openStdin, terminal: rec.tty });
  }

  /** @internal */
  publish(c: Container, action: string, extra: Record<string, string>): void {
    this.deps.events.publish('container', action, c.record.id, {
      ...(c.record.config.Labels ?? {}),
      image: c.record.config.Image ?? '',
      name: c.record.name,
      ...extra,
    });
  }

  /** @internal */
  commandLine(rec: Pick<ExecRecord, 'entrypoint' | 'args'>): string {
    // dockerd's wording, trailing space included when there are no arguments.
    return `${rec.entrypoint} ${rec.args.join(' ')}`;
  }

  get runtime(): ContainerRuntime {
    return this.deps.runtime;
  }

  get logger(): Logger {
    return this.deps.logger;
  }

  private forgetContainer(containerId: string, which: (rec: ExecRecord) => boolean): void {
    const ids = this.byContainer.get(containerId);
    if (!ids) return;
    for (const id of [...ids]) {
      const rec = this.execs.get(id);
      if (rec && !which(rec)) continue;
      this.execs.delete(id);
      ids.delete(id);
    }
    if (ids.size === 0) this.byContainer.delete(containerId);
  }
}

/** A new, not yet started exec record of container `c`. */
export function newExecRecord(
  c: Container,
  f: Pick<
    ExecRecord,
    'env' | 'user' | 'workingDir' | 'privileged' | 'tty' | 'openStdin' | 'openStdout' | 'openStderr' | 'detachKeys' | 'consoleSize'
  > & { cmd: string[] },
): ExecRecord {
  let markReady!: (ok: boolean) => void;
  const ready = new Promise<boolean>((resolve) => (markReady = resolve));
  const { cmd, ...fields } = f;
  return {
    id: randomBytes(32).toString('hex'),
    containerId: c.record.id,
    entrypoint: cmd[0],
    args: cmd.slice(1),
    ...fields,
    running: false,
    started: false,
    exitCode: null,
    pid: 0,
    ready,
    markReady,
  };
}

/** One run of an exec: starts the process, pumps its IO, records its exit. */
class Run implements ExecSession {
  readonly tty: boolean;
  readonly detach: boolean;
  private sink?: ExecSink;
  private io?: TaskIO;
  private readonly pendingStdin: Buffer[] = [];
  private pendingEof = false;
  private readonly scanner: DetachKeys;
  private ended = false;
  private finished?: () => void;

  constructor(
    private readonly svc: ExecService,
    private readonly rec: ExecRecord,
    private readonly container: Container,
    opts: ExecStartOptions,
  ) {
    this.tty = opts.tty;
    this.detach = opts.detach;
    const keys = rec.detachKeys.length > 0 ? rec.detachKeys : parseDetachKeys(DEFAULT_DETACH_KEYS);
    this.scanner = new DetachKeys(keys);
  }

  async run(sink?: ExecSink): Promise<void> {
    const { svc, rec } = this;
    this.sink = this.detach ? undefined : sink;
    svc.publish(this.container, `exec_start: ${svc.commandLine(rec)}`, { execID: rec.id });
    rec.running = true;
    const markReady = rec.markReady;
    let started: { pid: number; io: TaskIO };
    try {
      started = await svc.launch(rec, this.container);
    } catch (err) {
      // As dockerd's exec: any start failure is 126, a missing executable included (a container
      // start tells them apart: 127 not found, 126 not runnable).
      rec.running = false;
      rec.exitCode = 126;
      markReady(false);
      if (this.detach) throw err;
      this.sink?.fail(errorMessage(err));
      this.finish('exited');
      return;
    }
    rec.pid = started.pid;
    this.io = started.io;
    markReady(true);
    this.pump(started.io);
    for (const chunk of this.pendingStdin.splice(0)) started.io.stdin?.write(chunk);
    if (this.pendingEof) this.closeStdin();

    const done = this.waitExit(started.io);
    if (this.detach) {
      done.catch((err: unknown) => svc.logger.warn({ err, exec: rec.id }, 'exec wait failed'));
      return;
    }
    await new Promise<void>((resolve) => {
      this.finished = resolve;
      if (this.ended) resolve();
    });
  }

  private pump(io: TaskIO): void {
    const forward = (stream: OutputStream, wanted: boolean) => (chunk: Buffer) => {
      const sink = this.sink;
      if (!wanted || !sink || this.ended) return;
      if (!sink.output(stream, chunk)) {
        io.stdout.pause();
        io.stderr?.pause();
        sink.onDrain(() => {
          io.stdout.resume();
          io.stderr?.resume();
        });
      }
    };
    io.stdout.on('data', forward('stdout', this.rec.openStdout));
    io.stderr?.on('data', forward('stderr', this.rec.openStderr));
    io.stdout.on('error', () => undefined);
    io.stderr?.on('error', () => undefined);
  }

  private async waitExit(io: TaskIO): Promise<void> {
    const { svc, rec } = this;
    const runtime = svc.runtime;
    let code: number;
    try {
      code = (await runtime.waitTaskAndIO(rec.containerId, io, { execId: rec.id })).exitStatus;
    } catch (err) {
      // The task went away under the exec (its container was killed): it died with it.
      svc.logger.debug({ err, exec: rec.id }, 'exec wait ended without an exit status');
      code = 137;
    }
    rec.exitCode = code;
    rec.running = false;
    svc.publish(this.container, 'exec_die', { execID: rec.id, exitCode: String(code) });
    this.finish('exited');
    // As dockerd (a goroutine after the exit is reported): the output has ended, so our FIFO ends
    // and containerd's record of the exited process go after the client has its answer, off the
    // critical path of `docker exec`.
    await io.close().catch(() => undefined);
    await runtime
      .deleteProcess(rec.containerId, rec.id)
      .catch((err: unknown) => svc.logger.debug({ err, exec: rec.id }, 'could not delete exec process'));
  }

  /** Output flows again (and is discarded) once no client reads it, or the process would block. */
  private unpauseOutput(): void {
    this.io?.stdout.resume();
    this.io?.stderr?.resume();
  }

  private finish(reason: 'exited' | 'detached'): void {
    if (this.ended) return;
    this.ended = true;
    this.unpauseOutput();
    const sink = this.sink;
    this.sink = undefined;
    sink?.end(reason);
    this.finished?.();
  }

  stdin(chunk: Buffer): boolean {
    if (!this.rec.openStdin || this.ended) return true;
    const { forward, detach } = this.scanner.feed(chunk);
    let ok = true;
    if (forward.length > 0) {
      if (this.io?.stdin) ok = this.io.stdin.destroyed || this.io.stdin.write(forward);
      else this.pendingStdin.push(forward);
    }
    if (detach) this.finish('detached');
    return ok;
  }

  onStdinDrain(cb: () => void): void {
    const stdin = this.io?.stdin;
    if (!stdin || stdin.destroyed) return cb();
    const done = (): void => {
      stdin.removeListener('drain', done);
      stdin.removeListener('close', done);
      cb();
    };
    stdin.once('drain', done);
    stdin.once('close', done);
  }

  stdinEnd(): void {
    if (!this.rec.openStdin || this.ended) return;
    if (this.io) this.closeStdin();
    else this.pendingEof = true;
  }

  private closeStdin(): void {
    const { rec } = this;
    this.svc.runtime
      .closeStdin(rec.containerId, rec.id)
      .catch((err: unknown) => this.svc.logger.debug({ err, exec: rec.id }, 'could not close exec stdin'));
  }

  close(): void {
    this.sink = undefined;
    if (!this.ended) {
      this.ended = true;
      this.unpauseOutput();
      this.finished?.();
    }
  }
}
