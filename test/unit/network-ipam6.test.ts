// IPv6 arithmetic and IPAM (network/cidr6.ts, network/ipam6.ts): Go's text for addresses and
// prefixes, dockerd's texts for bad configs, the ULA pool, the allocator.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalIpv6, cidr6Contains, formatCidr6, parseCidr6, parseIpv6 } from '../../network/cidr6';
import { ptrToIpv6 } from '../../network/dns-wire';
import { Subnet6Allocator, checkPoolOverlap6, ipv6ConfigProblems, openSubnet6, pickSubnet6, ulaBase } from '../../network/ipam6';

describe('cidr6', () => {
  test("Go's text: RFC 5952, zones and bad syntax refused", () => {
    assert.equal(canonicalIpv6('FD00:0:0:0::0001'), 'fd00::1');
    assert.equal(canonicalIpv6('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(parseIpv6('fe80::1%eth0'), null);
    assert.equal(parseIpv6('10.0.0.1'), null);
    assert.equal(parseIpv6('fd00:::1'), null);
    assert.equal(formatCidr6(parseCidr6('fd00:0001::/64') as { ip: bigint; prefix: number }), 'fd00:1::/64');
    assert.equal(parseCidr6('fd00::/129'), null);
    const c = parseCidr6('fd00:1::/64') as { ip: bigint; prefix: number };
    assert.ok(cidr6Contains(c, parseIpv6('fd00:1::ffff') as bigint));
    assert.ok(!cidr6Contains(c, parseIpv6('fd00:2::1') as bigint));
  });

  test('ip6.arpa names', () => {
    const name = `1.${'0.'.repeat(29)}d.f.ip6.arpa`;
    assert.equal(ptrToIpv6(name), 'fd00::1');
    assert.equal(ptrToIpv6('1.0.ip6.arpa'), null);
  });
});

describe('ipam6', () => {
  test("config problems in dockerd's words", () => {
    assert.deepEqual(ipv6ConfigProblems({ Subnet: 'fd00::/64', Gateway: 'fd00::1' }), []);
    assert.deepEqual(ipv6ConfigProblems({ Subnet: 'fd00::5/64' }), ['invalid subnet fd00::5/64: it should be fd00::/64']);
    assert.deepEqual(ipv6ConfigProblems({ Subnet: 'fd00::/64', IPRange: 'fd00::/48' }), [
      'invalid ip-range fd00::/48: CIDR block is bigger than its parent subnet fd00::/64',
    ]);
    assert.deepEqual(ipv6ConfigProblems({ Subnet: 'fd00::/64', Gateway: 'fd01::1', AuxiliaryAddresses: { x: '10.0.0.1' } }), [
      "invalid gateway fd01::1: parent subnet fd00::/64 doesn't contain this address",
      'invalid auxiliary address x: parent subnet is an IPv6 block',
    ]);
  });

  test('the ULA /48 is stable per seed, in fd00::/8; /64s are carved past the taken ones', () => {
    const base = ulaBase('seed');
    assert.equal(base, ulaBase('seed'));
    assert.notEqual(base, ulaBase('other'));
    assert.match(base, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/48$/);
    const first = pickSubnet6('fd12:3456:789a::/48', []);
    assert.equal(first, 'fd12:3456:789a::/64');
    assert.equal(pickSubnet6('fd12:3456:789a::/48', ['fd12:3456:789a::/64', '10.0.0.0/8']), 'fd12:3456:789a:1::/64');
    assert.equal(pickSubnet6('fd12:3456:789a::/64', ['fd12:3456:789a::/64']), null);
  });

  test('overlaps refused with dockerd text', () => {
    assert.throws(() => checkPoolOverlap6('fd00::/80', ['fd00::/64']), /Pool overlaps with other one on this address space/);
    assert.doesNotThrow(() => checkPoolOverlap6('fd01::/64', ['fd00::/64', '10.0.0.0/8']));
  });

  test('allocator: gateway first, lowest free, the network address never, release reuses', () => {
    assert.equal(openSubnet6({ subnet: 'fd00::/64' }), 'fd00::1');
    assert.equal(openSubnet6({ subnet: 'fd00::/64', gateway: 'fd00:0::fe' }), 'fd00::fe');
    assert.throws(() => openSubnet6({ subnet: 'fd00::/64', auxAddresses: { a: 'fd01::1' } }), /must belong to the master pool: fd00::\/64/);
    const a = new Subnet6Allocator({ subnet: 'fd00::/64', reserved: ['fd00::1'] });
    assert.equal(a.allocate(), 'fd00::2');
    assert.equal(a.allocate(), 'fd00::3');
    a.claimOrThrow('fd00::10');
    assert.throws(() => a.claimOrThrow('fd00::10'), /Address already in use/);
    assert.throws(() => a.claimOrThrow('fd01::10'), /no configured subnet contains IP address fd01::10/);
    a.release('fd00::2');
    assert.equal(a.allocate(), 'fd00::2');
    const r = new Subnet6Allocator({ subnet: 'fd00::/64', ipRange: 'fd00::100/120', reserved: [] });
    assert.equal(r.allocate(), 'fd00::100');
    const tiny = new Subnet6Allocator({ subnet: 'fd00::/127', reserved: [] });
    assert.equal(tiny.allocate(), 'fd00::1');
    assert.throws(() => tiny.allocate({ name: 'n', id: 'x' }), /no available IPv6 addresses on this network's address pools: n \(x\)/);
  });
});
