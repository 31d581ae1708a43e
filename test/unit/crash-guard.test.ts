// The daemon outlives failures that concern one client or one container: the last-resort guard
// keeps running on per-connection errors only, and exit watching and restart timers log a store
// failure instead of leaving an unhandled rejection behind.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { installCrashGuard, isPerConnectionError } from '../../daemon/crash-guard';
import { LiveContainer, type LiveTask } from '../../daemon/containers/live-container';
import { initialState, type ContainerRecord } from '../../daemon/containers/model';
import { Monitor } from '../../daemon/containers/monitor';
import type { TaskIO } from '../../runtime/fifo';

const errno = (code: string): Error => Object.assign(new Error(code), { code });

test('per-connection errors are told apart from bugs', () => {
  for (const code of ['EPIPE', 'ECONNRESET', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END', 'PREMATURE_CLOSE']) {
    assert.equal(isPerConnectionError(errno(code)), true, code);
  }
  assert.equal(isPerConnectionError(new TypeError('x is undefined')), false);
  assert.equal(isPerConnectionError(errno('SQLITE_IOERR')), false);
  assert.equal(isPerConnectionError('EPIPE'), false);
  assert.equal(isPerConnectionError(undefined), false);
});

test('the guard keeps running on a dropped client and exits on anything else', () => {
  const handlers = new Map<string, (e: unknown) => void>();
  const logged: string[] = [];
  const exits: number[] = [];
  installCrashGuard(
    { warn: (_o, m) => logged.push(`warn ${m}`), fatal: (_o, m) => logged.push(`fatal ${m}`) },
    {
      on: (event: string, listener: (e: never) => void) => handlers.set(event, listener as (e: unknown) => void),
      exit: (code: number) => {
        exits.push(code);
      },
    },
  );
  handlers.get('uncaughtException')?.(errno('EPIPE'));
  handlers.get('unhandledRejection')?.(errno('ECONNRESET'));
  assert.deepEqual(exits, []);
  handlers.get('uncaughtException')?.(new TypeError('boom'));
  assert.deepEqual(exits, [1]);
  handlers.get('unhandledRejection')?.(errno('SQLITE_FULL'));
  assert.deepEqual(exits, [1, 1]);
  assert.equal(logged.filter((l) => l.startsWith('warn')).length, 2);
  assert.equal(logged.filter((l) => l.startsWith('fatal')).length, 2);
});

// ---------------------------------------------------------------- the exit monitor

const ID = 'c'.repeat(64);

interface Logged {
  level: string;
  msg: string;
}

function fakeMonitor(opts: { failSetStateAfter: number; restart: 'no' | 'always' }): {
  monitor: Monitor;
  c: LiveContainer;
  logged: Logged[];
} {
  const logged: Logged[] = [];
  const log =
    (level: string) =>
    (_obj: unknown, msg?: string): void => {
      logged.push({ level, msg: msg ?? '' });
    };
  const record = {
    id: ID,
    name: 'c',
    config: { Image: 'busybox' },
    hostConfig: { RestartPolicy: { Name: opts.restart } },
    mounts: [],
    networks: [],
  } as unknown as ContainerRecord;
  const c = new LiveContainer(record, { ...initialState(), running: true, pid: 42 });
  let setStates = 0;
  const monitor = new Monitor({
    runtime: {
      waitTask: () => Promise.resolve({ exitStatus: 1 }),
      deleteTask: () => Promise.resolve(),
    },
    store: {
      saveState: () => {
        if (++setStates > opts.failSetStateAfter) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      },
      tryGetById: (id) => (id === ID ? c : undefined),
    },
    publish: () => undefined,
    publishVolumes: () => undefined,
    tearDownNetwork: () => Promise.resolve(),
    stopHealth: () => undefined,
    // A restart fails at once: the failure path writes the state, which fails too.
    startTask: () => Promise.reject(new Error('containerd is gone')),
    autoRemove: () => Promise.resolve(),
    logger: { error: log('error'), warn: log('warn') },
  });
  return { monitor, c, logged };
}

function task(): LiveTask {
  return {
    io: { close: () => Promise.resolve() } as unknown as TaskIO,
    copier: { done: () => Promise.resolve() },
    startedMs: Date.now(),
    exited: Promise.resolve(),
  };
}

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});

afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  mock.timers.reset();
});

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
};

test('exit watching: a store that fails is logged, the watch resolves', async () => {
  const { monitor, c, logged } = fakeMonitor({ failSetStateAfter: 0, restart: 'no' });
  await monitor.follow(c, task());
  await settle();
  assert.deepEqual(unhandled, []);
  assert.ok(
    logged.some((l) => l.level === 'error' && /exit/.test(l.msg)),
    JSON.stringify(logged),
  );
});

test('restart timer: a restart whose store write fails is logged, not an unhandled rejection', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  // The exit's note (before the task's delete), the exit and the "restarting" state are stored;
  // the write after the failed restart is not.
  const { monitor, c, logged } = fakeMonitor({ failSetStateAfter: 3, restart: 'always' });
  await monitor.follow(c, task());
  mock.timers.tick(60_000);
  await settle();
  assert.deepEqual(unhandled, []);
  assert.ok(
    logged.some((l) => l.level === 'error' && /restart failed/.test(l.msg)),
    JSON.stringify(logged),
  );
});
