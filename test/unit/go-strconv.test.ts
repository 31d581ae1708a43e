// lib/go-strconv.ts: strconv.ParseBool and ParseFloat, with the NumError texts dockerd passes on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { atoi, parseBool, parseFloat64, parseGoInt, StrconvError, tryParseBool } from '../../lib/go-strconv';

const TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

test('parseBool takes exactly the twelve spellings of strconv.ParseBool', () => {
  for (const s of TRUE) assert.equal(parseBool(s), true, s);
  for (const s of FALSE) assert.equal(parseBool(s), false, s);
  for (const s of ['', 'yes', 'no', 'tRUE', 'on', ' true', 'true ', '01']) {
    assert.equal(tryParseBool(s), undefined, s);
    assert.throws(
      () => parseBool(s),
      (err: unknown) => err instanceof StrconvError && err.message === `strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`,
    );
  }
  fc.assert(
    fc.property(fc.string(), (s) => {
      const b = tryParseBool(s);
      assert.equal(b, TRUE.includes(s) ? true : FALSE.includes(s) ? false : undefined);
    }),
  );
});

test('parseFloat64 reads what strconv.ParseFloat reads', () => {
  const cases: Array<[string, number]> = [
    ['0', 0],
    ['1', 1],
    ['+1.5', 1.5],
    ['-.5', -0.5],
    ['5.', 5],
    ['1e3', 1000],
    ['1E-2', 0.01],
    ['1_000.5', 1000.5],
    ['0x1p-2', 0.25],
    ['0X1.8P1', 3],
    ['0x_1p0', 1],
    ['-0x.8p1', -1],
    ['inf', Infinity],
    ['-Infinity', -Infinity],
    ['+INF', Infinity],
    ['1e-400', 0],
  ];
  for (const [s, v] of cases) assert.equal(parseFloat64(s), v, s);
  assert.ok(Number.isNaN(parseFloat64('NaN')));
  for (const s of [
    '',
    ' 1',
    '1 ',
    '.',
    'e5',
    '1e',
    '1.2.3',
    '0x10',
    '0x1p',
    '1__0',
    '_1',
    '1_',
    '1_e5',
    '+nan',
    'infinit',
    '1,5',
    '0b1p0',
  ]) {
    assert.throws(() => parseFloat64(s), { message: `strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax` }, s);
  }
  assert.throws(() => parseFloat64('1e400'), { message: 'strconv.ParseFloat: parsing "1e400": value out of range' });
  assert.throws(() => parseFloat64('-0x1p2000'), { message: 'strconv.ParseFloat: parsing "-0x1p2000": value out of range' });
});

test('parseFloat64 round-trips every finite double and agrees with Number on plain decimals', () => {
  fc.assert(
    fc.property(
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
      (d) => {
        assert.equal(parseFloat64(String(d)), d);
        assert.equal(parseFloat64(d.toExponential()), d);
      },
    ),
  );
  const decimal = fc.stringMatching(/^[+-]?[0-9]{1,20}(\.[0-9]{0,20})?([eE][+-]?[0-9]{1,3})?$/);
  fc.assert(
    fc.property(decimal, (s) => {
      const n = Number(s);
      if (Number.isFinite(n)) assert.equal(parseFloat64(s), n);
      else assert.throws(() => parseFloat64(s), /value out of range/);
    }),
  );
});

test('parseFloat64 hexadecimal mantissas scale exactly by powers of two', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.integer({ min: -60, max: 60 }), (m, e) => {
      assert.equal(parseFloat64(`0x${m.toString(16)}p${e}`), m * 2 ** e);
    }),
  );
});

test('parseGoInt is strconv.ParseInt: bases, prefixes, underscores, ranges', () => {
  assert.equal(parseGoInt('-42'), -42n);
  assert.equal(parseGoInt('+7'), 7n);
  assert.equal(parseGoInt('007'), 7n);
  assert.equal(parseGoInt('0x1f', 0), 31n);
  assert.equal(parseGoInt('-0X_1F', 0), -31n);
  assert.equal(parseGoInt('0o17', 0), 15n);
  assert.equal(parseGoInt('017', 0), 15n);
  assert.equal(parseGoInt('0b101', 0), 5n);
  assert.equal(parseGoInt('1_000', 0), 1000n);
  assert.equal(parseGoInt('0', 0), 0n);
  assert.equal(parseGoInt('9223372036854775807'), 2n ** 63n - 1n);
  assert.equal(parseGoInt('-9223372036854775808'), -(2n ** 63n));
  assert.equal(parseGoInt('-2147483648', 10, 32), -(2n ** 31n));
  const syntax = (s: string, base = 10): void =>
    assert.throws(() => parseGoInt(s, base), { message: `strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax` }, s);
  for (const s of ['', '+', '-', ' 1', '1 ', '1_000', '0x10', '1.0', '1e3', '--1']) syntax(s);
  for (const s of ['0x', '0x_', '08', '_1', '1_', '1__0', '0b2', '0_x1']) syntax(s, 0);
  const range = (s: string, bits = 64): void =>
    assert.throws(() => parseGoInt(s, 10, bits), { message: `strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range` }, s);
  range('9223372036854775808');
  range('-9223372036854775809');
  range('2147483648', 32);
  // Go reports the overflow before it reaches the bad character.
  range('99999999999999999999x');
  assert.throws(() => atoi('x'), { message: 'strconv.Atoi: parsing "x": invalid syntax' });
  assert.throws(() => atoi('1e3'), { message: 'strconv.Atoi: parsing "1e3": invalid syntax' });
  assert.throws(() => atoi('9223372036854775808'), { message: 'strconv.Atoi: parsing "9223372036854775808": value out of range' });
  assert.equal(atoi('-12'), -12);
});

test('parseGoInt reads back every int64 in every base-0 spelling', () => {
  const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  fc.assert(
    fc.property(int64, (n) => {
      const sign = n < 0n ? '-' : '';
      const abs = n < 0n ? -n : n;
      assert.equal(parseGoInt(String(n)), n);
      assert.equal(parseGoInt(`${sign}0x${abs.toString(16)}`, 0), n);
      assert.equal(parseGoInt(`${sign}0o${abs.toString(8)}`, 0), n);
      assert.equal(parseGoInt(`${sign}0b${abs.toString(2)}`, 0), n);
      assert.equal(parseGoInt(`${sign}0${abs.toString(8)}`, 0), n);
    }),
  );
  fc.assert(
    fc.property(fc.bigInt({ min: 2n ** 63n, max: 2n ** 80n }), (n) => {
      assert.throws(() => parseGoInt(String(n)), /value out of range/);
      assert.throws(() => parseGoInt(String(-n - 1n)), /value out of range/);
    }),
  );
});
