// IPv6 on user bridge networks through the real docker CLI (and the raw API where the shape
// matters): `network create --ipv6` with an IPv4 and an IPv6 subnet, the IPv6 gateway on the
// bridge, containers' IPv6 addresses (auto, --ip6, network connect --ip6), --link-local-ip,
// inspect shapes (EnableIPv6, IPAM Config and Options, NetworkSettings' IPv6 fields, endpoint
// IPAMConfig), dockerd's errors, ping6 between containers, AAAA answers from the embedded DNS,
// and `-p` publishing on "[::]" too (a connection to [::1] reaching the container).
// Shapes and texts measured on a reference dockerd 20.10 (2026-12-06) where they agree with moby
// v29 (API 1.53); where they differ the v29 behaviour is followed and the test says so.
// IPv6 subnets are random /64s of fd00::/8; test traffic stays on loopback and these containers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { describe, test } from 'node:test';
import { networkTag } from '../../daemon/networks/service';
import { lines } from './container-kit';
import { freePorts, httpGet, httpdCmd, rnd } from './net-tools';
import { apiError, ctrJson, freeSubnet, k, netInspect, netRm, rmf, useNetworksKit } from './networks-kit';

useNetworksKit();

/** A random ULA /64 ("fdxx:xxxx:xxxx:xxxx::") that no host address is in. */
function freeUla(): string {
  const taken = fs.readFileSync('/proc/net/if_inet6', 'utf8');
  for (;;) {
    const hex = `fd${randomBytes(7).toString('hex')}`;
    const groups = [0, 4, 8, 12].map((i) => parseInt(hex.slice(i, i + 4), 16));
    // No zero group: the text stays the same under Go's "::" compression.
    if (taken.includes(hex) || groups.includes(0)) continue;
    return `${groups.map((g) => g.toString(16)).join(':')}::`;
  }
}

/** The /64 prefix as /proc/net/if_inet6 writes it: 16 hex digits. */
const prefixHex = (prefix: string): string =>
  prefix
    .split(':')
    .slice(0, 4)
    .map((g) => g.padStart(4, '0'))
    .join('');

interface Ep6 {
  IPAMConfig: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] } | null;
  IPAddress: string;
  Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  IPv6Gateway: string;
}

async function ep6(container: string, net: string): Promise<Ep6> {
  const c = (await ctrJson(container)) as unknown as { NetworkSettings: { Networks: Record<string, Ep6> } };
  const e = c.NetworkSettings.Networks[net];
  assert.ok(e, `${container} is on ${net}`);
  return e;
}

async function v6Net(): Promise<{ name: string; v4: string; v6: string }> {
  const name = `v6-${rnd()}`;
  const v4 = freeSubnet();
  const v6 = freeUla();
  await k.ok(['network', 'create', '--ipv6', '--subnet', `${v4}.0/24`, '--subnet', `${v6}/64`, name]);
  return { name, v4, v6 };
}

