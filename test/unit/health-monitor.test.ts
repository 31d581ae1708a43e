// The healthcheck state machine (daemon/containers/health.ts) under mocked timers and clock, with
// a scripted fake probe runner: defaults, retries, the start period and start interval, the
// timeout kill, the Log cap, the output cap, start failures, and stop/resume on pause and exit.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import type { HealthConfig } from '../../daemon/containers/api-types';
import { HealthChecks, MAX_OUTPUT_BYTES, ProbeOutput, type HealthTimers, type ProbeProcess } from '../../daemon/containers/health';
import { LiveContainer } from '../../daemon/containers/live-container';
import { initialState, rfc3339Nano, type ContainerRecord } from '../../daemon/containers/model';

const S = 1_000_000_000;
const ID = 'c'.repeat(64);

/** What the next probe does: exit with `code` after `afterMs`, or hang until killed, or fail to start. */
interface Script {
  code?: number;
  afterMs?: number;
  output?: string;
  hang?: boolean;
  startFails?: string;
  startHangs?: boolean;
}

class FakeRunner {
  readonly calls: string[][] = [];
  readonly killed: number[] = [];
  readonly script: Script[] = [];
  /** Probes whose start hung, released later. */
  readonly hungStarts: Array<(p: ProbeProcess) => void> = [];
  running = 0;

  start(_c: unknown, cmd: string[]): Promise<ProbeProcess> {
    this.calls.push(cmd);
    const n = this.calls.length;
    const s = this.script.shift() ?? { code: 0 };
    if (s.startFails) return Promise.reject(new Error(s.startFails));
    const proc = this.process(n, s);
    if (s.startHangs) return new Promise((resolve) => this.hungStarts.push(() => resolve(proc)));
    return Promise.resolve(proc);
  }

  private process(n: number, s: Script): ProbeProcess {
    const out = new ProbeOutput();
    let finish!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (finish = resolve));
    this.running++;
    let done = false;
    const end = (code: number): void => {
      if (done) return;
      done = true;
      this.running--;
      finish(code);
    };
    if (s.output !== undefined) out.write(Buffer.from(s.output));
    if (!s.hang) {
      if ((s.afterMs ?? 0) === 0) end(s.code ?? 0);
      else setTimeout(() => end(s.code ?? 0), s.afterMs);
    }
    return {
      exited,
      output: () => out.toString(),
      kill: () => {
        this.killed.push(n);
        end(137);
      },
    };
  }
}

/** setTimeout/clearTimeout (the mocked ones) that count what is armed, to catch leaked timers. */
class CountingTimers implements HealthTimers {
  readonly armed = new Set<unknown>();
  setTimeout(fn: () => void, ms: number): unknown {
    const h: NodeJS.Timeout = setTimeout(() => {
      this.armed.delete(h);
      fn();
    }, ms);
    this.armed.add(h);
    return h;
  }
  clearTimeout(h: unknown): void {
    this.armed.delete(h);
    clearTimeout(h as NodeJS.Timeout);
  }
}

interface Rig {
  c: LiveContainer;
  hc: HealthChecks;
  runner: FakeRunner;
  timers: CountingTimers;
  changes: string[];
}

function rig(health: HealthConfig | undefined, shell?: string[]): Rig {
  const record = {
    id: ID,
    name: 'c',
    config: { Image: 'busybox', Healthcheck: health, Shell: shell },
    hostConfig: {},
  } as unknown as ContainerRecord;
  const c = new LiveContainer(record, { ...initialState(), running: true, pid: 42, startedAt: rfc3339Nano(new Date(Date.now())) });
  const runner = new FakeRunner();
  const timers = new CountingTimers();
  const changes: string[] = [];
  const hc = new HealthChecks({
    runner,
    statusChanged: (_c, status) => changes.push(status),
    logger: { warn: () => undefined },
    timers,
  });
  return { c, hc, runner, timers, changes };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Moves the mocked clock on by `ms`, in steps, letting the monitor's promises settle in between. */
async function advance(ms: number, step = 10): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    mock.timers.tick(Math.min(step, ms - done));
    await flush();
    await flush();
  }
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_800_000_000_000 }));
afterEach(() => mock.timers.reset());

