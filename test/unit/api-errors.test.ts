import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Conflict,
  Forbidden,
  InvalidParameter,
  NotFound,
  NotImplemented,
  NotModified,
  SystemError,
  Unauthorized,
  Unavailable,
} from '../../lib/errors';
import { STATUS_BY_KIND, toHttpError } from '../../api/errors';

test('every error kind maps to its status', () => {
  const cases: Array<[Error, number]> = [
    [new InvalidParameter('a'), 400],
    [new Unauthorized('a'), 401],
    [new Forbidden('a'), 403],
    [new NotFound('a'), 404],
    [new Conflict('a'), 409],
    [new NotModified(), 304],
    [new NotImplemented('a'), 501],
    [new Unavailable('a'), 503],
    [new SystemError('a'), 500],
  ];
  for (const [err, status] of cases) {
    const h = toHttpError(err);
    assert.equal(h.status, status, err.name);
    assert.equal(h.message, err.message);
    assert.equal(h.unexpected, false);
  }
  assert.equal(Object.keys(STATUS_BY_KIND).length, cases.length);
});

test('unknown errors are 500 and flagged for logging', () => {
  assert.deepEqual(toHttpError(new Error('boom')), { status: 500, message: 'boom', unexpected: true });
  assert.deepEqual(toHttpError('weird'), { status: 500, message: 'weird', unexpected: true });
});

test('fastify errors map sensibly', () => {
  const fst = (code: string, statusCode: number, message = 'x') => Object.assign(new Error(message), { code, statusCode });
  assert.deepEqual(toHttpError(fst('FST_ERR_CTP_BODY_TOO_LARGE', 413)), {
    status: 413,
    message: 'request body is too large',
    unexpected: false,
  });
  assert.deepEqual(toHttpError(fst('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415), 'a b'), {
    status: 400,
    message: 'malformed Content-Type header (a b): mime: expected slash after first token',
    unexpected: false,
  });
  assert.deepEqual(toHttpError(fst('FST_ERR_VALIDATION', 400, 'body must be object')), {
    status: 400,
    message: 'body must be object',
    unexpected: false,
  });
  assert.equal(toHttpError(fst('FST_ERR_SOMETHING', 500)).status, 500);
});

test('gRPC errors from below map like moby does', () => {
  const grpc = (code: number, details: string) => Object.assign(new Error(`${code} X: ${details}`), { code, details, metadata: {} });
  assert.deepEqual(toHttpError(grpc(5, 'container "x" not found')), { status: 404, message: 'container "x" not found', unexpected: false });
  assert.equal(toHttpError(grpc(6, 'exists')).status, 409);
  assert.equal(toHttpError(grpc(9, 'precondition')).status, 400);
  assert.equal(toHttpError(grpc(14, 'unavailable')).status, 503);
  assert.equal(toHttpError(grpc(13, 'internal')).status, 500);
});
