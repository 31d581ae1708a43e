import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metadata } from '@grpc/grpc-js';
import { GrpcStatus, isProcessGone } from '../../runtime/grpc-errors';

function serviceError(code: GrpcStatus, details: string): Error {
  return Object.assign(new Error(`${code} ${GrpcStatus[code]}: ${details}`), { code, details, metadata: new Metadata() });
}

test('a process that exited or is gone while a call ran is recognised as such', () => {
  assert.equal(isProcessGone(serviceError(GrpcStatus.UNKNOWN, 'cannot resize a stopped container: unknown')), true);
  assert.equal(isProcessGone(serviceError(GrpcStatus.NOT_FOUND, 'process abc: not found')), true);
  assert.equal(isProcessGone(serviceError(GrpcStatus.FAILED_PRECONDITION, 'container abc is not running')), true);
  assert.equal(isProcessGone(new Error('no running task found: task abc not found')), true);
});

test('other failures are not taken for an exit', () => {
  assert.equal(isProcessGone(serviceError(GrpcStatus.UNAVAILABLE, 'connection refused')), false);
  assert.equal(isProcessGone(serviceError(GrpcStatus.INVALID_ARGUMENT, 'invalid uint32: -1')), false);
  assert.equal(isProcessGone(new Error('EIO')), false);
});
