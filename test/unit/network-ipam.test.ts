import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BerthError } from '../../lib/errors';
import {
  broadcastAddress,
  cidrContains,
  cidrOverlaps,
  cidrSize,
  formatCidr4,
  formatIpv4,
  macForIp,
  maskedCidr,
  networkAddress,
  parseCidr4,
  parseIpv4,
  prefixMask,
} from '../../network/cidr';
import {
  DEFAULT_POOLS,
  NoAvailableAddresses,
  SubnetAllocator,
  checkPoolOverlap,
  gatewayFor,
  openSubnet,
  pickSubnet,
  subnetOverlapsAny,
  validateIpamConfigs,
} from '../../network/ipam';

const ip = (s: string): number => {
  const n = parseIpv4(s);
  assert.notEqual(n, null, s);
  return n as number;
};
const cidr = (s: string) => {
  const c = parseCidr4(s);
  assert.ok(c, s);
  return c;
};

/** Asserts fn throws a BerthError of that kind with exactly that message. */
function throwsKind(fn: () => unknown, kind: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BerthError, `not a BerthError: ${String(err)}`);
    assert.equal(err.kind, kind);
    assert.equal(err.message, message);
    return true;
  });
}

describe('cidr', () => {
  test('parseIpv4 accepts dotted quads only, strictly', () => {
    assert.equal(parseIpv4('0.0.0.0'), 0);
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
    assert.equal(parseIpv4('172.17.0.1'), ((172 << 24) >>> 0) + (17 << 16) + 1);
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.4.5',
      '256.0.0.1',
      '01.2.3.4',
      '1.2.3.-4',
      ' 1.2.3.4',
      '1.2.3.4 ',
      'a.b.c.d',
      '1..3.4',
      '1.2.3.4/8',
      '::1',
      '1e2.0.0.1',
    ]) {
      assert.equal(parseIpv4(bad), null, bad);
    }
  });

  test('formatIpv4 round-trips', () => {
    for (const s of ['0.0.0.0', '10.0.0.1', '172.31.255.254', '255.255.255.255', '192.168.16.0']) {
      assert.equal(formatIpv4(ip(s)), s);
    }
  });

  test('parseCidr4 keeps host bits; rejects bad prefixes', () => {
    assert.deepEqual(parseCidr4('172.18.0.1/16'), { ip: ip('172.18.0.1'), prefix: 16 });
    assert.deepEqual(parseCidr4('0.0.0.0/0'), { ip: 0, prefix: 0 });
    assert.deepEqual(parseCidr4('10.0.0.1/32'), { ip: ip('10.0.0.1'), prefix: 32 });
    for (const bad of [
      '10.0.0.0',
      '10.0.0.0/',
      '10.0.0.0/33',
      '10.0.0.0/-1',
      '10.0.0.0/08',
      '10.0.0/8',
      '10.0.0.0/8/8',
      'fd00::/64',
      '10.0.0.0/ 8',
    ]) {
      assert.equal(parseCidr4(bad), null, bad);
    }
    assert.equal(formatCidr4(cidr('172.18.0.1/16')), '172.18.0.1/16');
  });

  test('masks, network and broadcast addresses, sizes', () => {
    assert.equal(prefixMask(0), 0);
    assert.equal(prefixMask(32), 0xffffffff);
    assert.equal(prefixMask(20), ip('255.255.240.0'));
    const c = cidr('192.168.21.77/20');
    assert.equal(formatIpv4(networkAddress(c)), '192.168.16.0');
    assert.equal(formatIpv4(broadcastAddress(c)), '192.168.31.255');
    assert.equal(formatCidr4(maskedCidr(c)), '192.168.16.0/20');
    assert.equal(formatIpv4(broadcastAddress(cidr('0.0.0.0/0'))), '255.255.255.255');
    assert.equal(formatIpv4(networkAddress(cidr('10.1.2.3/32'))), '10.1.2.3');
    assert.equal(cidrSize(cidr('10.0.0.0/24')), 256);
    assert.equal(cidrSize(cidr('0.0.0.0/0')), 2 ** 32);
  });

  test('contains and overlaps', () => {
    const net = cidr('172.18.0.0/16');
    assert.ok(cidrContains(net, ip('172.18.255.255')));
    assert.ok(cidrContains(net, ip('172.18.0.0')));
    assert.ok(!cidrContains(net, ip('172.19.0.0')));
    assert.ok(!cidrContains(net, ip('172.17.255.255')));
    assert.ok(cidrContains(cidr('0.0.0.0/0'), ip('8.8.8.8')));
    assert.ok(cidrContains(cidr('200.1.1.1/32'), ip('200.1.1.1')));
    assert.ok(cidrOverlaps(cidr('172.16.0.0/12'), cidr('172.18.0.0/16')));
    assert.ok(cidrOverlaps(cidr('172.18.0.0/16'), cidr('172.16.0.0/12')));
    assert.ok(cidrOverlaps(cidr('10.0.0.5/24'), cidr('10.0.0.128/25')), 'host bits are ignored');
    assert.ok(!cidrOverlaps(cidr('10.0.0.0/25'), cidr('10.0.0.128/25')));
    assert.ok(!cidrOverlaps(cidr('192.168.0.0/20'), cidr('192.168.16.0/20')));
  });

  test('macForIp is 02:42 and the address bytes', () => {
    assert.equal(macForIp(ip('172.17.0.2')), '02:42:ac:11:00:02');
    assert.equal(macForIp(ip('10.255.0.254')), '02:42:0a:ff:00:fe');
  });
});