describe('IPv6 user networks', { concurrency: 2 }, () => {
  test('create --ipv6 with two subnets: inspect, the bridge gateway, containers with --ip6 and auto addresses, link-local IPs, ping6', async () => {
    const { name, v4, v6 } = await v6Net();
    const a = `a6-${rnd()}`;
    const b = `b6-${rnd()}`;
    try {
      const n = await netInspect(name);
      assert.equal(n.EnableIPv6, true);
      assert.deepEqual(n.IPAM, {
        Driver: 'default',
        Options: {},
        Config: [
          { Subnet: `${v4}.0/24`, Gateway: `${v4}.1` },
          { Subnet: `${v6}/64`, Gateway: `${v6}1` },
        ],
      });
      const br = `br-${n.Id.slice(0, 12)}`;
      const brAddrs = fs
        .readFileSync('/proc/net/if_inet6', 'utf8')
        .split('\n')
        .filter((l) => l.trim().endsWith(` ${br}`))
        .map((l) => l.split(' ')[0]);
      const gwHex = `${prefixHex(v6)}${'0'.repeat(15)}1`;
      assert.ok(brAddrs.includes(gwHex), `the bridge ${br} carries ${v6}1: ${brAddrs.join(', ')}`);

      await k.ok([
        'run',
        '-d',
        '--name',
        a,
        '--network',
        name,
        '--ip6',
        `${v6}10`,
        '--link-local-ip',
        '169.254.7.7',
        '--link-local-ip',
        'fe80::77',
        'busybox',
        'sleep',
        '300',
      ]);
      await k.ok(['run', '-d', '--name', b, '--network', name, 'busybox', 'sleep', '300']);
      const ea = await ep6(a, name);
      assert.deepEqual(ea.IPAMConfig, { IPv6Address: `${v6}10`, LinkLocalIPs: ['169.254.7.7', 'fe80::77'] });
      assert.equal(ea.GlobalIPv6Address, `${v6}10`);
      assert.equal(ea.GlobalIPv6PrefixLen, 64);
      assert.equal(ea.IPv6Gateway, `${v6}1`);
      assert.equal(ea.Gateway, `${v4}.1`);
      const eb = await ep6(b, name);
      assert.equal(eb.IPAMConfig, null, 'no static address asked: null, as dockerd');
      assert.equal(eb.GlobalIPv6Address, `${v6}2`, 'the first free address after the gateway');
      assert.equal(eb.IPv6Gateway, `${v6}1`);

      // API 1.52+ Status: the IPv6 subnet too, its uint64 count as exact digits (2^64 minus the
      // subnet-router address, the gateway and a and b).
      const raw = (await k.request('GET', `/networks/${name}`)).body;
      assert.ok(raw.includes(`"${v6}/64":{"IPsInUse":4,"DynamicIPsAvailable":18446744073709551612}`), raw);
      const n2 = await netInspect(name);
      const byName = Object.values(n2.Containers ?? {}).find((c) => c.Name === a);
      assert.equal(byName?.IPv6Address, `${v6}10/64`);

      const addr = await k.ok(['exec', a, 'ip', '-6', 'addr', 'show', 'eth0']);
      assert.match(addr, new RegExp(`inet6 ${v6}10/64 scope global`), addr);
      assert.match(addr, /inet6 fe80::77\/64 scope link/, addr);
      const addr4 = await k.ok(['exec', a, 'ip', '-4', 'addr', 'show', 'eth0']);
      assert.match(addr4, /inet 169\.254\.7\.7\/16/, addr4);
      const routes = lines(await k.ok(['exec', a, 'ip', '-6', 'route']));
      assert.ok(
        routes.some((r) => r.startsWith(`default via ${v6}1 dev eth0`)),
        `default IPv6 route via the gateway: ${routes.join(' | ')}`,
      );
      const ping = await k.docker(['exec', b, 'ping', '-6', '-c', '1', '-W', '5', `${v6}10`]);
      assert.equal(ping.code, 0, `ping6 b → a: ${ping.stdout}${ping.stderr}`);
      const pingGw = await k.docker(['exec', a, 'ping', '-6', '-c', '1', '-W', '5', `${v6}1`]);
      assert.equal(pingGw.code, 0, `ping6 a → gateway: ${pingGw.stdout}${pingGw.stderr}`);

      // /etc/hosts carries both addresses of the container, as dockerd's.
      const hosts = await k.ok(['exec', a, 'cat', '/etc/hosts']);
      assert.match(hosts, new RegExp(`^${v6}10\\s`, 'm'), hosts);

      // A stopped container gives its address back; the next one gets the lowest free one.
      await rmf(b);
      await k.ok(['run', '-d', '--name', b, '--network', name, 'busybox', 'sleep', '300']);
      assert.equal((await ep6(b, name)).GlobalIPv6Address, `${v6}2`);
      // The same --ip6 twice: dockerd's 403 text.
      const dup = await k.fails(['run', '--rm', '--network', name, '--ip6', `${v6}10`, 'busybox', 'true']);
      assert.match(dup.stderr, /Address already in use/);
    } finally {
      await rmf(a, b);
      await netRm(name);
    }
    const gone = fs.readFileSync('/proc/net/if_inet6', 'utf8');
    assert.ok(!gone.includes(prefixHex(v6)), 'the IPv6 gateway went with the network');
  });

  test('network connect --ip6 onto a running container; disconnect frees the address', async () => {
    const { name, v6 } = await v6Net();
    const c = `c6-${rnd()}`;
    try {
      await k.ok(['run', '-d', '--name', c, 'busybox', 'sleep', '300']);
      await k.ok(['network', 'connect', '--ip6', `${v6}abc`, '--link-local-ip', 'fe80::abc', name, c]);
      const e = await ep6(c, name);
      assert.deepEqual(e.IPAMConfig, { IPv6Address: `${v6}abc`, LinkLocalIPs: ['fe80::abc'] });
      assert.equal(e.GlobalIPv6Address, `${v6}abc`);
      const addr = await k.ok(['exec', c, 'ip', '-6', 'addr', 'show', 'eth1']);
      assert.match(addr, new RegExp(`inet6 ${v6}abc/64`), addr);
      assert.match(addr, /inet6 fe80::abc\/64 scope link/, addr);
      await k.ok(['network', 'disconnect', name, c]);
      await k.ok(['network', 'connect', '--ip6', `${v6}abc`, name, c]);
    } finally {
      await rmf(c);
      await netRm(name);
    }
  });

  test("dockerd's errors and choices: --ip6 off IPv6, an IPv6 subnet without --ipv6, bad subnets, overlaps, --ipv6 alone", async () => {
    const v4only = `v4-${rnd()}`;
    const nov6 = `nov6-${rnd()}`;
    const auto = `auto6-${rnd()}`;
    const { name: first, v6 } = await v6Net();
    try {
      const sub = freeSubnet();
      await k.ok(['network', 'create', '--subnet', `${sub}.0/24`, v4only]);
      const ula = freeUla();
      // moby v29 checks at create (20.10: "user specified IP address is supported only when
      // connecting to networks with user configured subnets", at start).
      const r = await k.fails(['create', '--network', v4only, '--ip6', `${ula}5`, 'busybox', 'true']);
      assert.match(r.stderr, new RegExp(`invalid endpoint settings:\\s+no configured subnet contains IP address ${ula}5`));
      const outside = await k.fails(['create', '--network', first, '--ip6', `${ula}5`, 'busybox', 'true']);
      assert.match(outside.stderr, new RegExp(`no configured subnet contains IP address ${ula}5`));
      // On the default bridge: dockerd's text, as for --ip.
      const onBridge = await k.fails(['create', '--ip6', `${ula}5`, 'busybox', 'true']);
      assert.match(onBridge.stderr, /user specified IP address is supported on user defined networks only/);

      // An IPv6 subnet without --ipv6: dropped without a word (moby v25+; 20.10 kept it in inspect).
      const sub2 = freeSubnet();
      await k.ok(['network', 'create', '--subnet', `${sub2}.0/24`, '--subnet', `${freeUla()}/64`, nov6]);
      const n = await netInspect(nov6);
      assert.equal(n.EnableIPv6, false);
      assert.deepEqual(n.IPAM.Config, [{ Subnet: `${sub2}.0/24`, Gateway: `${sub2}.1` }]);

      const bad = await apiError('POST', '/networks/create', {
        Name: `bad-${rnd()}`,
        EnableIPv6: true,
        IPAM: { Config: [{ Subnet: `${ula}1/64` }] },
      });
      assert.deepEqual(bad, { status: 400, message: `invalid network config:\ninvalid subnet ${ula}1/64: it should be ${ula}/64` });
      const gw = await apiError('POST', '/networks/create', {
        Name: `bad-${rnd()}`,
        EnableIPv6: true,
        IPAM: { Config: [{ Subnet: `${ula}/64`, Gateway: 'fd00:dead::1' }] },
      });
      assert.deepEqual(gw, {
        status: 400,
        message: `invalid network config:\ninvalid gateway fd00:dead::1: parent subnet ${ula}/64 doesn't contain this address`,
      });
      const two = await apiError('POST', '/networks/create', {
        Name: `bad-${rnd()}`,
        EnableIPv6: true,
        IPAM: { Config: [{ Subnet: `${ula}/64` }, { Subnet: `${freeUla()}/64` }] },
      });
      assert.deepEqual(two, { status: 403, message: "bridge driver doesn't support multiple subnets" });
      const overlap = await k.fails(['network', 'create', '--ipv6', '--subnet', `${v6}/80`, `ov-${rnd()}`]);
      assert.match(overlap.stderr, /Pool overlaps with other one on this address space/);

      // The driver option counts when EnableIPv6 is not sent (moby's createNetwork).
      const byOpt = `opt6-${rnd()}`;
      await k.ok(['network', 'create', '-o', 'com.docker.network.enable_ipv6=true', '--subnet', `${freeUla()}/64`, byOpt]);
      assert.equal((await netInspect(byOpt)).EnableIPv6, true);
      await netRm(byOpt);
      const badOpt = await k.fails(['network', 'create', '-o', 'com.docker.network.enable_ipv6=maybe', `opt6-${rnd()}`]);
      assert.match(badOpt.stderr, /driver-opt "com.docker.network.enable_ipv6" is not a valid bool/);

      // --ipv6 alone: a /64 of the daemon's own ULA /48 (moby v27+; 20.10 had no default IPv6 pool).
      await k.ok(['network', 'create', '--ipv6', auto]);
      const a = await netInspect(auto);
      assert.equal(a.EnableIPv6, true);
      const cfg6 = (a.IPAM.Config ?? []).find((c) => (c.Subnet ?? '').includes(':'));
      assert.match(cfg6?.Subnet ?? '', /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{0,4}:?:\/64$/);
      assert.equal(cfg6?.Gateway, (cfg6?.Subnet ?? '').replace('/64', '1'));
    } finally {
      await netRm(first, v4only, nov6, auto);
    }
  });

  test('embedded DNS: AAAA answers for names and aliases on an IPv6 network, none on an IPv4 one', async () => {
    const { name, v6 } = await v6Net();
    const v4only = `v4d-${rnd()}`;
    const a = `da-${rnd()}`;
    const b = `db-${rnd()}`;
    try {
      await k.ok(['run', '-d', '--name', a, '--network', name, '--network-alias', 'webv6', '--ip6', `${v6}20`, 'busybox', 'sleep', '300']);
      await k.ok(['run', '-d', '--name', b, '--network', name, 'busybox', 'sleep', '300']);
      for (const q of [a, 'webv6']) {
        const r = await k.docker(['exec', b, 'nslookup', '-type=AAAA', q, '127.0.0.11']);
        assert.match(r.stdout, new RegExp(`Address: ${v6}20`), `AAAA ${q}: ${r.stdout}${r.stderr}`);
      }
      const r4 = await k.docker(['exec', b, 'nslookup', '-type=A', a, '127.0.0.11']);
      assert.doesNotMatch(r4.stdout, /Address: fd/, 'A answers carry no IPv6 address');
      const ping = await k.docker(['exec', b, 'ping', '-6', '-c', '1', '-W', '5', 'webv6']);
      assert.equal(ping.code, 0, `ping -6 by name: ${ping.stdout}${ping.stderr}`);

      await k.ok(['network', 'create', '--subnet', `${freeSubnet()}.0/24`, v4only]);
      await k.ok(['network', 'connect', v4only, b]);
      const c = `dc-${rnd()}`;
      await k.ok(['run', '-d', '--name', c, '--network', v4only, 'busybox', 'sleep', '300']);
      const none = await k.docker(['exec', b, 'nslookup', '-type=AAAA', c, '127.0.0.11']);
      assert.doesNotMatch(none.stdout, /Address: [0-9a-f:]+:/, `no AAAA off IPv6 networks: ${none.stdout}`);
      await rmf(c);
    } finally {
      await rmf(a, b);
      await netRm(name, v4only);
    }
  });

  test('-p publishes on [::] too: docker port, ps and inspect show it, and [::1] reaches the container', async () => {
    const { name } = await v6Net();
    const web4 = `w4-${rnd()}`;
    const web6 = `w6-${rnd()}`;
    const p4 = await freePorts(3);
    const p6 = p4 + 1;
    const p7 = p4 + 2;
    try {
      await k.ok(['run', '-d', '--name', web4, '-p', `${p4}:80`, 'busybox', ...httpdCmd('four')]);
      await k.ok(['run', '-d', '--name', web6, '--network', name, '-p', `${p6}:80`, 'busybox', ...httpdCmd('six')]);
      assert.deepEqual(lines(await k.ok(['port', web4])), [`80/tcp -> 0.0.0.0:${p4}`, `80/tcp -> [::]:${p4}`]);
      assert.deepEqual(lines(await k.ok(['port', web4, '80'])), [`0.0.0.0:${p4}`, `[::]:${p4}`]);
      assert.equal(
        (await k.ok(['ps', '--filter', `name=${web4}`, '--format', '{{.Ports}}'])).trim(),
        `0.0.0.0:${p4}->80/tcp, [::]:${p4}->80/tcp`,
      );
      const c = (await ctrJson(web6)) as unknown as { NetworkSettings: { Ports: Record<string, unknown> } };
      assert.deepEqual(c.NetworkSettings.Ports['80/tcp'], [
        { HostIp: '0.0.0.0', HostPort: String(p6) },
        { HostIp: '::', HostPort: String(p6) },
      ]);
      // ip6tables mirrors the IPv4 rules for the IPv6 network: masquerade, and DNAT of the [::]
      // port to the container's IPv6 address (web4 has none: the proxy alone serves its [::] port).
      const { chainPrefix } = networkTag(k.namespace);
      const n6 = await netInspect(name);
      const sub6 = (n6.IPAM.Config ?? []).find((c) => (c.Subnet ?? '').includes(':'))?.Subnet ?? '';
      const ip6 = (await ep6(web6, name)).GlobalIPv6Address;
      const saved6 = execFileSync('ip6tables-save', { encoding: 'utf8' });
      assert.ok(saved6.includes(`-A ${chainPrefix}-POSTROUTING -s ${sub6} ! -o br-${n6.Id.slice(0, 12)} -j MASQUERADE`), saved6);
      assert.ok(saved6.includes(`--dport ${p6} -j DNAT --to-destination [${ip6}]:80`), saved6);
      assert.ok(!saved6.includes(`--dport ${p4} -j DNAT`), 'no IPv6 DNAT to an IPv4-only container');
      for (const [port, body] of [
        [p4, 'four'],
        [p6, 'six'],
      ] as const) {
        await k.until(`[::1]:${port} answers`, async () => {
          const r = await httpGet('::1', port);
          return 'status' in r && r.status === 200;
        });
        assert.deepEqual(await httpGet('::1', port), { status: 200, body: `${body}\n` });
        assert.deepEqual(await httpGet('127.0.0.1', port), { status: 200, body: `${body}\n` });
      }
      // An explicit IPv4 host address: no IPv6 twin.
      const lo = `wl-${rnd()}`;
      await k.ok(['run', '-d', '--name', lo, '-p', `127.0.0.1:${p7}:80`, 'busybox', ...httpdCmd('lo')]);
      assert.deepEqual(lines(await k.ok(['port', lo])), [`80/tcp -> 127.0.0.1:${p7}`]);
      await rmf(lo);
    } finally {
      await rmf(web4, web6);
      await netRm(name);
    }
    const after6 = execFileSync('ip6tables-save', { encoding: 'utf8' });
    assert.ok(!after6.includes(`--dport ${p6} -j DNAT`), 'the DNAT went with the container');
  });
});
