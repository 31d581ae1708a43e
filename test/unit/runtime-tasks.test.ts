// Pure parts of the task layer: start-error classification, event decoding, metrics decoding.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameter, SystemError } from '../../lib/errors';
import { TaskDelete, TaskExit, TaskOOM, TaskPaused, TaskStart } from '../../runtime/gen/github.com/containerd/containerd/api/events/task';
import { Metrics as V1Metrics } from '../../runtime/gen/metrics/github.com/containerd/cgroups/stats/v1/metrics';
import { Metrics as V2Metrics } from '../../runtime/gen/metrics/github.com/containerd/cgroups/v2/stats/metrics';
import { classifyStartError, CREATE_TASK_PREFIX, InvalidStartConfig, isStartFailure, StartFailed } from '../../runtime/start-errors';
import { decodeTaskEvent, taskEventFilters } from '../../runtime/task-events';
import { decodeMetrics, jsonAny } from '../../runtime/tasks';

const NOT_FOUND_MSG =
  'failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "nosuchcmd": executable file not found in $PATH: unknown';

test('start errors are classified as moby does', () => {
  const notFound = classifyStartError(CREATE_TASK_PREFIX + NOT_FOUND_MSG, NOT_FOUND_MSG);
  assert.ok(notFound instanceof InvalidStartConfig && notFound instanceof InvalidParameter);
  assert.equal(notFound.exitCode, 127);
  assert.equal(notFound.message, `failed to create task for container: ${NOT_FOUND_MSG}`);
  assert.equal(notFound.runtimeMessage, NOT_FOUND_MSG);
  assert.ok(isStartFailure(notFound));

  const noFile = classifyStartError('exec: "/x": stat /x: No such file or directory: unknown');
  assert.equal(noFile.exitCode, 127);
  assert.ok(noFile instanceof InvalidParameter);

  const denied = classifyStartError('exec: "/etc/passwd": permission denied: unknown');
  assert.equal(denied.exitCode, 126);
  assert.ok(denied instanceof InvalidParameter);
  // EACCES is checked first, like moby.
  assert.equal(classifyStartError('no such file or directory ... permission denied').exitCode, 126);

  const dir = classifyStartError('exec: "/tmp": is a directory: unknown');
  assert.equal(dir.exitCode, 126);
  assert.equal(dir.message, 'exec: "/tmp": is a directory: unknown: permission denied');

  const notDir = classifyStartError('mounting "/a" to rootfs at "/b": not a directory: unknown');
  assert.equal(notDir.exitCode, 127);
  assert.match(notDir.message, /not a directory: unknown: Are you trying to mount a directory onto a file \(or vice-versa\)\?/);

  const other = classifyStartError('OCI runtime create failed: cgroup setup: device or resource busy: unknown');
  assert.ok(other instanceof StartFailed && other instanceof SystemError);
  assert.equal(other.exitCode, 128);
  assert.equal(other.kind, 'System');
  assert.ok(!isStartFailure(new SystemError('x')));
});

function envelope(typeUrl: string, value: Uint8Array, topic = '/tasks/x'): Parameters<typeof decodeTaskEvent>[0] {
  return { timestamp: new Date('2025-01-02T03:04:05Z'), namespace: 'ns', topic, event: { typeUrl, value: Buffer.from(value) } };
}

test('task events decode from envelopes', () => {
  const exitedAt = new Date('2025-01-02T03:04:04.5Z');
  const init = decodeTaskEvent(
    envelope('containerd.events.TaskExit', TaskExit.encode({ containerId: 'c1', id: 'c1', pid: 42, exitStatus: 3, exitedAt }).finish()),
  );
  assert.deepEqual(init, {
    kind: 'exit',
    containerId: 'c1',
    pid: 42,
    exitStatus: 3,
    exitedAt,
    timestamp: new Date('2025-01-02T03:04:05Z'),
  });
  const exec = decodeTaskEvent(
    envelope(
      'types.googleapis.com/containerd.events.TaskExit',
      TaskExit.encode({ containerId: 'c1', id: 'e7', pid: 43, exitStatus: 7, exitedAt }).finish(),
    ),
  );
  assert.equal(exec?.kind, 'exit');
  assert.equal(exec?.kind === 'exit' ? exec.execId : undefined, 'e7');

  assert.deepEqual(decodeTaskEvent(envelope('containerd.events.TaskOOM', TaskOOM.encode({ containerId: 'c2' }).finish())), {
    kind: 'oom',
    containerId: 'c2',
    timestamp: new Date('2025-01-02T03:04:05Z'),
  });
  assert.equal(
    decodeTaskEvent(envelope('containerd.events.TaskPaused', TaskPaused.encode({ containerId: 'c3' }).finish()))?.kind,
    'paused',
  );
  const start = decodeTaskEvent(envelope('containerd.events.TaskStart', TaskStart.encode({ containerId: 'c4', pid: 9 }).finish()));
  assert.deepEqual(start && start.kind === 'start' ? [start.containerId, start.pid] : undefined, ['c4', 9]);
  const del = decodeTaskEvent(
    envelope('containerd.events.TaskDelete', TaskDelete.encode({ containerId: 'c5', id: 'c5', pid: 9, exitStatus: 137 }).finish()),
  );
  assert.equal(del?.kind, 'delete');
  assert.equal(del?.kind === 'delete' ? del.exitStatus : -1, 137);
  assert.equal(del?.kind === 'delete' ? del.execId : 'x', undefined);

  assert.equal(decodeTaskEvent(envelope('containerd.events.ContainerCreate', Buffer.from([]))), undefined);
  assert.equal(decodeTaskEvent(envelope('containerd.events.ImageCreate', Buffer.from([10, 1, 97]))), undefined);
});

test('event filters are namespaced (the subscribe header is ignored by containerd)', () => {
  assert.deepEqual(taskEventFilters('berth', 'berth'), [
    'namespace==berth,topic~="^/tasks/"',
    'namespace==berth,topic=="/berth/events-ready"',
  ]);
});

test('metrics decode by cgroup version with bigint counters', () => {
  const unlimited = 9223372036854771712n;
  const v1 = decodeMetrics({
    typeUrl: 'io.containerd.cgroups.v1.Metrics',
    value: Buffer.from(
      V1Metrics.encode({ memory: { usage: { usage: 123n, limit: unlimited } }, pids: { current: 2n, limit: 0n } }).finish(),
    ),
  });
  assert.equal(v1?.cgroup, 'v1');
  assert.equal(v1?.cgroup === 'v1' ? v1.data.memory?.usage?.limit : undefined, unlimited);
  assert.equal(v1?.cgroup === 'v1' ? v1.data.pids?.current : undefined, 2n);
  const v2 = decodeMetrics({
    typeUrl: 'types.googleapis.com/io.containerd.cgroups.v2.Metrics',
    value: Buffer.from(V2Metrics.encode({ pids: { current: 5n, limit: 10n } }).finish()),
  });
  assert.equal(v2?.cgroup === 'v2' ? v2.data.pids?.limit : undefined, 10n);
  assert.equal(decodeMetrics(undefined), undefined);
  assert.throws(() => decodeMetrics({ typeUrl: 'x.Other', value: Buffer.from([]) }), /unknown metrics type/);
  assert.deepEqual(jsonAny('t/x', { a: 1 }), { typeUrl: 't/x', value: Buffer.from('{"a":1}') });
});
