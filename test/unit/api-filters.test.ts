import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameter } from '../../lib/errors';
import { Filters, parseTimestamp, parseUnixTimestamp } from '../../api/filters';
import { tryParseGoDuration as parseGoDuration } from '../../daemon/go-duration';

function invalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InvalidParameter, `expected InvalidParameter, got ${String(e)}`);
    assert.equal(e.message, message);
    return true;
  });
}

test('both JSON forms parse to the same filters', () => {
  const current = Filters.fromJSON('{"label":{"a=b":true,"c":true},"dangling":{"true":true}}');
  const legacy = Filters.fromJSON('{"label":["a=b","c"],"dangling":["true"]}');
  for (const f of [current, legacy]) {
    assert.deepEqual(f.get('label'), ['a=b', 'c']);
    assert.deepEqual(f.get('dangling'), ['true']);
    assert.equal(f.has('label'), true);
    assert.equal(f.has('name'), false);
    assert.deepEqual(f.get('name'), []);
    assert.deepEqual(f.keys().sort(), ['dangling', 'label']);
  }
});

test('empty, absent and null mean no filters', () => {
  assert.equal(Filters.fromJSON('').size, 0);
  assert.equal(Filters.fromJSON(undefined).size, 0);
  assert.equal(Filters.fromJSON('{}').size, 0);
  assert.equal(Filters.fromJSON('null').size, 0);
  assert.equal(Filters.fromQuery({}).size, 0);
  assert.deepEqual(Filters.fromQuery({ filters: '{"id":["abc"]}' }).get('id'), ['abc']);
});

test('bad JSON and wrong shapes are "invalid filter"', () => {
  for (const bad of ['xx', '{"a":', '[]', '"s"', '1', '{"a":"b"}', '{"a":[1]}', '{"a":{"b":"true"}}', '{"a":["x"],"b":{"y":true}}']) {
    invalid(() => Filters.fromJSON(bad), 'invalid filter');
  }
});

test('validate rejects unknown keys with dockerd wording', () => {
  const f = Filters.fromJSON('{"name":["x"],"foo":["a"]}');
  invalid(() => f.validate(['name', 'id']), "invalid filter 'foo'");
  assert.doesNotThrow(() => f.validate(['name', 'foo']));
});

test('exact, unique, fuzzy and regex matching', () => {
  const f = Filters.fromJSON('{"id":["abc"],"name":["^web-[0-9]+$","db"]}');
  assert.equal(f.exactMatch('id', 'abc'), true);
  assert.equal(f.exactMatch('id', 'abcdef'), false);
  assert.equal(f.exactMatch('status', 'anything'), true); // no filter: everything matches
  assert.equal(f.fuzzyMatch('id', 'abcdef'), true);
  assert.equal(f.fuzzyMatch('id', 'xabc'), false);
  assert.equal(f.match('name', 'web-12'), true);
  assert.equal(f.match('name', 'web-x'), false);
  assert.equal(f.match('name', 'mydb1'), true); // unanchored, like Go's regexp.MatchString
  assert.equal(f.uniqueExactMatch('id', 'abc'), true);
  assert.equal(f.uniqueExactMatch('name', 'db'), false); // two values
  const bad = Filters.fromJSON('{"name":["(unclosed"]}');
  assert.equal(bad.match('name', 'x(unclosed'), false);
  assert.equal(bad.match('name', '(unclosed'), true); // exact still matches
});

test('boolValue follows GetBoolOrDefault', () => {
  assert.equal(Filters.fromJSON('{}').boolValue('dangling', false), false);
  assert.equal(Filters.fromJSON('{"dangling":["true"]}').boolValue('dangling', false), true);
  assert.equal(Filters.fromJSON('{"dangling":["1"]}').boolValue('dangling', false), true);
  assert.equal(Filters.fromJSON('{"dangling":["false"]}').boolValue('dangling', true), false);
  assert.equal(Filters.fromJSON('{"dangling":{"0":true}}').boolValue('dangling', true), false);
  invalid(() => Filters.fromJSON('{"dangling":["foo"]}').boolValue('dangling', false), "invalid filter 'dangling=[foo]'");
  invalid(() => Filters.fromJSON('{"dangling":["true","false"]}').boolValue('dangling', false), "invalid filter 'dangling=[true false]'");
  invalid(() => Filters.fromJSON('{"dangling":[]}').boolValue('dangling', false), "invalid filter 'dangling'");
});

