// lib/addresses.ts: Go's IP syntax (net.ParseIP, netip.ParseAddr) over ipaddr.js' laxer parser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ipFamily, ipv4Octets, isIP, isIPv4, isIPv6 } from '../../lib/addresses';

test('IPv4: four decimal octets, no leading zeros, nothing ipaddr.js alone would take', () => {
  for (const s of ['0.0.0.0', '10.0.0.1', '255.255.255.255', '172.18.0.1']) assert.ok(isIPv4(s), s);
  for (const s of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '010.0.0.1',
    '1.2.3.04',
    '0x7f.0.0.1',
    '2130706433',
    '127.1',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3.-1',
    '1..3.4',
  ]) {
    assert.equal(isIPv4(s), false, s);
  }
  assert.deepEqual(ipv4Octets('172.18.0.254'), [172, 18, 0, 254]);
  assert.equal(ipv4Octets('1.2.3'), null);
});

test('IPv6 as Go reads it', () => {
  const good = [
    '::',
    '::1',
    'fe80::1',
    '2001:db8::68',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7::',
    '::2:3:4:5:6:7:8',
    '::ffff:10.0.0.1',
    '1:2:3:4:5:6:1.2.3.4',
    'ABCD::EF',
  ];
  for (const s of good) assert.ok(isIPv6(s), s);
  const bad = [
    '',
    ':',
    '1:',
    ':1::',
    '1::2::3',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1::2:3:4:5:6:7:8',
    '00001::',
    'g::',
    '::ffff:01.2.3.4',
    '::ffff:0x1.2.3.4',
    '::1.2.3',
    '[::1]',
    '1.2.3.4',
    'fe80::1%eth0',
    'fe80::1%',
  ];
  for (const s of bad) assert.equal(isIPv6(s), false, s);
  // netip.ParseAddr takes a zone, net.ParseIP does not.
  assert.ok(isIPv6('fe80::1%eth0', { zone: true }));
  assert.equal(isIPv6('fe80::1%', { zone: true }), false);
  assert.equal(ipFamily('10.0.0.1'), 4);
  assert.equal(ipFamily('::1'), 6);
  assert.equal(ipFamily('host'), 0);
  assert.equal(isIP('fe80::1%eth0'), false);
  assert.ok(isIP('fe80::1%eth0', { zone: true }));
});

test('every IPv4 address, as Node prints it, is accepted and read back; Node and Go agree on dotted quads', () => {
  fc.assert(
    fc.property(fc.ipV4(), (s) => {
      assert.ok(isIPv4(s), s);
      assert.deepEqual(ipv4Octets(s)?.join('.'), s);
    }),
  );
  // fast-check's extended forms (octal, hex, short) are what Go refuses; Node's net.isIPv4 refuses them too.
  fc.assert(
    fc.property(fc.ipV4Extended(), (s) => {
      assert.equal(isIPv4(s), /^(0|[1-9]\d*)(\.(0|[1-9]\d*)){3}$/.test(s), s);
    }),
  );
  fc.assert(
    fc.property(fc.ipV6(), (s) => {
      assert.ok(isIPv6(s), s);
      assert.equal(isIPv4(s), false);
    }),
  );
});
