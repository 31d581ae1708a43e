// Which failed etcd calls EtcdKv tries again: never a write that may have been applied.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GRPCDeadlineExceededError, GRPCUnavailableError, GRPCUnknownError } from 'etcd3';
import { retriable } from '../../store/cluster/etcd-kv';

test('a read is tried again on any UNAVAILABLE (an election under way), a write only when it never reached raft', () => {
  const leaderChanged = new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: leader changed');
  assert.equal(retriable(leaderChanged, true), true);
  assert.equal(retriable(leaderChanged, false), false);
  const noConnection = new GRPCUnavailableError('14 UNAVAILABLE: No connection established');
  assert.equal(retriable(noConnection, false), true);
  const dropped = new GRPCUnknownError('2 UNKNOWN: raft proposal dropped');
  assert.equal(retriable(dropped, false), true);
  assert.equal(retriable(new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: no leader'), false), true);
  // Timed out: the write may have been applied; the read had its whole deadline.
  const timedOut = new GRPCDeadlineExceededError(
    '4 DEADLINE_EXCEEDED: etcdserver: request timed out, possibly due to previous leader failure',
  );
  assert.equal(retriable(timedOut, false), false);
  assert.equal(retriable(timedOut, true), false);
  assert.equal(retriable(new Error('anything else'), true), false);
});
