// Healthchecks as dockerd runs them (daemon/health.go): one monitor per running, unpaused
// container with a probe, which runs the probe after each interval (counted from the end of the
// previous run), kills a probe that outlives its timeout, and turns results into State.Health:
// Status starting → healthy/unhealthy, FailingStreak, the last 5 results. The probe itself is a
// port (the exec service runs it in the container's task); timers and the clock are injectable,
// so the state machine is unit-tested with mocked timers and a fake probe.
import { errorMessage } from '../../lib/errors';
import { formatGoDuration } from '../go-duration';
import { nsToMs, probeCommand, probeTimings, type ProbeTimings } from './health-config';
import type { LiveContainer } from './live-container';
import { rfc3339Nano, type Container, type HealthState } from './model';

/** moby's maxOutputLen: bytes of a probe's output kept; the rest is dropped and "..." appended. */
export const MAX_OUTPUT_BYTES = 4096;
/** moby's maxLogEntries. */
export const MAX_LOG_ENTRIES = 5;
/** How long starting a probe's process may take before the run counts as failed (moby's 30s). */
export const PROBE_START_TIMEOUT_MS = 30_000;
/** setTimeout's largest delay; longer waits are armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A probe's output as moby's limitedBuffer keeps it: the first 4096 bytes, "..." if there was more. */
export class ProbeOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private truncated = false;

  write(chunk: Buffer): void {
    const keep = Math.min(MAX_OUTPUT_BYTES - this.size, chunk.length);
    if (keep > 0) {
      this.chunks.push(keep === chunk.length ? chunk : chunk.subarray(0, keep));
      this.size += keep;
    }
    if (keep < chunk.length) this.truncated = true;
  }

  toString(): string {
    const out = Buffer.concat(this.chunks, this.size).toString('utf8');
    return this.truncated ? `${out}...` : out;
  }
}

/** One probe process running in a container. */
export interface ProbeProcess {
  /** Settles with the exit code once the process is gone; never rejects. */
  readonly exited: Promise<number>;
  /** Its output so far (stdout and stderr as they came), capped as ProbeOutput caps it. */
  output(): string;
  /** Kills it; `exited` settles once it is gone. */
  kill(): void;
}

/** Runs probes (the exec service, in the container's task, as moby's cmdProbe). */
export interface ProbeRunner {
  /** Resolves once the process runs; rejects when it could not be started. */
  start(c: Container, cmd: string[]): Promise<ProbeProcess>;
}

/** A runner given later (the exec service needs the container service that needs a runner). */
export class LateProbeRunner implements ProbeRunner {
  private runner?: ProbeRunner;

  use(runner: ProbeRunner): void {
    this.runner = runner;
  }

  start(c: Container, cmd: string[]): Promise<ProbeProcess> {
    return this.runner ? this.runner.start(c, cmd) : Promise.reject(new Error('no probe runner'));
  }
}

export interface HealthTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface HealthDeps {
  runner: ProbeRunner;
  /** Status moved to healthy or unhealthy after a probe: persist it, publish health_status. */
  statusChanged(c: LiveContainer, status: HealthState['Status']): void;
  logger: { warn(obj: object, msg: string): void };
  /** Wall clock in ms (default Date.now): StartedAt and the Log's times are wall-clock times. */
  now?: () => number;
  timers?: HealthTimers;
}