describe('pickSubnet', () => {
  const expectedDefaults = [
    ...Array.from({ length: 15 }, (_, i) => `172.${17 + i}.0.0/16`),
    ...Array.from({ length: 16 }, (_, i) => `192.168.${i * 16}.0/20`),
  ];

  test('walks the default pools in dockerd order until exhausted', () => {
    const taken: string[] = [];
    for (const want of expectedDefaults) {
      const got = pickSubnet(DEFAULT_POOLS, taken);
      assert.equal(got, want);
      taken.push(got as string);
    }
    assert.equal(pickSubnet(DEFAULT_POOLS, taken), null);
  });

  test('a freed subnet is the next one picked (lowest first)', () => {
    const taken = ['172.17.0.0/16', '172.19.0.0/16'];
    assert.equal(pickSubnet(DEFAULT_POOLS, taken), '172.18.0.0/16');
  });

  test('skips subnets overlapping host routes or other daemons, big or small', () => {
    // A /24 route inside 172.17/16 blocks it; a /12 blocks all of 172.16-31.
    assert.equal(pickSubnet(DEFAULT_POOLS, ['172.17.5.0/24']), '172.18.0.0/16');
    assert.equal(pickSubnet(DEFAULT_POOLS, ['172.16.0.0/12']), '192.168.0.0/20');
    assert.equal(pickSubnet(DEFAULT_POOLS, ['172.16.0.0/12', '192.168.0.1/32', '192.168.20.0/24']), '192.168.32.0/20');
    // Host bits in taken entries do not matter; junk and IPv6 entries are ignored.
    assert.equal(pickSubnet(DEFAULT_POOLS, ['172.17.9.9/16', 'nonsense', 'fd00::/8', '']), '172.18.0.0/16');
    // Unrelated routes do not block anything.
    assert.equal(pickSubnet(DEFAULT_POOLS, ['10.0.0.0/8', '192.0.2.0/24']), '172.17.0.0/16');
  });

  test('custom pools are carved in address order and skip past wide blocks quickly', () => {
    const pools = [{ base: '10.10.0.0/16', size: 24 }];
    assert.equal(pickSubnet(pools, []), '10.10.0.0/24');
    assert.equal(pickSubnet(pools, ['10.10.0.0/24', '10.10.1.0/24']), '10.10.2.0/24');
    assert.equal(pickSubnet(pools, ['10.10.0.0/20']), '10.10.16.0/24');
    assert.equal(pickSubnet(pools, ['10.10.0.0/17', '10.10.128.0/18', '10.10.200.0/21']), '10.10.192.0/24');
    assert.equal(pickSubnet(pools, ['10.0.0.0/8']), null);
    // A huge pool with its front taken still answers at once.
    const big = [{ base: '10.0.0.0/8', size: 30 }];
    const t0 = Date.now();
    assert.equal(pickSubnet(big, ['10.0.0.0/9', '10.128.0.0/10']), '10.192.0.0/30');
    assert.ok(Date.now() - t0 < 200);
  });

  test('pools are sorted by address and overlapping later pools dropped (moby v29)', () => {
    const pools = [
      { base: '10.20.0.0/16', size: 24 },
      { base: '10.10.0.0/16', size: 24 },
      { base: '10.10.0.0/24', size: 28 }, // inside the previous one: dropped
    ];
    assert.equal(pickSubnet(pools, []), '10.10.0.0/24');
    const allOf1010 = Array.from({ length: 256 }, (_, i) => `10.10.${i}.0/24`);
    assert.equal(pickSubnet(pools, allOf1010), '10.20.0.0/24');
    // The nested pool is gone even where its smaller subnets would still fit.
    const nested = [
      { base: '10.10.0.0/16', size: 16 },
      { base: '10.10.0.0/24', size: 28 },
    ];
    assert.equal(pickSubnet(nested, ['10.10.5.0/24']), null);
  });

  test('a pool whose size equals its prefix yields itself once', () => {
    assert.equal(pickSubnet([{ base: '10.5.0.0/16', size: 16 }], []), '10.5.0.0/16');
    assert.equal(pickSubnet([{ base: '10.5.0.0/16', size: 16 }], ['10.5.3.0/24']), null);
  });

  test('invalid pools are refused', () => {
    throwsKind(() => pickSubnet([{ base: 'bogus', size: 24 }], []), 'InvalidParameter', 'invalid address pool "bogus" with size 24');
    assert.throws(() => pickSubnet([{ base: '10.0.0.0/16', size: 8 }], []), BerthError);
    assert.throws(() => pickSubnet([{ base: '10.0.0.0/16', size: 33 }], []), BerthError);
  });
});

