// lib/go-quote.ts against strconv.Quote's outputs (taken from Go's strconv tests and fmt %q).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { goQuote } from '../../lib/go-quote';

test('goQuote escapes as strconv.Quote', () => {
  assert.equal(goQuote(''), '""');
  assert.equal(goQuote('abc'), '"abc"');
  assert.equal(goQuote('"\\'), '"\\"\\\\"');
  assert.equal(goQuote('\x07\b\f\n\r\t\v'), '"\\a\\b\\f\\n\\r\\t\\v"');
  assert.equal(goQuote('\x00\x01\x1f\x7f'), '"\\x00\\x01\\x1f\\x7f"');
  // Printable runes stay as they are; spaces other than U+0020, format and private-use runes do not.
  assert.equal(goQuote('héllo 世界 😀'), '"héllo 世界 😀"');
  assert.equal(goQuote('\u00a0\u2028\ufeff\ue000\u0085'), '"\\u00a0\\u2028\\ufeff\\ue000\\u0085"');
  assert.equal(goQuote('\u{10ffff}\u{e0001}'), '"\\U0010ffff\\U000e0001"');
  // A lone surrogate is what U+FFFD would be in Go: printable.
  assert.equal(goQuote('a\ud800b'), '"a\ufffdb"');
});

test('goQuote agrees with JSON.stringify on printable ASCII, and its output has no control characters', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }), (s) => {
      assert.equal(goQuote(s), JSON.stringify(s));
    }),
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const q = goQuote(s);
      assert.ok(q.startsWith('"') && q.endsWith('"'));
      assert.doesNotMatch(q, /[\x00-\x1f\x7f\u0080-\u009f\u2028\u2029]/);
    }),
  );
});
