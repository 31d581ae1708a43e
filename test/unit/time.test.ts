// lib/time.ts: Go's RFC 3339 layouts, and a nanosecond clock whose readings never go backwards
// (the container clock used to mix Date's milliseconds with unrelated hrtime digits).
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import fc from 'fast-check';
import {
  compareNanoTime,
  formatRFC3339,
  formatRFC3339Nano,
  formatRFC3339NanoFixed,
  nanoTimeOf,
  nowRFC3339Nano,
  parseRFC3339Nano,
  preciseNow,
  writeRFC3339Nano,
} from '../../lib/time';

test('RFC 3339 times: trimmed for files, fixed nine digits for the API', () => {
  const t = { sec: 1795875663, nsec: 586135378 };
  assert.equal(formatRFC3339Nano(t), '2026-11-28T14:21:03.586135378Z');
  assert.equal(formatRFC3339Nano({ sec: t.sec, nsec: 500000000 }), '2026-11-28T14:21:03.5Z');
  assert.equal(formatRFC3339Nano({ sec: t.sec, nsec: 120 }), '2026-11-28T14:21:03.00000012Z');
  assert.equal(formatRFC3339Nano({ sec: t.sec, nsec: 0 }), '2026-11-28T14:21:03Z');
  assert.equal(formatRFC3339NanoFixed({ sec: t.sec, nsec: 981000000 }), '2026-11-28T14:21:03.981000000Z');
  assert.equal(formatRFC3339NanoFixed({ sec: t.sec, nsec: 0 }), '2026-11-28T14:21:03.000000000Z');
  assert.equal(formatRFC3339(new Date(t.sec * 1000 + 999)), '2026-11-28T14:21:03Z');
  assert.equal(formatRFC3339(new Date(0)), '1970-01-01T00:00:00Z');
  assert.deepEqual(parseRFC3339Nano('2026-11-28T14:21:03.5Z'), { sec: t.sec, nsec: 500000000 });
  assert.deepEqual(parseRFC3339Nano('2026-11-28T16:21:03.0000000019+02:00'), { sec: t.sec, nsec: 1 });
  assert.equal(parseRFC3339Nano('2026-02-30T00:00:00Z'), undefined);
  assert.equal(parseRFC3339Nano('yesterday'), undefined);
});

test('RFC 3339 times parse back to what was formatted', () => {
  const time = fc.record({ sec: fc.integer({ min: 0, max: 253402300799 }), nsec: fc.integer({ min: 0, max: 999_999_999 }) });
  fc.assert(
    fc.property(time, ({ sec, nsec }) => {
      assert.deepEqual(parseRFC3339Nano(formatRFC3339Nano({ sec, nsec })), { sec, nsec });
      assert.deepEqual(parseRFC3339Nano(formatRFC3339NanoFixed({ sec, nsec })), { sec, nsec });
    }),
  );
  assert.deepEqual(nanoTimeOf(new Date(1500), 7), { sec: 1, nsec: 7 });
  assert.deepEqual(nanoTimeOf(new Date(1500)), { sec: 1, nsec: 500_000_000 });
});

test('writeRFC3339Nano writes the bytes of formatRFC3339Nano, and nothing past them', () => {
  const time = fc.record({
    sec: fc.integer({ min: 0, max: 253402300799 }),
    nsec: fc.oneof(fc.integer({ min: 0, max: 999_999_999 }), fc.constantFrom(0, 1, 10, 500_000_000, 999_999_999, 120)),
  });
  const buf = Buffer.alloc(40, 0xff);
  fc.assert(
    fc.property(time, fc.nat(8), (t, at) => {
      buf.fill(0xff);
      const end = writeRFC3339Nano(t, buf, at);
      const want = formatRFC3339Nano(t);
      assert.equal(buf.toString('latin1', at, end), want);
      assert.ok(buf.subarray(0, at).every((b) => b === 0xff) && buf.subarray(end).every((b) => b === 0xff));
    }),
  );
});

/** Spins until the monotonic clock has moved `ns` on, so preciseNow has to re-anchor. */
function spin(ns: bigint): void {
  const until = process.hrtime.bigint() + ns;
  while (process.hrtime.bigint() < until);
}

test('preciseNow increases while the wall clock stands still, and follows a step back', (t) => {
  mock.timers.enable({ apis: ['Date'], now: 1_800_000_000_000 });
  t.after(() => mock.timers.reset());
  const first = preciseNow();
  let prev = first;
  for (let i = 0; i < 5; i++) {
    spin(2_000_000n); // drift past a millisecond: the anchor is reset to the frozen Date
    const next = preciseNow();
    assert.ok(compareNanoTime(next, prev) > 0, `${JSON.stringify(prev)} then ${JSON.stringify(next)}`);
    assert.ok(next.sec - first.sec < 1);
    prev = next;
  }
  const printed = parseRFC3339Nano(nowRFC3339Nano());
  assert.ok(printed && compareNanoTime(printed, prev) > 0);
  mock.timers.setTime(1_800_000_000_000 - 60_000);
  assert.equal(preciseNow().sec, 1_800_000_000 - 60);
});