describe('subnetOverlapsAny, gatewayFor, checkPoolOverlap', () => {
  test('subnetOverlapsAny', () => {
    assert.equal(subnetOverlapsAny('172.18.0.0/16', ['10.0.0.0/8', '172.18.3.0/24']), true);
    assert.equal(subnetOverlapsAny('172.18.0.0/16', ['10.0.0.0/8', '172.19.0.0/16', 'junk']), false);
    assert.equal(subnetOverlapsAny('172.18.0.0/16', []), false);
    assert.throws(() => subnetOverlapsAny('nope', []), BerthError);
  });

  test('gatewayFor: first host address, or first of the ip-range, as dockerd', () => {
    assert.equal(gatewayFor('172.18.0.0/16'), '172.18.0.1');
    assert.equal(gatewayFor('10.1.2.3/24'), '10.1.2.1');
    assert.equal(gatewayFor('10.0.0.0/30'), '10.0.0.1');
    // Measured on dockerd 20.10: --ip-range 10.251.131.128/25 made 10.251.131.128 the gateway.
    assert.equal(gatewayFor('10.251.131.0/24', '10.251.131.128/25'), '10.251.131.128');
    assert.equal(gatewayFor('10.1.0.0/16', '10.1.0.0/24'), '10.1.0.1');
    throwsKind(() => gatewayFor('nope'), 'InvalidParameter', 'invalid subnet nope: invalid CIDR block notation');
    for (const s of ['10.0.0.0/31', '10.0.0.7/32']) {
      throwsKind(() => gatewayFor(s), 'System', 'failed to allocate gateway (): no available addresses on this pool');
    }
  });

  test('checkPoolOverlap: dockerd text and status, ip-range loophole', () => {
    const msg = 'invalid pool request: Pool overlaps with other one on this address space';
    const existing = [{ subnet: '172.18.0.0/16' }, { subnet: '10.5.0.0/16', ipRange: '10.5.1.0/24' }];
    throwsKind(() => checkPoolOverlap('172.18.0.0/16', undefined, existing), 'Forbidden', msg);
    throwsKind(() => checkPoolOverlap('172.18.5.0/24', undefined, existing), 'Forbidden', msg);
    throwsKind(() => checkPoolOverlap('172.0.0.0/8', undefined, existing), 'Forbidden', msg);
    throwsKind(() => checkPoolOverlap('10.5.0.0/16', '10.5.1.0/24', existing), 'Forbidden', msg);
    assert.doesNotThrow(() => checkPoolOverlap('172.19.0.0/16', undefined, existing));
    // With an ip-range dockerd only refuses the identical subnet and range.
    assert.doesNotThrow(() => checkPoolOverlap('172.18.0.0/16', '172.18.9.0/24', existing));
    assert.doesNotThrow(() => checkPoolOverlap('10.5.0.0/16', '10.5.2.0/24', existing));
  });
});