test('defaults: first probe after 30s, starting → healthy on exit 0, one health_status change', async () => {
  const { c, hc, runner, changes } = rig({ Test: ['CMD', 'true'], Interval: 0, Timeout: 0, Retries: 0, StartPeriod: 0 });
  hc.taskRunning(c);
  assert.equal(c.state.health?.Status, 'starting');
  assert.equal(c.state.health?.FailingStreak, 0);
  assert.equal(c.state.health?.Log.length, 0);
  await advance(29_990, 1000);
  assert.equal(runner.calls.length, 0);
  await advance(20);
  assert.deepEqual(runner.calls, [['true']]);
  assert.equal(c.state.health?.Status, 'healthy');
  assert.equal(c.state.health?.FailingStreak, 0);
  assert.equal(c.state.health?.Log.length, 1);
  const entry = c.state.health?.Log[0];
  assert.equal(entry?.ExitCode, 0);
  assert.equal(entry?.Output, '');
  const startedAfter = Date.parse(entry?.Start ?? '') - Date.parse(c.state.startedAt);
  assert.ok(startedAfter >= 30_000 && startedAfter <= 30_010, String(startedAfter));
  assert.deepEqual(changes, ['healthy']);
  // The next one 30s after the end of this one; a second success changes nothing.
  await advance(30_000, 1000);
  assert.equal(runner.calls.length, 2);
  assert.deepEqual(changes, ['healthy']);
  hc.shutdown([c]);
});

test('CMD-SHELL runs through /bin/sh -c, or the container Shell; NONE and no Test run nothing', async () => {
  let r = rig({ Test: ['CMD-SHELL', 'echo hi'], Interval: S });
  r.hc.taskRunning(r.c);
  await advance(1000);
  assert.deepEqual(r.runner.calls, [['/bin/sh', '-c', 'echo hi']]);
  r.hc.shutdown([r.c]);

  r = rig({ Test: ['CMD-SHELL', 'echo hi'], Interval: S }, ['/bin/ash', '-eo', 'pipefail', '-c']);
  r.hc.taskRunning(r.c);
  await advance(1000);
  assert.deepEqual(r.runner.calls, [['/bin/ash', '-eo', 'pipefail', '-c', 'echo hi']]);
  r.hc.shutdown([r.c]);

  for (const health of [{ Test: ['NONE'] }, {}, undefined]) {
    r = rig(health);
    r.hc.taskRunning(r.c);
    assert.equal(r.c.state.health, undefined);
    assert.equal(r.hc.isMonitoring(ID), false);
    await advance(31_000, 1000);
    assert.equal(r.runner.calls.length, 0);
  }
});

test('["CMD"] alone: each run fails with moby text', async () => {
  const { c, hc, runner } = rig({ Test: ['CMD'], Interval: S, Retries: 1 });
  hc.taskRunning(c);
  await advance(1000);
  assert.equal(runner.calls.length, 0);
  assert.equal(c.state.health?.Status, 'unhealthy');
  assert.deepEqual(
    c.state.health?.Log.map((e) => [e.ExitCode, e.Output]),
    [[-1, `healthcheck for container ${ID} has no command`]],
  );
  hc.shutdown([c]);
});

test('retries: unhealthy after Retries consecutive failures (any non-zero code), healthy again on success', async () => {
  const { c, hc, runner, changes } = rig({ Test: ['CMD', 'check'], Interval: S, Retries: 2 });
  runner.script.push({ code: 1 }, { code: 2 }, { code: 0 }, { code: 137 });
  hc.taskRunning(c);
  await advance(1000);
  assert.equal(c.state.health?.Status, 'starting');
  assert.equal(c.state.health?.FailingStreak, 1);
  await advance(1000);
  assert.equal(c.state.health?.Status, 'unhealthy');
  assert.equal(c.state.health?.FailingStreak, 2);
  await advance(1000);
  assert.equal(c.state.health?.Status, 'healthy');
  assert.equal(c.state.health?.FailingStreak, 0);
  await advance(1000);
  assert.equal(c.state.health?.Status, 'healthy');
  assert.equal(c.state.health?.FailingStreak, 1);
  assert.deepEqual(changes, ['unhealthy', 'healthy']);
  assert.deepEqual(
    c.state.health?.Log.map((e) => e.ExitCode),
    [1, 2, 0, 137],
  );
  hc.shutdown([c]);
});

test('Retries 0 means 3', async () => {
  const { c, hc, runner } = rig({ Test: ['CMD', 'check'], Interval: S, Retries: 0 });
  runner.script.push({ code: 1 }, { code: 1 }, { code: 1 });
  hc.taskRunning(c);
  await advance(2000);
  assert.equal(c.state.health?.Status, 'starting');
  await advance(1000);
  assert.equal(c.state.health?.Status, 'unhealthy');
  assert.equal(c.state.health?.FailingStreak, 3);
  hc.shutdown([c]);
});

