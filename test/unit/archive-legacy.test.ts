import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goCompact, goObject, goTime, topLevelMembers } from '../../daemon/images/archive-legacy';

test("goCompact drops whitespace outside strings and escapes as Go's encoder", () => {
  assert.equal(goCompact('{ "a" : [1, 2],\n "b": "x <y> & z\u2028 \\" q" }'), '{"a":[1,2],"b":"x \\u003cy\\u003e \\u0026 z\\u2028 \\" q"}');
  assert.equal(goCompact('"\\\\"'), '"\\\\"');
});

test('topLevelMembers splits an object into raw member values, the last repeat winning', () => {
  const m = topLevelMembers(goCompact('{"a":{"b":[1,{"c":"},]"}]},"s":"q\\"uote,}","n":1.50e3,"a":null}'));
  assert.deepEqual(
    [...m],
    [
      ['a', 'null'],
      ['s', '"q\\"uote,}"'],
      ['n', '1.50e3'],
    ],
  );
});

test('goObject sorts keys by bytes', () => {
  assert.equal(
    goObject(
      new Map([
        ['b', '1'],
        ['B', '2'],
        ['a', '"x"'],
      ]),
    ),
    '{"B":2,"a":"x","b":1}',
  );
});

test('goTime writes times back as Go marshals them', () => {
  assert.equal(goTime('2015-06-01T10:00:00.123000000Z'), '2015-06-01T10:00:00.123Z');
  assert.equal(goTime('2015-06-01T10:00:00.000Z'), '2015-06-01T10:00:00Z');
  assert.equal(goTime('2015-06-01T10:00:00+00:00'), '2015-06-01T10:00:00Z');
  assert.equal(goTime('2015-06-01T10:00:00-07:00'), '2015-06-01T10:00:00-07:00');
  assert.equal(goTime(''), '0001-01-01T00:00:00Z');
});