describe('validateIpamConfigs', () => {
  const invalid = (configs: Parameters<typeof validateIpamConfigs>[0], ...errs: string[]) =>
    throwsKind(
      () => validateIpamConfigs(configs),
      'InvalidParameter',
      errs.length === 1 ? `invalid network config:\n${errs[0]}` : `invalid network config:\n* ${errs.join('\n* ')}`,
    );

  test('valid configs pass and come back normalised', () => {
    assert.deepEqual(validateIpamConfigs([]), []);
    assert.deepEqual(validateIpamConfigs([{}]), [{}]);
    assert.deepEqual(
      validateIpamConfigs([
        { Subnet: '10.1.0.0/16', IPRange: '10.1.2.0/24', Gateway: '10.1.0.254', AuxiliaryAddresses: { router: '10.1.0.2' } },
      ]),
      [{ Subnet: '10.1.0.0/16', IPRange: '10.1.2.0/24', Gateway: '10.1.0.254', AuxiliaryAddresses: { router: '10.1.0.2' } }],
    );
    assert.deepEqual(validateIpamConfigs([{ Subnet: '10.1.0.0/16', Gateway: '10.1.0.1/16', IPRange: '', AuxiliaryAddresses: {} }]), [
      { Subnet: '10.1.0.0/16', Gateway: '10.1.0.1' },
    ]);
    // The gateway may be the network address here; allocation refuses it later, as dockerd.
    assert.doesNotThrow(() => validateIpamConfigs([{ Subnet: '10.1.0.0/16', Gateway: '10.1.0.0' }]));
    // IPv6 configs: dropped without --ipv6 (moby v25+), checked and kept with it.
    assert.deepEqual(validateIpamConfigs([{ Subnet: '10.1.0.0/16' }, { Subnet: 'fd00::/64', Gateway: 'fd00::1' }]), [
      { Subnet: '10.1.0.0/16' },
    ]);
    assert.deepEqual(validateIpamConfigs([{ Subnet: '10.1.0.0/16' }, { Subnet: 'fd00::/64', Gateway: 'fd00:0::1/64' }], true), [
      { Subnet: '10.1.0.0/16' },
      { Subnet: 'fd00::/64', Gateway: 'fd00::1' },
    ]);
    assert.throws(
      () => validateIpamConfigs([{ Subnet: 'fd00::1/64', IPRange: '10.0.0.0/24' }], true),
      (e: Error) =>
        e.message ===
        'invalid network config:\n* invalid subnet fd00::1/64: it should be fd00::/64\n* invalid ip-range 10.0.0.0/24: parent subnet is an IPv6 block',
    );
    assert.throws(
      () => validateIpamConfigs([{ Subnet: 'fd00::/64' }, { Subnet: 'fd01::/64' }], true),
      (e: Error) => e.message === "bridge driver doesn't support multiple subnets",
    );
  });

  test('dockerd texts, one problem', () => {
    invalid([{ Subnet: 'foobar' }], 'invalid subnet foobar: invalid CIDR block notation');
    invalid([{ Subnet: '10.10.10.0/8' }], 'invalid subnet 10.10.10.0/8: it should be 10.0.0.0/8');
    invalid(
      [{ Subnet: '10.10.10.0/24', IPRange: '10.0.0.0/8' }],
      'invalid ip-range 10.0.0.0/8: CIDR block is bigger than its parent subnet 10.10.10.0/24',
    );
    invalid([{ Subnet: '10.0.0.0/8', IPRange: '10.10.10.0/16' }], 'invalid ip-range 10.10.10.0/16: it should be 10.10.0.0/16');
    invalid([{ Subnet: '10.0.0.0/8', IPRange: '2001:db8::/32' }], 'invalid ip-range 2001:db8::/32: parent subnet is an IPv4 block');
    invalid(
      [{ Subnet: '10.251.200.0/24', IPRange: '10.9.9.0/28' }],
      "invalid ip-range 10.9.9.0/28: parent subnet 10.251.200.0/24 doesn't contain ip-range",
    );
    invalid(
      [{ Subnet: '10.251.200.0/24', Gateway: '10.9.9.9' }],
      "invalid gateway 10.9.9.9: parent subnet 10.251.200.0/24 doesn't contain this address",
    );
    invalid([{ Subnet: '10.0.0.0/24', Gateway: 'bogus' }], 'invalid gateway bogus: invalid address');
    invalid([{ Subnet: '10.0.0.0/24', Gateway: '2001:db8::1' }], 'invalid gateway 2001:db8::1: parent subnet is an IPv4 block');
    invalid(
      [{ Subnet: '10.0.0.0/24', AuxiliaryAddresses: { h: '10.9.9.9' } }],
      "invalid auxiliary address h: parent subnet 10.0.0.0/24 doesn't contain this address",
    );
    invalid([{ Gateway: '10.1.1.1' }], "invalid gateway 10.1.1.1: parent subnet invalid Prefix doesn't contain this address");
  });

  test('dockerd texts, several problems in order', () => {
    invalid(
      [
        {
          Subnet: '10.0.0.0/8',
          IPRange: '192.168.0.1/24',
          Gateway: '192.168.0.1',
          AuxiliaryAddresses: { DefaultGatewayIPv4: '192.168.0.1' },
        },
      ],
      'invalid ip-range 192.168.0.1/24: it should be 192.168.0.0/24',
      "invalid ip-range 192.168.0.1/24: parent subnet 10.0.0.0/8 doesn't contain ip-range",
      "invalid gateway 192.168.0.1: parent subnet 10.0.0.0/8 doesn't contain this address",
      "invalid auxiliary address DefaultGatewayIPv4: parent subnet 10.0.0.0/8 doesn't contain this address",
    );
    invalid(
      [{ Subnet: '10.10.10.0/24', IPRange: 'foobar', Gateway: '1001.10.5.3', AuxiliaryAddresses: { DefaultGatewayIPv4: 'dummy' } }],
      'invalid ip-range foobar: invalid CIDR block notation',
      'invalid gateway 1001.10.5.3: invalid address',
      'invalid auxiliary address DefaultGatewayIPv4: invalid address',
    );
    invalid(
      [{ Subnet: 'x' }, { Subnet: '10.1.0.0/16', Gateway: '10.2.0.1' }],
      'invalid subnet x: invalid CIDR block notation',
      "invalid gateway 10.2.0.1: parent subnet 10.1.0.0/16 doesn't contain this address",
    );
  });

  test('the bridge driver takes one IPv4 subnet', () => {
    throwsKind(
      () => validateIpamConfigs([{ Subnet: '10.1.0.0/16' }, { Subnet: '10.2.0.0/16' }]),
      'Forbidden',
      "bridge driver doesn't support multiple subnets",
    );
  });
});

