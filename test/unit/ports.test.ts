// lib/ports.ts against moby's network.ParsePortRange.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parsePortRange, tryParsePortRange } from '../../lib/ports';

test('parsePortRange reads a port, a range and a protocol', () => {
  assert.deepEqual(parsePortRange('80'), { start: 80, end: 80, proto: 'tcp' });
  assert.deepEqual(parsePortRange('8000-8010'), { start: 8000, end: 8010, proto: 'tcp' });
  assert.deepEqual(parsePortRange('53/UDP'), { start: 53, end: 53, proto: 'udp' });
  assert.deepEqual(parsePortRange('80/'), { start: 80, end: 80, proto: 'tcp' });
  assert.deepEqual(parsePortRange('0'), { start: 0, end: 0, proto: 'tcp' });
  assert.deepEqual(parsePortRange('007-007'), { start: 7, end: 7, proto: 'tcp' });
  assert.deepEqual(parsePortRange('7-07'), { start: 7, end: 7, proto: 'tcp' });
});

test("parsePortRange's errors are moby's", () => {
  const fails: Array<[string, string]> = [
    ['', 'invalid port range: value is empty'],
    ['/tcp', "invalid start port '': value is empty"],
    ['-80', "invalid start port '': value is empty"],
    ['80-', "invalid end port '': value is empty"],
    ['+80', "invalid start port '+80': invalid syntax"],
    [' 80', "invalid start port ' 80': invalid syntax"],
    ['65536', "invalid start port '65536': value out of range"],
    ['1-2-3', "invalid end port '2-3': invalid syntax"],
    ['90-80', 'invalid port range: 90-80'],
    ['90-80/udp', 'invalid port range: 90-80/udp'],
  ];
  for (const [s, message] of fails) {
    assert.throws(() => parsePortRange(s), { message }, s);
    assert.equal(tryParsePortRange(s), undefined);
  }
});

test('every ordered pair of ports is a range, every reversed one is refused', () => {
  const port = fc.integer({ min: 0, max: 65535 });
  fc.assert(
    fc.property(port, port, fc.constantFrom('', '/tcp', '/udp', '/SCTP'), (a, b, proto) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      assert.deepEqual(parsePortRange(`${lo}-${hi}${proto}`), {
        start: lo,
        end: hi,
        proto: proto === '' ? 'tcp' : proto.slice(1).toLowerCase(),
      });
      if (lo !== hi) assert.throws(() => parsePortRange(`${hi}-${lo}`), /invalid port range/);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 65536, max: 2 ** 40 }), (n) => {
      assert.equal(tryParsePortRange(String(n)), undefined);
    }),
  );
});
