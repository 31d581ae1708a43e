// lib/units.ts against docker/go-units v0.5.0's parseSize and HumanSize (cases from its tests).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fromHumanSize, humanSize, ramInBytes } from '../../lib/units';

test('fromHumanSize: decimal multiples, whatever the suffix', () => {
  const cases: Array<[string, number]> = [
    ['32', 32],
    ['32b', 32],
    ['32B', 32],
    ['32k', 32_000],
    ['32Kb', 32_000],
    ['32 KiB', 32_000],
    ['32Mb', 32e6],
    ['32.5 kB', 32_500],
    ['32.5 B', 32],
    ['0.3 K', 300],
    ['1e3', 1000],
    ['10 m', 10_000_000],
  ];
  for (const [s, v] of cases) assert.equal(fromHumanSize(s), v, s);
});

test('ramInBytes: binary multiples', () => {
  const cases: Array<[string, number]> = [
    ['32', 32],
    ['32k', 32 * 1024],
    ['32KIB', 32 * 1024],
    ['32Mb', 32 * 2 ** 20],
    ['32P', 32 * 2 ** 50],
    ['32.3', 32],
    ['32.3 mb', Math.trunc(32.3 * 2 ** 20)],
    ['0.3MB', Math.trunc(0.3 * 2 ** 20)],
    ['64m', 64 * 2 ** 20],
  ];
  for (const [s, v] of cases) assert.equal(ramInBytes(s), v, s);
  // Go's int64() of an out-of-range float on amd64.
  assert.equal(ramInBytes('10000p'), -(2 ** 63));
});

test('size errors carry go-units and strconv texts', () => {
  const fails: Array<[string, string]> = [
    ['', "invalid size: ''"],
    ['hello', "invalid size: 'hello'"],
    ['-32', "invalid size: '-32'"],
    ['1.2.3', 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'],
    ['1.2.3k', 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'],
    ['1mb2', 'strconv.ParseFloat: parsing "1mb2": invalid syntax'],
    [' 32 ', 'strconv.ParseFloat: parsing " 32": invalid syntax'],
    ['32m b', 'strconv.ParseFloat: parsing "32m": invalid syntax'],
    ['32bm', "invalid suffix: 'bm'"],
    ['1kbb', "invalid suffix: 'kbb'"],
    ['1kibb', "invalid suffix: 'kibb'"],
    ['1x', "invalid suffix: 'x'"],
    ['1ki', "invalid suffix: 'ki'"],
    ['1kab', "invalid suffix: 'kab'"],
    ['1e400', 'strconv.ParseFloat: parsing "1e400": value out of range'],
  ];
  for (const [s, msg] of fails) {
    assert.throws(() => ramInBytes(s), { message: msg }, s);
    assert.throws(() => fromHumanSize(s), { message: msg }, s);
  }
});

test('sizes: every unit spelling of a whole number', () => {
  const unit = fc.constantFrom(
    ['', 1, 1],
    ['b', 1, 1],
    ['k', 1e3, 2 ** 10],
    ['m', 1e6, 2 ** 20],
    ['g', 1e9, 2 ** 30],
    ['t', 1e12, 2 ** 40],
  );
  const spelling = fc.tuple(fc.constantFrom('', ' '), fc.constantFrom('', 'b', 'ib'), fc.boolean());
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4096 }), unit, spelling, (n, [u, dec, bin], [space, tail, upper]) => {
      const suffix = u === '' || u === 'b' ? u : u + tail;
      const text = `${n}${suffix === '' ? '' : space}${upper ? suffix.toUpperCase() : suffix}`;
      assert.equal(fromHumanSize(text), n * dec, text);
      assert.equal(ramInBytes(text), n * bin, text);
    }),
  );
});

test('humanSize prints four significant digits in decimal units', () => {
  const cases: Array<[number, string]> = [
    [0, '0B'],
    [999, '999B'],
    [1000, '1kB'],
    [1024, '1.024kB'],
    [1048576, '1.049MB'],
    [2e6, '2MB'],
    [3.42e9, '3.42GB'],
    [5.372e12, '5.372TB'],
    [2.22e15, '2.22PB'],
    [999_950, '1000kB'],
    [1e28, '1e+04YB'],
  ];
  for (const [n, s] of cases) assert.equal(humanSize(n), s, String(n));
  fc.assert(
    fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (n) => {
      const back = fromHumanSize(humanSize(n));
      assert.ok(Math.abs(back - n) <= n * 5e-4 + 1, `${n} ${humanSize(n)} ${back}`);
    }),
  );
});