test('start period: failures not counted, probes every StartInterval; a success ends it', async () => {
  const { c, hc, runner } = rig({ Test: ['CMD', 'check'], Interval: 5 * S, StartPeriod: 10 * S, StartInterval: 2 * S, Retries: 1 });
  runner.script.push({ code: 1 }, { code: 1 }, { code: 0 }, { code: 1 });
  hc.taskRunning(c);
  const started = Date.parse(c.state.startedAt);
  const at = (): number[] => (c.state.health?.Log ?? []).map((e) => Date.parse(e.Start) - started);
  await advance(4000);
  // Two failures inside the start period, at the start interval: still starting, no streak.
  assert.deepEqual(at(), [2000, 4000]);
  assert.equal(c.state.health?.Status, 'starting');
  assert.equal(c.state.health?.FailingStreak, 0);
  await advance(2000);
  assert.equal(c.state.health?.Status, 'healthy');
  // Healthy: the interval again, though still inside the start period; a failure now counts.
  await advance(5000);
  assert.deepEqual(at(), [2000, 4000, 6000, 11_000]);
  assert.equal(c.state.health?.Status, 'unhealthy');
  assert.equal(c.state.health?.FailingStreak, 1);
  hc.shutdown([c]);
});

test('start period over without a success: the interval, and failures count', async () => {
  const { c, hc, runner } = rig({ Test: ['CMD', 'check'], Interval: 3 * S, StartPeriod: 4 * S, StartInterval: S, Retries: 2 });
  for (let i = 0; i < 10; i++) runner.script.push({ code: 1 });
  hc.taskRunning(c);
  const started = Date.parse(c.state.startedAt);
  await advance(9000);
  const log = c.state.health?.Log ?? [];
  // 1, 2, 3 s inside the start period, then 4 s (the period is over: its failure counts) and 7 s.
  assert.deepEqual(
    log.map((e) => Date.parse(e.Start) - started),
    [1000, 2000, 3000, 4000, 7000],
  );
  assert.equal(c.state.health?.FailingStreak, 2);
  assert.equal(c.state.health?.Status, 'unhealthy');
  hc.shutdown([c]);
});

test('the interval counts from the end of the previous probe', async () => {
  const { c, hc, runner } = rig({ Test: ['CMD', 'slow'], Interval: S });
  runner.script.push({ code: 0, afterMs: 500 }, { code: 0, afterMs: 500 });
  hc.taskRunning(c);
  const started = Date.parse(c.state.startedAt);
  await advance(3000);
  const log = c.state.health?.Log ?? [];
  assert.deepEqual(
    log.slice(0, 2).map((e) => [Date.parse(e.Start) - started, Date.parse(e.End) - started]),
    [
      [1000, 1500],
      [2500, 3000],
    ],
  );
  hc.shutdown([c]);
});

test('timeout: the probe is killed and recorded as -1 with moby text, its output after the colon', async () => {
  const { c, hc, runner, timers } = rig({ Test: ['CMD', 'hang'], Interval: S, Timeout: 500_000_000, Retries: 1 });
  runner.script.push({ hang: true }, { hang: true, output: 'partial\n' });
  hc.taskRunning(c);
  await advance(1400);
  assert.deepEqual(runner.killed, []);
  await advance(200);
  assert.deepEqual(runner.killed, [1]);
  assert.equal(runner.running, 0);
  let e = c.state.health?.Log[0];
  assert.equal(e?.ExitCode, -1);
  assert.equal(e?.Output, 'Health check exceeded timeout (500ms)');
  assert.equal(c.state.health?.Status, 'unhealthy');
  await advance(1600);
  e = c.state.health?.Log[1];
  assert.equal(e?.Output, 'Health check exceeded timeout (500ms): partial\n');
  hc.shutdown([c]);
  assert.equal(timers.armed.size, 0);
});

test('timeout in Go duration words: 30s by default, 1m30s', async () => {
  for (const [timeout, text] of [
    [0, '30s'],
    [90 * S, '1m30s'],
  ] as const) {
    const { c, hc, runner } = rig({ Test: ['CMD', 'hang'], Interval: S, Timeout: timeout });
    runner.script.push({ hang: true });
    hc.taskRunning(c);
    await advance(1000 + (timeout === 0 ? 30_000 : 90_000) + 20, 500);
    assert.equal(c.state.health?.Log[0]?.Output, `Health check exceeded timeout (${text})`);
    hc.shutdown([c]);
  }
});

test('Log keeps the last 5 results, oldest first', async () => {
  const { c, hc, runner } = rig({ Test: ['CMD', 'n'], Interval: S });
  for (let i = 1; i <= 7; i++) runner.script.push({ code: 0, output: `run ${i}` });
  hc.taskRunning(c);
  await advance(7000);
  assert.deepEqual(
    c.state.health?.Log.map((e) => e.Output),
    ['run 3', 'run 4', 'run 5', 'run 6', 'run 7'],
  );
  hc.shutdown([c]);
});