describe('SubnetAllocator', () => {
  test('hands out the lowest free address; network, broadcast and reserved never', () => {
    const a = new SubnetAllocator({ subnet: '10.0.0.0/29', reserved: ['10.0.0.1', '10.0.0.4', '10.9.9.9', 'junk'] });
    assert.equal(formatCidr4(a.subnet), '10.0.0.0/29');
    assert.equal(a.available(), 4);
    assert.deepEqual([a.allocate(), a.allocate(), a.allocate(), a.allocate()], ['10.0.0.2', '10.0.0.3', '10.0.0.5', '10.0.0.6']);
    assert.equal(a.available(), 0);
    assert.throws(
      () => a.allocate(),
      (err: unknown) =>
        err instanceof NoAvailableAddresses && err.kind === 'System' && err.message === 'no available addresses on this pool',
    );
    throwsKind(
      () => a.allocate({ name: 'smallnet', id: '4fd497e3545288e70d2eb12fb9a8dd18532420d68cbf16390a91108732fba3ef' }),
      'System',
      "no available IPv4 addresses on this network's address pools: smallnet (4fd497e3545288e70d2eb12fb9a8dd18532420d68cbf16390a91108732fba3ef)",
    );
  });

  test('release then allocate reuses the lowest free address (dockerd local networks)', () => {
    const a = new SubnetAllocator({ subnet: '10.251.130.0/24', reserved: ['10.251.130.1'] });
    assert.deepEqual([a.allocate(), a.allocate(), a.allocate()], ['10.251.130.2', '10.251.130.3', '10.251.130.4']);
    a.release('10.251.130.2');
    assert.equal(a.allocate(), '10.251.130.2');
    assert.equal(a.allocate(), '10.251.130.5');
  });

  test('serial mode continues after the last one and wraps', () => {
    const a = new SubnetAllocator({ subnet: '10.0.0.0/29', reserved: ['10.0.0.1'], serial: true });
    assert.deepEqual([a.allocate(), a.allocate()], ['10.0.0.2', '10.0.0.3']);
    a.release('10.0.0.2');
    assert.equal(a.allocate(), '10.0.0.4', 'not the released one');
    assert.deepEqual([a.allocate(), a.allocate()], ['10.0.0.5', '10.0.0.6']);
    assert.equal(a.allocate(), '10.0.0.2', 'wrapped to the freed address');
    assert.throws(() => a.allocate(), NoAvailableAddresses);
    a.release('10.0.0.5');
    assert.equal(a.allocate(), '10.0.0.5');
  });

  test('ip-range narrower than the subnet', () => {
    const a = new SubnetAllocator({ subnet: '10.1.0.0/16', ipRange: '10.1.5.0/30', reserved: ['10.1.0.1'] });
    assert.equal(a.available(), 4);
    assert.deepEqual([a.allocate(), a.allocate(), a.allocate(), a.allocate()], ['10.1.5.0', '10.1.5.1', '10.1.5.2', '10.1.5.3']);
    assert.throws(() => a.allocate(), NoAvailableAddresses);
    // Static addresses may lie outside the range, inside the subnet.
    assert.equal(a.claim('10.1.9.9'), true);
    assert.equal(a.available(), 0);
    a.release('10.1.5.1');
    assert.equal(a.allocate(), '10.1.5.1');
  });

  test('ip-range at the end of the subnet leaves the broadcast address out', () => {
    const a = new SubnetAllocator({ subnet: '10.251.131.0/24', ipRange: '10.251.131.252/30', reserved: [] });
    assert.deepEqual([a.allocate(), a.allocate(), a.allocate()], ['10.251.131.252', '10.251.131.253', '10.251.131.254']);
    assert.throws(() => a.allocate(), NoAvailableAddresses);
  });

  test('ip-range wider than the subnet means the subnet; outside it is refused', () => {
    const a = new SubnetAllocator({ subnet: '10.2.3.0/30', ipRange: '10.2.0.0/16', reserved: [] });
    assert.deepEqual([a.allocate(), a.allocate()], ['10.2.3.1', '10.2.3.2']);
    assert.throws(() => a.allocate(), NoAvailableAddresses);
    throwsKind(
      () => new SubnetAllocator({ subnet: '10.2.3.0/24', ipRange: '10.9.0.0/24', reserved: [] }),
      'InvalidParameter',
      "invalid ip-range 10.9.0.0/24: parent subnet 10.2.3.0/24 doesn't contain ip-range",
    );
    throwsKind(
      () => new SubnetAllocator({ subnet: 'x', reserved: [] }),
      'InvalidParameter',
      'invalid subnet x: invalid CIDR block notation',
    );
  });

  test('/31 and /32 have no usable address, /30 two', () => {
    for (const subnet of ['10.0.0.0/31', '10.0.0.9/32']) {
      const a = new SubnetAllocator({ subnet, reserved: [] });
      assert.equal(a.available(), 0);
      assert.throws(() => a.allocate(), NoAvailableAddresses);
      assert.equal(a.claim(formatIpv4(a.subnet.ip)), false);
    }
    const a = new SubnetAllocator({ subnet: '10.0.0.0/30', reserved: [] });
    assert.deepEqual([a.allocate(), a.allocate()], ['10.0.0.1', '10.0.0.2']);
    assert.throws(() => a.allocate(), NoAvailableAddresses);
  });

  test('claim: taken, outside, network and broadcast are refused', () => {
    const a = new SubnetAllocator({ subnet: '172.18.0.0/16', reserved: ['172.18.0.1'] });
    assert.equal(a.claim('172.18.3.4'), true);
    assert.equal(a.claim('172.18.3.4'), false);
    assert.equal(a.claim('172.18.0.1'), false);
    assert.equal(a.claim('172.18.0.0'), false);
    assert.equal(a.claim('172.18.255.255'), false);
    assert.equal(a.claim('172.19.0.2'), false);
    assert.equal(a.claim('garbage'), false);
    assert.ok(a.has('172.18.3.4'));
    assert.equal(a.allocate(), '172.18.0.2');
    // Releasing the network or broadcast address does not free them.
    a.release('172.18.0.0');
    a.release('172.18.255.255');
    assert.equal(a.claim('172.18.0.0'), false);
    assert.equal(a.claim('172.18.255.255'), false);
    a.release('172.18.3.4');
    assert.ok(!a.has('172.18.3.4'));
    assert.equal(a.claim('172.18.3.4'), true);
  });

  test('claimOrThrow: dockerd errors for static addresses', () => {
    const a = new SubnetAllocator({ subnet: '10.251.130.0/24', reserved: ['10.251.130.1'] });
    a.claimOrThrow('10.251.130.3');
    for (const taken of ['10.251.130.3', '10.251.130.0', '10.251.130.255', '10.251.130.1']) {
      throwsKind(() => a.claimOrThrow(taken), 'Forbidden', 'Address already in use');
    }
    throwsKind(
      () => a.claimOrThrow('10.251.99.9'),
      'InvalidParameter',
      "invalid address 10.251.99.9: It does not belong to any of this network's subnets",
    );
  });

  test('a /8 is cheap and allocation after many claims stays quick', () => {
    const a = new SubnetAllocator({ subnet: '10.0.0.0/8', reserved: ['10.0.0.1'] });
    assert.equal(a.available(), 2 ** 24 - 3);
    for (let i = 2; i < 5002; i++) assert.ok(a.claim(formatIpv4(ip('10.0.0.0') + i)));
    const t0 = Date.now();
    assert.equal(a.allocate(), formatIpv4(ip('10.0.0.0') + 5002));
    assert.ok(Date.now() - t0 < 200);
  });
});