const globalTimers: HealthTimers = {
  // Looked up at each call, so mocked timers in tests take effect.
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** The monitors of all containers, driven by the container lifecycle. */
export class HealthChecks {
  private readonly monitors = new Map<string, HealthMonitor>();
  private readonly now: () => number;
  private readonly timers: HealthTimers;

  constructor(private readonly deps: HealthDeps) {
    this.now = deps.now ?? (() => Date.now());
    this.timers = deps.timers ?? globalTimers;
  }

  /**
   * The task has become running (a start, a policy restart, a re-adopted task): moby's
   * initHealthMonitor. Health goes back to starting with its streak reset (the Log stays).
   */
  taskRunning(c: LiveContainer): void {
    if (probeCommand(c.record.config.Healthcheck, c.record.config.Shell) === undefined) return;
    this.stop(c);
    const h = c.state.health;
    if (h) {
      h.Status = 'starting';
      h.FailingStreak = 0;
    } else {
      c.state.health = { Status: 'starting', FailingStreak: 0, Log: [] };
    }
    this.update(c);
  }

  /** Runs the monitor iff the container runs unpaused and has a probe (moby's updateHealthMonitor). */
  update(c: LiveContainer): void {
    if (!c.state.health) return;
    const cmd = probeCommand(c.record.config.Healthcheck, c.record.config.Shell);
    if (c.state.running && !c.state.paused && cmd !== undefined) {
      if (this.monitors.has(c.id)) return;
      const m = new HealthMonitor(c, cmd, probeTimings(c.record.config.Healthcheck), this.deps, this.now, this.timers);
      this.monitors.set(c.id, m);
      m.start();
    } else {
      this.stop(c);
    }
  }

  /** The task stopped, died or paused: the monitor ends and, as in moby, the status is unhealthy. */
  stop(c: LiveContainer): void {
    const m = this.monitors.get(c.id);
    if (!m) return;
    m.stop();
    this.monitors.delete(c.id);
    if (c.state.health) c.state.health.Status = 'unhealthy';
  }

  /** Daemon shutdown: every monitor ends (a probe still running is killed). */
  shutdown(containers: Iterable<LiveContainer>): void {
    for (const c of containers) this.stop(c);
    for (const m of this.monitors.values()) m.stop();
    this.monitors.clear();
  }

  /** Live-restore stop: the monitors end and the state stays as it is (the next berthd probes on). */
  detachAll(): void {
    for (const m of this.monitors.values()) m.stop();
    this.monitors.clear();
  }

  /** Whether a monitor runs for the container (tests, and callers that must not double-start). */
  isMonitoring(id: string): boolean {
    return this.monitors.has(id);
  }
}

interface ProbeResult {
  exitCode: number;
  output: string;
}

const STOPPED = Symbol('stopped');
const TIMED_OUT = Symbol('timed out');

/** One container's monitor: moby's monitor goroutine and handleProbeResult. */
class HealthMonitor {
  private timer?: unknown;
  private probe?: ProbeProcess;
  private stopped = false;
  /** Cancels of the waits in progress, so stop ends them at once and no timer outlives it. */
  private readonly pending = new Set<() => void>();
  private readonly startedMs: number;

  constructor(
    private readonly c: LiveContainer,
    private readonly cmd: string[],
    private readonly t: ProbeTimings,
    private readonly deps: HealthDeps,
    private readonly now: () => number,
    private readonly timers: HealthTimers,
  ) {
    this.startedMs = Date.parse(c.state.startedAt);
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    for (const cancel of [...this.pending]) cancel();
    this.probe?.kill();
  }

  /** The start interval while starting within the start period, else the interval. */
  private nextDelayMs(): number {
    const sinceStart = this.now() - this.startedMs;
    if (sinceStart >= msOf(this.t.startPeriodNs)) return nsToMs(this.t.intervalNs);
    return this.c.state.health?.Status === 'starting' ? nsToMs(this.t.startIntervalNs) : nsToMs(this.t.intervalNs);
  }

  private schedule(): void {
    this.arm(this.nextDelayMs(), () => {
      this.runAndRecord().catch((err: unknown) => this.deps.logger.warn({ err, container: this.c.id }, 'health check failed'));
    });
  }

  /** setTimeout for any delay (longer ones are armed in steps of setTimeout's maximum). */
  private arm(ms: number, fn: () => void): void {
    const step = Math.min(ms, MAX_TIMER_MS);
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      if (ms > step) this.arm(ms - step, fn);
      else fn();
    }, step);
  }

  private async runAndRecord(): Promise<void> {
    const startMs = this.now();
    const result = await this.runProbe();
    if (this.stopped || result === undefined) return;
    this.record(startMs, this.now(), result);
    this.schedule();
  }

  /** One run of the probe (moby's cmdProbe.run plus the monitor's error result); undefined once stopped. */
  private async runProbe(): Promise<ProbeResult | undefined> {
    if (this.cmd.length === 0) return { exitCode: -1, output: `healthcheck for container ${this.c.id} has no command` };
    let proc: ProbeProcess;
    const starting = this.deps.runner.start(this.c, this.cmd);
    try {
      const first = await this.wait(starting, PROBE_START_TIMEOUT_MS);
      if (first === STOPPED || first === TIMED_OUT) {
        // The process may still come up: it is killed then, never left running.
        void starting.then(
          (p) => p.kill(),
          () => undefined,
        );
        if (first === STOPPED) return undefined;
        return { exitCode: -1, output: `timed out starting health check for container ${this.c.id}` };
      }
      proc = first;
    } catch (err) {
      return { exitCode: -1, output: errorMessage(err) };
    }
    this.probe = proc;
    try {
      const exit = await this.wait(proc.exited, nsToMs(this.t.timeoutNs));
      if (exit === STOPPED) {
        proc.kill();
        return undefined;
      }
      if (exit === TIMED_OUT) {
        // As moby: the probe is killed and waited for, so dying probes never pile up.
        proc.kill();
        if ((await this.wait(proc.exited, Infinity)) === STOPPED) return undefined;
        const out = proc.output();
        const limit = formatGoDuration(this.t.timeoutNs);
        return {
          exitCode: -1,
          output: out ? `Health check exceeded timeout (${limit}): ${out}` : `Health check exceeded timeout (${limit})`,
        };
      }
      return { exitCode: exit, output: proc.output() };
    } finally {
      this.probe = undefined;
    }
  }

  /** `p`, or TIMED_OUT after `ms`, or STOPPED as soon as the monitor stops. */
  private wait<T>(p: Promise<T>, ms: number): Promise<T | typeof STOPPED | typeof TIMED_OUT> {
    return new Promise((resolve, reject) => {
      let handle: unknown;
      const done = (): void => {
        this.pending.delete(cancel);
        if (handle !== undefined) this.timers.clearTimeout(handle);
      };
      const cancel = (): void => {
        done();
        resolve(STOPPED);
      };
      if (this.stopped) return resolve(STOPPED);
      this.pending.add(cancel);
      if (ms !== Infinity) {
        handle = this.timers.setTimeout(
          () => {
            handle = undefined;
            done();
            resolve(TIMED_OUT);
          },
          Math.min(ms, MAX_TIMER_MS),
        );
      }
      p.then(
        (v) => {
          done();
          resolve(v);
        },
        (err: unknown) => {
          done();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** moby's handleProbeResult. */
  private record(startMs: number, endMs: number, r: ProbeResult): void {
    const h = this.c.state.health;
    if (!h) return;
    const old = h.Status;
    h.Log = [
      ...h.Log.slice(-(MAX_LOG_ENTRIES - 1)),
      { Start: rfc3339Nano(new Date(startMs)), End: rfc3339Nano(new Date(endMs)), ExitCode: r.exitCode, Output: r.output },
    ];
    if (r.exitCode === 0) {
      h.FailingStreak = 0;
      h.Status = 'healthy';
    } else {
      // Any other exit code is a failure; while starting, one within the start period is not counted.
      const inStartPeriod = h.Status === 'starting' && startMs - this.startedMs < msOf(this.t.startPeriodNs);
      if (!inStartPeriod) {
        h.FailingStreak++;
        if (h.FailingStreak >= this.t.retries) h.Status = 'unhealthy';
      }
    }
    if (h.Status !== old) this.deps.statusChanged(this.c, h.Status);
  }
}

/** Nanoseconds as (fractional) milliseconds, for comparisons with the clock. */
function msOf(ns: bigint): number {
  return Number(ns) / 1e6;
}