test('output is capped at 4096 bytes, "..." marking what was dropped', () => {
  const exact = new ProbeOutput();
  exact.write(Buffer.alloc(MAX_OUTPUT_BYTES, 'a'));
  assert.equal(exact.toString(), 'a'.repeat(4096));
  const over = new ProbeOutput();
  over.write(Buffer.alloc(4000, 'b'));
  over.write(Buffer.alloc(200, 'c'));
  over.write(Buffer.alloc(1 << 20, 'd'));
  assert.equal(over.toString(), `${'b'.repeat(4000)}${'c'.repeat(96)}...`);
  // Invalid UTF-8 (a cut multibyte character) comes out as U+FFFD, as Go's JSON encoder writes it.
  const cut = new ProbeOutput();
  cut.write(Buffer.alloc(4095, 'e'));
  cut.write(Buffer.from('é'));
  assert.equal(cut.toString(), `${'e'.repeat(4095)}\ufffd...`);
});

test('a probe that cannot start is a -1 result with the error; one whose start hangs past 30s is killed when it comes', async () => {
  const { c, hc, runner, timers } = rig({ Test: ['CMD', 'x'], Interval: S, Retries: 5 });
  runner.script.push({ startFails: 'exec: "x": executable file not found in $PATH' }, { startHangs: true, hang: true });
  hc.taskRunning(c);
  await advance(1000);
  assert.deepEqual(
    c.state.health?.Log.map((e) => [e.ExitCode, e.Output]),
    [[-1, 'exec: "x": executable file not found in $PATH']],
  );
  await advance(31_000, 500);
  assert.deepEqual(c.state.health?.Log[1]?.Output, `timed out starting health check for container ${ID}`);
  runner.hungStarts[0]?.({} as ProbeProcess);
  await flush();
  assert.deepEqual(runner.killed, [2]);
  hc.shutdown([c]);
  assert.equal(timers.armed.size, 0);
});

test('pause stops the monitor (unhealthy, running probe killed, result dropped); unpause resumes it; a start resets to starting', async () => {
  const { c, hc, runner, timers, changes } = rig({ Test: ['CMD', 'x'], Interval: S, Retries: 3 });
  runner.script.push({ code: 0 }, { code: 1, afterMs: 800 });
  hc.taskRunning(c);
  await advance(1000);
  assert.equal(c.state.health?.Status, 'healthy');
  await advance(1300);
  // The second probe is running: pause now.
  c.state.paused = true;
  hc.update(c);
  assert.equal(hc.isMonitoring(ID), false);
  assert.deepEqual(runner.killed, [2]);
  await advance(5000, 100);
  assert.equal(runner.calls.length, 2);
  assert.equal(c.state.health?.Log.length, 1, 'the killed probe is not recorded');
  assert.equal(c.state.health?.Status, 'unhealthy');
  assert.equal(timers.armed.size, 0);
  assert.deepEqual(changes, ['healthy'], 'the stop itself publishes nothing');

  c.state.paused = false;
  hc.update(c);
  assert.equal(c.state.health?.Status, 'unhealthy');
  await advance(1000);
  assert.equal(runner.calls.length, 3);
  assert.equal(c.state.health?.Status, 'healthy');
  assert.deepEqual(changes, ['healthy', 'healthy']);

  // The task exits: stop; it starts again: starting, streak 0, Log kept.
  c.state.running = false;
  hc.stop(c);
  assert.equal(c.state.health?.Status, 'unhealthy');
  c.state.running = true;
  hc.taskRunning(c);
  assert.equal(c.state.health?.Status, 'starting');
  assert.equal(c.state.health?.FailingStreak, 0);
  assert.equal(c.state.health?.Log.length, 2);
  hc.shutdown([c]);
  assert.equal(timers.armed.size, 0);
});

test('taskRunning twice keeps one monitor; shutdown ends every monitor and kills the probe in flight', async () => {
  const { c, hc, runner, timers } = rig({ Test: ['CMD', 'x'], Interval: S });
  runner.script.push({ hang: true });
  hc.taskRunning(c);
  hc.taskRunning(c);
  await advance(1000);
  assert.equal(runner.calls.length, 1);
  hc.shutdown([c]);
  assert.deepEqual(runner.killed, [1]);
  assert.equal(hc.isMonitoring(ID), false);
  assert.equal(timers.armed.size, 0);
  await advance(5000, 500);
  assert.equal(runner.calls.length, 1);
});

test('an interval beyond setTimeout limit (30 days) is waited in steps, not fired at once', async () => {
  const { c, hc, runner } = rig({ Test: ['CMD', 'x'], Interval: 30n * 86_400n * BigInt(S) });
  hc.taskRunning(c);
  await advance(29 * 86_400_000, 3_600_000);
  assert.equal(runner.calls.length, 0);
  // (The mocked clock moves an hour at a time: the re-armed step starts up to an hour late.)
  await advance(86_400_000 + 7_200_000, 3_600_000);
  assert.equal(runner.calls.length, 1);
  hc.shutdown([c]);
});