describe('openSubnet', () => {
  test('default gateway is the first address; aux addresses are reserved', () => {
    const { allocator, gateway } = openSubnet({ subnet: '10.3.0.0/24', auxAddresses: { a: '10.3.0.2', b: '10.3.0.200' } });
    assert.equal(gateway, '10.3.0.1');
    assert.equal(allocator.allocate(), '10.3.0.3');
    assert.ok(allocator.has('10.3.0.200'));
  });

  test('given gateway, gateway in an ip-range', () => {
    assert.equal(openSubnet({ subnet: '10.3.0.0/24', gateway: '10.3.0.254' }).gateway, '10.3.0.254');
    const { allocator, gateway } = openSubnet({ subnet: '10.251.131.0/24', ipRange: '10.251.131.128/25' });
    assert.equal(gateway, '10.251.131.128');
    assert.equal(allocator.allocate(), '10.251.131.129');
  });

  test("dockerd's failures", () => {
    throwsKind(
      () => openSubnet({ subnet: '10.3.0.0/24', gateway: '10.3.0.0' }),
      'System',
      'failed to allocate gateway (10.3.0.0): Address already in use',
    );
    throwsKind(
      () => openSubnet({ subnet: '10.3.0.0/24', gateway: '10.3.0.255' }),
      'System',
      'failed to allocate gateway (10.3.0.255): Address already in use',
    );
    throwsKind(
      () => openSubnet({ subnet: '10.3.0.0/24', gateway: '10.4.0.1' }),
      'System',
      'failed to allocate gateway (10.4.0.1): requested address is out of range',
    );
    throwsKind(() => openSubnet({ subnet: '10.3.0.0/31' }), 'System', 'failed to allocate gateway (): no available addresses on this pool');
    throwsKind(
      () => openSubnet({ subnet: '10.251.119.0/24', auxAddresses: { a: '10.251.119.1' } }),
      'System',
      'failed to allocate secondary ip address (a:10.251.119.1): Address already in use',
    );
    throwsKind(
      () => openSubnet({ subnet: '10.251.111.0/24', auxAddresses: { h: '10.9.9.9' } }),
      'Forbidden',
      'auxiliary address: (h:10.9.9.9) must belong to the master pool: 10.251.111.0/24',
    );
  });
});
