// lib/go-strconv.ts: strconv.ParseBool and ParseFloat, with the NumError texts dockerd passes on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseBool, parseFloat64, StrconvError, tryParseBool } from '../../lib/go-strconv';

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
