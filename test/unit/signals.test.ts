// moby's signal.ParseSignal and ValidSignalForPlatform, as kill/stop/restart apply them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameter } from '../../lib/errors';
import { parseSignal, parseSupportedSignal, validSignalForPlatform } from '../../daemon/signals';

test('ParseSignal: any non-zero int64 or a known name', () => {
  assert.equal(parseSignal('9'), 9);
  assert.equal(parseSignal('sigkill'), 9);
  assert.equal(parseSignal('RTMAX'), 64);
  assert.equal(parseSignal('-1'), -1);
  assert.equal(parseSignal('2147483648'), 2147483648);
  assert.equal(parseSignal('+5'), 5);
  for (const bad of ['0', '-0', 'FOO', '', '99999999999999999999', '-9223372036854775809', '1.5']) {
    assert.throws(
      () => parseSignal(bad),
      (e: unknown) => e instanceof InvalidParameter && e.message === `Invalid signal: ${bad}`,
      bad,
    );
  }
  assert.equal(parseSignal('9223372036854775807'), 9223372036854775807);
});

test('ValidSignalForPlatform: 1-31 and RTMIN..RTMAX only', () => {
  for (const ok of [1, 9, 15, 31, 34, 64]) assert.equal(validSignalForPlatform(ok), true, String(ok));
  for (const bad of [-1, 0, 32, 33, 65, 99, 2 ** 31, 2 ** 32 + 1, 1.5, NaN]) assert.equal(validSignalForPlatform(bad), false, String(bad));
});

test("kill: a parsed signal Linux does not have is a 400 with moby's text", () => {
  assert.equal(parseSupportedSignal('SIGUSR1'), 10);
  for (const [raw, shown] of [
    ['-1', '-1'],
    ['2147483648', '2147483648'],
    ['99', '99'],
    ['32', '32'],
  ]) {
    assert.throws(
      () => parseSupportedSignal(raw),
      (e: unknown) => e instanceof InvalidParameter && e.message === `the linux daemon does not support signal ${shown}`,
      raw,
    );
  }
  assert.throws(() => parseSupportedSignal('NOPE'), /^InvalidParameter: Invalid signal: NOPE$/);
});
