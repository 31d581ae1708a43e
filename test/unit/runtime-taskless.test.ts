// deleteContainer skips Tasks.Get only for containers this runtime knows have no task (made here
// and never started, or whose task it deleted itself), and Containers.Delete for those no start
// gave a record, so `docker rm` of a created container is two round trips shorter; never after a
// crash (a new runtime knows nothing) or a start.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import pino from 'pino';
import type { Containerd } from '../../runtime/containerd';
import { ContainerRuntime } from '../../runtime/tasks';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-taskless-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function notFound(): Error {
  return Object.assign(new Error('5 NOT_FOUND: no such task'), { code: status.NOT_FOUND, details: 'no such task' });
}

/** A containerd with no tasks at all; counts Tasks.Get; `gate` holds Tasks.Get back when set. */
function fakeContainerd() {
  const calls = { taskGet: 0, taskCreate: 0, containerDelete: 0 };
  let gate: Promise<void> | undefined;
  const ok = async (): Promise<object> => ({});
  const ctd = {
    containers: {
      create: ok,
      update: ok,
      delete: async () => {
        calls.containerDelete++;
        return {};
      },
    },
    snapshots: { prepare: ok, remove: ok, mounts: async () => ({ mounts: [] }) },
    tasks: {
      get: async () => {
        calls.taskGet++;
        await gate;
        throw notFound();
      },
      create: async () => {
        calls.taskCreate++;
        throw new Error('OCI runtime create failed: refused by the test: unknown');
      },
    },
  };
  const runtime = new ContainerRuntime({
    ctd: ctd as unknown as Containerd,
    fifoRoot: path.join(dir, `fifo-${Math.random().toString(16).slice(2)}`),
    logger: pino({ level: 'silent' }),
  });
  const hold = (p: Promise<void> | undefined): void => {
    gate = p;
  };
  return { runtime, calls, hold };
}

const create = (r: ContainerRuntime, id: string): Promise<void> => r.prepareRootfs(id, 'sha256:p');

test('a container created here and never started is removed without Tasks.Get', async () => {
  const { runtime, calls } = fakeContainerd();
  await create(runtime, 'c1');
  await runtime.deleteContainer('c1');
  assert.equal(calls.taskGet, 0);
});

test('a container never started has no containerd record to delete; once a start made it, it is deleted', async () => {
  const { runtime, calls } = fakeContainerd();
  await create(runtime, 'r1');
  await runtime.deleteContainer('r1');
  assert.equal(calls.containerDelete, 0);
  await create(runtime, 'r2');
  await runtime.putContainer('r2', { spec: {}, imageName: 'busybox:latest' }, true);
  await runtime.deleteContainer('r2');
  assert.equal(calls.containerDelete, 1);
  // A runtime that did not prepare it (a daemon restart) tries.
  const { runtime: next, calls: nextCalls } = fakeContainerd();
  await next.deleteContainer('r3');
  assert.equal(nextCalls.containerDelete, 1);
});

test('a container this runtime did not create (a daemon restart) is asked about', async () => {
  const { runtime, calls } = fakeContainerd();
  await runtime.deleteContainer('c2');
  assert.equal(calls.taskGet, 1);
  // The start-up reconcile's deleteTask saw no task: from then on it is known taskless.
  const { runtime: next, calls: nextCalls } = fakeContainerd();
  await next.deleteTask('c3');
  assert.equal(nextCalls.taskGet, 1);
  await next.deleteContainer('c3');
  assert.equal(nextCalls.taskGet, 1);
});

test('after a start attempt the task is asked about again', async () => {
  const { runtime, calls } = fakeContainerd();
  await create(runtime, 'c4');
  await assert.rejects(runtime.startTask('c4', { stdin: false, terminal: false }), /refused by the test/);
  assert.equal(calls.taskCreate, 1);
  await runtime.deleteContainer('c4');
  assert.equal(calls.taskGet, 1);
});

test('a deleteTask that overlapped a start marks nothing', async () => {
  const { runtime, calls, hold } = fakeContainerd();
  let release = (): void => undefined;
  hold(new Promise<void>((r) => (release = r)));
  const deleting = runtime.deleteTask('c5');
  // Tasks.Get of the delete is held; a start begins meanwhile (it fails, but a task may exist).
  await assert.rejects(runtime.startTask('c5', { stdin: false, terminal: false }), /refused by the test/);
  hold(undefined);
  release();
  await deleting;
  await runtime.deleteContainer('c5');
  assert.equal(calls.taskGet, 2);
});
