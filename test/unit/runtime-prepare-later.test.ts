// `docker create` answers before its rw snapshot exists (prepareRootfsLater): whatever reads or
// removes the snapshot meanwhile waits for the prepare, a failed prepare is redone (and its error
// reported) by the first start's ensureRootfs, and the runtime's close waits for it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import type { Containerd } from '../../runtime/containerd';
import { snapshotMounts, snapshotUsage } from '../../runtime/snapshots';
import { ContainerRuntime } from '../../runtime/tasks';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-prepare-later-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A containerd whose Snapshots.Prepare waits for the test; it logs every snapshot call in order. */
function fakeContainerd() {
  const calls: string[] = [];
  const snapshots = new Set<string>();
  const prepares: { key: string; settle: (err?: Error) => void }[] = [];
  const ctd = {
    snapshots: {
      prepare: ({ key }: { key: string }) =>
        new Promise<object>((resolve, reject) => {
          calls.push(`prepare ${key}`);
          prepares.push({
            key,
            settle: (err) => {
              if (err) return reject(err);
              snapshots.add(key);
              calls.push(`prepared ${key}`);
              resolve({});
            },
          });
        }),
      mounts: async ({ key }: { key: string }) => {
        calls.push(`mounts ${key} (${snapshots.has(key) ? 'there' : 'missing'})`);
        return { mounts: [] };
      },
      usage: async ({ key }: { key: string }) => {
        calls.push(`usage ${key}`);
        return { size: 0, inodes: 0 };
      },
      remove: async ({ key }: { key: string }) => {
        calls.push(`remove ${key} (${snapshots.has(key) ? 'there' : 'missing'})`);
        snapshots.delete(key);
        return {};
      },
    },
  };
  const runtime = new ContainerRuntime({
    ctd: ctd as unknown as Containerd,
    fifoRoot: path.join(dir, `fifo-${Math.random().toString(16).slice(2)}`),
    logger: pino({ level: 'silent' }),
  });
  /** Settles the oldest prepare still pending. */
  const settleNext = async (err?: Error): Promise<void> => {
    for (let i = 0; i < 20 && prepares.length === 0; i++) await new Promise((r) => setImmediate(r));
    const p = prepares.shift();
    assert.ok(p, 'a prepare is pending');
    p.settle(err);
  };
  return { ctd: ctd as unknown as Containerd, runtime, calls, settleNext };
}

test('reads and the removal of a snapshot being prepared wait for the prepare', async () => {
  const { ctd, runtime, calls, settleNext } = fakeContainerd();
  runtime.prepareRootfsLater('c1', 'sha256:p');
  const mounts = snapshotMounts(ctd, 'c1');
  const usage = snapshotUsage(ctd, 'c1');
  const removed = runtime.deleteContainer('c1');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, ['prepare c1'], 'nothing reached containerd before the prepare settled');
  await settleNext();
  await Promise.all([mounts, usage, removed]);
  assert.equal(calls[1], 'prepared c1');
  assert.deepEqual(calls.slice(2).sort(), ['mounts c1 (there)', 'remove c1 (there)', 'usage c1'].sort());
});

test('a failed prepare reads as a missing snapshot, and the first start prepares again and reports why not', async () => {
  const { ctd, runtime, calls, settleNext } = fakeContainerd();
  runtime.prepareRootfsLater('c2', 'sha256:p');
  await settleNext(new Error('no space left on device'));
  await snapshotMounts(ctd, 'c2');
  assert.deepEqual(calls, ['prepare c2', 'mounts c2 (missing)']);
  // The retry fails too: the start gets that error.
  const first = runtime.ensureRootfs('c2', 'sha256:p');
  await settleNext(new Error('no space left on device'));
  await assert.rejects(first, /no space left on device/);
  // Then succeeds; from then on ensureRootfs asks containerd nothing.
  const second = runtime.ensureRootfs('c2', 'sha256:p');
  await settleNext();
  await second;
  const before = calls.length;
  await runtime.ensureRootfs('c2', 'sha256:p');
  assert.equal(calls.length, before);
  await runtime.deleteContainer('c2');
  assert.equal(calls.at(-1), 'remove c2 (there)');
});

test('ensureRootfs of a container whose prepare went well asks containerd nothing more', async () => {
  const { runtime, calls, settleNext } = fakeContainerd();
  runtime.prepareRootfsLater('c3', 'sha256:p');
  const ensured = runtime.ensureRootfs('c3', 'sha256:p');
  await settleNext();
  await ensured;
  assert.deepEqual(calls, ['prepare c3', 'prepared c3']);
});

test('closing the runtime waits for the prepares in flight', async () => {
  const { runtime, calls, settleNext } = fakeContainerd();
  runtime.prepareRootfsLater('c4', 'sha256:p');
  let closed = false;
  const closing = runtime.close().then(() => (closed = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(closed, false);
  await settleNext();
  await closing;
  assert.deepEqual(calls, ['prepare c4', 'prepared c4']);
});