test('label matching: key, key=value, and label! exclusion', () => {
  const labels = { app: 'web', tier: 'front' };
  assert.equal(Filters.fromJSON('{}').matchLabels(labels), true);
  assert.equal(Filters.fromJSON('{"label":["app"]}').matchLabels(labels), true);
  assert.equal(Filters.fromJSON('{"label":["app=web"]}').matchLabels(labels), true);
  assert.equal(Filters.fromJSON('{"label":["app=db"]}').matchLabels(labels), false);
  assert.equal(Filters.fromJSON('{"label":["app=web","tier=front"]}').matchLabels(labels), true);
  assert.equal(Filters.fromJSON('{"label":["app=web","other"]}').matchLabels(labels), false);
  assert.equal(Filters.fromJSON('{"label":["app"]}').matchLabels({}), false);
  assert.equal(Filters.fromJSON('{"label":["app"]}').matchLabels(undefined), false);
  assert.equal(Filters.fromJSON('{"label":["a=b=c"]}').matchLabels({ a: 'b=c' }), true);
  // label!=...: everything carrying the label (or label=value) is excluded
  assert.equal(Filters.fromJSON('{"label!":["app"]}').matchLabels(labels), false);
  assert.equal(Filters.fromJSON('{"label!":["app=db"]}').matchLabels(labels), true);
  assert.equal(Filters.fromJSON('{"label!":["keep"]}').matchLabels({}), true);
  // other keys work the same way (volume and network "driver-opt"-style lists)
  assert.equal(Filters.fromJSON('{"opt":["x=1"]}').matchLabels({ x: '1' }, 'opt'), true);
});

test('Go durations', () => {
  assert.equal(parseGoDuration('10m'), 600_000_000_000n);
  assert.equal(parseGoDuration('1h30m'), 5_400_000_000_000n);
  assert.equal(parseGoDuration('1.5h'), 5_400_000_000_000n);
  assert.equal(parseGoDuration('300ms'), 300_000_000n);
  assert.equal(parseGoDuration('-2s'), -2_000_000_000n);
  assert.equal(parseGoDuration('0'), 0n);
  assert.equal(parseGoDuration('10'), undefined);
  assert.equal(parseGoDuration('.s'), undefined);
  assert.equal(parseGoDuration('1x'), undefined);
  assert.equal(parseGoDuration(''), undefined);
});

test('timestamps as moby timestamp.Parse reads them', () => {
  const ref = new Date('2024-03-10T12:00:00Z');
  assert.equal(parseTimestamp('10m', ref).toMillis(), ref.getTime() - 600_000);
  assert.equal(parseTimestamp('1700000000', ref).toUnixString(), '1700000000.000000000');
  assert.equal(parseTimestamp('1700000000.5', ref).toUnixString(), '1700000000.500000000');
  assert.equal(parseTimestamp('1700000000.123456789123', ref).toUnixString(), '1700000000.123456789');
  assert.equal(parseTimestamp('0', ref).toUnixString(), '0.000000000');
  assert.equal(parseTimestamp('2024-01-02T03:04:05Z', ref).toMillis(), Date.UTC(2024, 0, 2, 3, 4, 5));
  assert.equal(parseTimestamp('2024-01-02T03:04:05.25+02:00', ref).toMillis(), Date.UTC(2024, 0, 2, 1, 4, 5, 250));
  assert.equal(parseTimestamp('2024-01-02T03:04:05.123456789Z', ref).toUnixString(), `${Date.UTC(2024, 0, 2, 3, 4, 5) / 1000}.123456789`);
  assert.equal(parseTimestamp('2024-01-02T03Z', ref).toMillis(), Date.UTC(2024, 0, 2, 3));
  assert.equal(parseTimestamp('2024-01-02T03:04-01:00', ref).toMillis(), Date.UTC(2024, 0, 2, 4, 4));
  assert.equal(parseTimestamp('2024-01-02Z', ref).toMillis(), Date.UTC(2024, 0, 2));
  // No zone: local time of the reference's zone.
  const offset = -ref.getTimezoneOffset() * 60_000;
  assert.equal(parseTimestamp('2024-01-02', ref).toMillis(), Date.UTC(2024, 0, 2) - offset);
  assert.equal(parseTimestamp('2024-01-02T03:04:05', ref).toMillis(), Date.UTC(2024, 0, 2, 3, 4, 5) - offset);
  assert.equal(parseTimestamp('2024-01-02T03:04', ref).toMillis(), Date.UTC(2024, 0, 2, 3, 4) - offset);
  assert.equal(parseTimestamp('2024-01-02T03', ref).toMillis(), Date.UTC(2024, 0, 2, 3) - offset);
});

test('bad timestamps are InvalidParameter with moby wording', () => {
  const ref = new Date();
  invalid(() => parseTimestamp('', ref), 'failed to parse value as time or duration: value is empty');
  invalid(() => parseTimestamp('abc', ref), 'failed to parse value as time or duration: invalid seconds "abc": invalid syntax');
  invalid(
    () => parseTimestamp('1.2x', ref),
    "failed to parse value as time or duration: invalid nanoseconds: invalid character 'x' at position 1",
  );
  assert.throws(
    () => parseTimestamp('2024-13-01', ref),
    (e: unknown) => e instanceof InvalidParameter && /month out of range/.test(e.message),
  );
  assert.throws(
    () => parseTimestamp('2023-02-29', ref),
    (e: unknown) => e instanceof InvalidParameter && /day out of range/.test(e.message),
  );
  assert.equal(parseTimestamp('2024-02-29', new Date(Date.UTC(2024, 0, 1))).toMillis() > 0, true);
  assert.equal(parseUnixTimestamp(''), undefined);
  assert.equal(parseUnixTimestamp('12.5')?.toUnixString(), '12.500000000');
  invalid(() => parseUnixTimestamp('1h'), 'invalid timestamp "1h": invalid seconds "1h": invalid syntax');
});
