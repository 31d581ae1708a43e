import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameter } from '../../lib/errors';
import {
  boolValue,
  boolValueOrDefault,
  int64ValueOrDefault,
  int64ValueOrZero,
  parseBool,
  queryString,
  queryValues,
  uint32Value,
} from '../../api/query';

test('BoolValue: only "", 0, no, false, none are false (any case, trimmed)', () => {
  for (const v of ['', '0', 'no', 'false', 'none', 'FALSE', ' No ', 'None']) assert.equal(parseBool(v), false, v);
  for (const v of ['1', 'true', 'yes', 'garbage', 'off', '2']) assert.equal(parseBool(v), true, v);
  assert.equal(parseBool(undefined), false);
});

test('boolValue reads the first value; the default applies only when the key is absent', () => {
  assert.equal(boolValue({ all: '1' }, 'all'), true);
  assert.equal(boolValue({ all: ['0', '1'] }, 'all'), false);
  assert.equal(boolValue({}, 'all'), false);
  assert.equal(boolValueOrDefault({}, 'stream', true), true);
  assert.equal(boolValueOrDefault({ stream: '' }, 'stream', true), false);
  assert.equal(boolValueOrDefault({ stream: 'false' }, 'stream', true), false);
  assert.equal(boolValueOrDefault({ stream: 'x' }, 'stream', false), true);
});

test('queryString and queryValues', () => {
  assert.equal(queryString({ a: ['x', 'y'] }, 'a'), 'x');
  assert.equal(queryString({ a: '' }, 'a'), '');
  assert.equal(queryString({}, 'a'), undefined);
  assert.deepEqual(queryValues({ a: ['x', 'y'] }, 'a'), ['x', 'y']);
  assert.deepEqual(queryValues({ a: 'x' }, 'a'), ['x']);
  assert.deepEqual(queryValues({}, 'a'), []);
});

function invalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => e instanceof InvalidParameter && e.message === message);
}

test('integers: 400 with Go strconv wording on garbage', () => {
  assert.equal(int64ValueOrDefault({ t: '10' }, 't', -1), 10);
  assert.equal(int64ValueOrDefault({ t: '-5' }, 't', -1), -5);
  assert.equal(int64ValueOrDefault({ t: '' }, 't', -1), -1);
  assert.equal(int64ValueOrDefault({}, 't', 7), 7);
  invalid(() => int64ValueOrDefault({ t: 'abc' }, 't', 0), 'strconv.ParseInt: parsing "abc": invalid syntax');
  invalid(() => int64ValueOrDefault({ t: '1.5' }, 't', 0), 'strconv.ParseInt: parsing "1.5": invalid syntax');
  invalid(
    () => int64ValueOrDefault({ t: '9223372036854775808' }, 't', 0),
    'strconv.ParseInt: parsing "9223372036854775808": value out of range',
  );
  assert.equal(int64ValueOrZero({ t: 'abc' }, 't'), 0);
  assert.equal(int64ValueOrZero({ t: '42' }, 't'), 42);
});

test('uint32Value mirrors httputils.Uint32Value', () => {
  assert.equal(uint32Value({ h: '24' }, 'h'), 24);
  assert.equal(uint32Value({ h: '4294967295' }, 'h'), 4294967295);
  invalid(() => uint32Value({ h: '4294967296' }, 'h'), 'value out of range');
  invalid(() => uint32Value({ h: '-1' }, 'h'), 'value out of range');
  invalid(() => uint32Value({ h: '+1' }, 'h'), 'invalid syntax');
  invalid(() => uint32Value({ h: '' }, 'h'), 'invalid syntax');
  invalid(() => uint32Value({}, 'h'), 'invalid syntax');
  invalid(() => uint32Value({ h: 'x' }, 'h'), 'invalid syntax');
});
