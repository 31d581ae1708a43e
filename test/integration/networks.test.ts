// Networks through the real docker CLI (and raw HTTP where the status matters) against a real
// berthd: the built-in networks, and `docker network create|ls|inspect|rm|prune` with their
// filters, errors and events. Expected texts and statuses are dockerd's (measured on dockerd
// 20.10). Containers on networks are in networks-containers.test.ts; connect/disconnect, modes,
// isolation, NAT, leftovers and restart in networks-connect.test.ts; shared helpers in
// networks-kit.ts. Test traffic goes only to loopback and to what is created here.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lines, sleep } from './container-kit';
import { rnd } from './net-tools';
import {
  type EventJson,
  apiError,
  freeSubnet,
  ipv4ToInt,
  k,
  linkAddrs,
  netInspect,
  netRm,
  overlaps,
  rmf,
  unixNow,
  useNetworksKit,
} from './networks-kit';

useNetworksKit();

describe('built-in networks', () => {
  test('bridge, host and none are listed with their drivers, and the default bridge exists on the host', async () => {
    const ls = lines(await k.ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']));
    for (const want of ['bridge bridge local', 'host host local', 'none null local'])
      assert.ok(ls.includes(want), `${want} in ${ls.join(', ')}`);
    assert.deepEqual(lines(await k.ok(['network', 'ls', '--filter', 'type=builtin', '--format', '{{.Name}}'])), ['bridge', 'host', 'none']);

    const bridge = await netInspect('bridge');
    assert.match(bridge.Id, /^[0-9a-f]{64}$/);
    assert.equal(bridge.Driver, 'bridge');
    assert.equal(bridge.Scope, 'local');
    assert.equal(bridge.Internal, false);
    assert.equal(bridge.IPAM.Driver, 'default');
    assert.equal(bridge.IPAM.Config?.length, 1);
    const { Subnet, Gateway } = bridge.IPAM.Config[0];
    assert.ok(Subnet && Gateway, JSON.stringify(bridge.IPAM));
    assert.ok(overlaps(Subnet, `${Gateway}/32`), `gateway ${Gateway} in ${Subnet}`);
    const opts = bridge.Options ?? {};
    assert.equal(opts['com.docker.network.bridge.default_bridge'], 'true');
    assert.equal(opts['com.docker.network.bridge.enable_icc'], 'true');
    assert.equal(opts['com.docker.network.bridge.host_binding_ipv4'], '0.0.0.0');
    assert.equal(opts['com.docker.network.driver.mtu'], '1500');
    // Berth's default bridge is its own (berth0 / berth-<hash>), never docker0, which dockerd owns.
    const brName = opts['com.docker.network.bridge.name'];
    assert.match(brName, /^berth/);
    assert.deepEqual(linkAddrs(brName), [`${Gateway}/${Subnet.split('/')[1]}`]);

    for (const [name, driver] of [
      ['host', 'host'],
      ['none', 'null'],
    ]) {
      const n = await netInspect(name);
      assert.equal(n.Driver, driver);
      assert.deepEqual(n.IPAM.Config ?? [], []);
      assert.match(n.Id, /^[0-9a-f]{64}$/);
    }
  });

  test('built-in networks cannot be removed or created again', async () => {
    for (const name of ['bridge', 'host', 'none']) {
      const r = await k.fails(['network', 'rm', name]);
      assert.match(r.stderr, new RegExp(`Error response from daemon: ${name} is a pre-defined network and cannot be removed`));
      const e = await apiError('DELETE', `/networks/${name}`);
      assert.equal(e.status, 403);
      assert.equal(e.message, `${name} is a pre-defined network and cannot be removed`);
    }
    const dup = await apiError('POST', '/networks/create', { Name: 'bridge' });
    assert.equal(dup.status, 403);
    assert.match(dup.message, /^operation is not permitted on predefined bridge network/);
    const host = await apiError('POST', '/networks/create', { Name: 'x-host-' + rnd(), Driver: 'host' });
    assert.equal(host.status, 403);
    assert.equal(host.message, 'only one instance of "host" network is allowed');
    const nul = await apiError('POST', '/networks/create', { Name: 'x-null-' + rnd(), Driver: 'null' });
    assert.equal(nul.status, 403);
    assert.equal(nul.message, 'only one instance of "null" network is allowed');
    const plugin = await apiError('POST', '/networks/create', { Name: 'x-plugin-' + rnd(), Driver: 'nosuch' });
    assert.equal(plugin.status, 404);
    assert.equal(plugin.message, 'plugin "nosuch" not found');
  });
});

describe('network create, inspect, ls and rm', () => {
  test('create with every IPAM option, inspect, ls, and rm removes the bridge', async () => {
    const s = freeSubnet();
    const name = `full-${rnd()}`;
    const br = `bt${rnd()}`;
    const id = (
      await k.ok([
        'network',
        'create',
        '--subnet',
        `${s}.0/24`,
        '--gateway',
        `${s}.254`,
        '--ip-range',
        `${s}.128/25`,
        '--aux-address',
        `a=${s}.5`,
        '--aux-address',
        `b=${s}.6`,
        '--attachable',
        '--label',
        'k=v',
        '--label',
        'k2',
        '-o',
        `com.docker.network.bridge.name=${br}`,
        '-o',
        'foo=bar',
        name,
      ])
    ).trim();
    assert.match(id, /^[0-9a-f]{64}$/);

    const n = await netInspect(name);
    assert.equal(n.Name, name);
    assert.equal(n.Id, id);
    assert.equal(n.Driver, 'bridge');
    assert.equal(n.Scope, 'local');
    assert.equal(n.EnableIPv6, false);
    assert.equal(n.Internal, false);
    assert.equal(n.Attachable, true);
    assert.equal(n.Ingress, false);
    assert.ok(!Number.isNaN(Date.parse(n.Created)), n.Created);
    assert.equal(n.IPAM.Driver, 'default');
    assert.deepEqual(n.IPAM.Config, [
      { Subnet: `${s}.0/24`, IPRange: `${s}.128/25`, Gateway: `${s}.254`, AuxiliaryAddresses: { a: `${s}.5`, b: `${s}.6` } },
    ]);
    assert.deepEqual(n.Options, { 'com.docker.network.bridge.name': br, foo: 'bar' });
    assert.deepEqual(n.Labels, { k: 'v', k2: '' });
    assert.deepEqual(n.Containers ?? {}, {});
    // The Linux bridge carries the gateway.
    assert.deepEqual(linkAddrs(br), [`${s}.254/24`]);

    // By ID prefix too; ls shows it.
    assert.equal((await netInspect(id.slice(0, 12))).Name, name);
    assert.deepEqual(
      lines(await k.ok(['network', 'ls', '--filter', `name=${name}`, '--format', '{{.ID}} {{.Name}} {{.Driver}} {{.Scope}}'])),
      [`${id.slice(0, 12)} ${name} bridge local`],
    );
    assert.ok(lines(await k.ok(['network', 'ls', '-q', '--no-trunc'])).includes(id));

    // A container gets an address from the ip-range, never the gateway or an aux address.
    const ip = (await k.runOut(['--network', name], ['sh', '-c', "ip -o -4 addr show eth0 | sed -E 's/.*inet ([0-9.]+).*/\\1/'"])).trim();
    const last = Number(ip.split('.')[3]);
    assert.ok(ip.startsWith(`${s}.`) && last >= 128 && last < 254, `${ip} in ${s}.128/25 below the gateway`);

    assert.equal(await k.ok(['network', 'rm', name]), `${name}\n`);
    assert.equal(linkAddrs(br), null, `bridge ${br} removed`);
    const gone = await apiError('GET', `/networks/${name}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.message, `network ${name} not found`);
  });

  test('without options: a subnet from the pools, the first host address as gateway, bridge br-<id>', async () => {
    const name = `plain-${rnd()}`;
    const id = (await k.ok(['network', 'create', name])).trim();
    const n = await netInspect(name);
    assert.equal(n.IPAM.Config?.length, 1);
    const { Subnet, Gateway } = n.IPAM.Config[0];
    assert.ok(Subnet && Gateway);
    const [net, prefix] = Subnet.split('/');
    assert.equal(ipv4ToInt(Gateway), ipv4ToInt(net) + 1);
    assert.deepEqual(n.Options ?? {}, {});
    assert.deepEqual(n.Labels ?? {}, {});
    assert.equal(n.Internal, false);
    assert.equal(n.Attachable, false);
    assert.deepEqual(linkAddrs(`br-${id.slice(0, 12)}`), [`${Gateway}/${prefix}`]);
    // Another network gets another, non-overlapping subnet.
    const other = `plain2-${rnd()}`;
    await k.ok(['network', 'create', other]);
    const sub2 = (await netInspect(other)).IPAM.Config?.[0].Subnet ?? '';
    assert.ok(sub2 !== '' && !overlaps(Subnet, sub2), `${sub2} vs ${Subnet}`);
    await k.ok(['network', 'rm', name, other]);
    assert.equal(linkAddrs(`br-${id.slice(0, 12)}`), null);
  });

  test('create errors: duplicate name, overlapping or invalid subnet, gateway outside', async () => {
    const s = freeSubnet();
    const name = `dup-${rnd()}`;
    await k.ok(['network', 'create', '--subnet', `${s}.0/24`, name]);

    const dup = await k.fails(['network', 'create', name]);
    assert.equal(dup.stderr.trim(), `Error response from daemon: network with name ${name} already exists`);
    const dupApi = await apiError('POST', '/networks/create', { Name: name, CheckDuplicate: true });
    assert.equal(dupApi.status, 409);
    assert.equal(dupApi.message, `network with name ${name} already exists`);

    const over = await apiError('POST', '/networks/create', { Name: `over-${rnd()}`, IPAM: { Config: [{ Subnet: `${s}.0/25` }] } });
    assert.equal(over.status, 403);
    assert.match(over.message, /Pool overlaps with other one on this address space$/);
    const overCli = await k.fails(['network', 'create', '--subnet', `${s}.128/25`, `over-${rnd()}`]);
    assert.match(overCli.stderr, /Error response from daemon: .*Pool overlaps with other one on this address space/);

    // dockerd 20.10: "Invalid subnet foo : invalid CIDR address: foo"; current: "invalid subnet foo: invalid CIDR block notation".
    const bad = await apiError('POST', '/networks/create', { Name: `bad-${rnd()}`, IPAM: { Config: [{ Subnet: 'foo' }] } });
    assert.match(bad.message, /invalid subnet foo ?: invalid CIDR/i);
    const s2 = freeSubnet();
    const gw = await apiError('POST', '/networks/create', {
      Name: `gw-${rnd()}`,
      IPAM: { Config: [{ Subnet: `${s2}.0/24`, Gateway: '10.97.0.1' }] },
    });
    assert.match(
      gw.message,
      /(failed to allocate gateway \(10\.97\.0\.1\): Requested address is out of range|invalid gateway 10\.97\.0\.1)/,
    );
    const aux = await apiError('POST', '/networks/create', {
      Name: `aux-${rnd()}`,
      IPAM: { Config: [{ Subnet: `${s2}.0/24`, AuxiliaryAddresses: { x: '10.97.0.3' } }] },
    });
    assert.match(aux.message, /(auxiliary address: \(x:10\.97\.0\.3\) must belong to the master pool|invalid auxiliary address x)/);
    // The CLI checks these itself before asking the daemon.
    const cliGw = await k.fails(['network', 'create', '--subnet', `${s2}.0/24`, '--gateway', '10.97.0.1', `gw-${rnd()}`]);
    assert.match(cliGw.stderr, /no matching subnet for gateway 10\.97\.0\.1/);
    // None of the failed creates left a network behind.
    assert.deepEqual(lines(await k.ok(['network', 'ls', '--filter', 'name=over-', '-q'])), []);
    assert.deepEqual(lines(await k.ok(['network', 'ls', '--filter', 'name=gw-', '-q'])), []);
    await k.ok(['network', 'rm', name]);
  });

  test('rm: unknown, in use by a running container (refused), then free once it is gone', async () => {
    const unknown = await k.fails(['network', 'rm', 'nosuch-net']);
    assert.match(unknown.stderr, /Error response from daemon: network nosuch-net not found/);
    const e404 = await apiError('DELETE', '/networks/nosuch-net');
    assert.equal(e404.status, 404);
    assert.equal(e404.message, 'network nosuch-net not found');

    const name = `busy-${rnd()}`;
    const id = (await k.ok(['network', 'create', name])).trim();
    await k.ok(['run', '-d', '--name', `busy-c-${name}`, '--network', name, 'busybox', 'sleep', '600']);
    const refused = await apiError('DELETE', `/networks/${name}`);
    assert.equal(refused.status, 403);
    assert.equal(refused.message, `error while removing network: network ${name} id ${id} has active endpoints`);
    const cli = await k.fails(['network', 'rm', name]);
    assert.match(
      cli.stderr,
      new RegExp(`Error response from daemon: error while removing network: network ${name} id ${id} has active endpoints`),
    );
    // Several names: the good ones go, the bad one is reported, exit 1.
    const spare = `spare-${rnd()}`;
    await k.ok(['network', 'create', spare]);
    const mixed = await k.fails(['network', 'rm', 'nosuch-net', spare]);
    assert.equal(mixed.stdout, `${spare}\n`);
    assert.match(mixed.stderr, /network nosuch-net not found/);

    await rmf(`busy-c-${name}`);
    assert.equal(await k.ok(['network', 'rm', name]), `${name}\n`);
  });

  test('ls filters: driver, id, label, name, scope, type, dangling, and bad filters', async () => {
    const fa = `fa-${rnd()}`;
    const fb = `fb-${rnd()}`;
    const used = `fu-${rnd()}`;
    const idA = (await k.ok(['network', 'create', '--label', 'env=prod', '--label', 'tier', fa])).trim();
    await k.ok(['network', 'create', '--internal', '--label', 'env=dev', fb]);
    await k.ok(['network', 'create', used]);
    await k.ok(['run', '-d', '--name', `c-${used}`, '--network', used, 'busybox', 'sleep', '600']);
    const names = async (...filters: string[]): Promise<string[]> =>
      lines(await k.ok(['network', 'ls', ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Name}}']));
    const ours = (l: string[]): string[] => l.filter((n) => [fa, fb, used].includes(n) || ['bridge', 'host', 'none'].includes(n));

    assert.deepEqual(ours(await names('driver=bridge')), ['bridge', fa, fb, used].sort());
    assert.deepEqual(await names('driver=null'), ['none']);
    assert.deepEqual(await names('driver=host'), ['host']);
    assert.deepEqual(await names(`id=${idA.slice(0, 10)}`), [fa]);
    assert.deepEqual(await names('label=env'), [fa, fb].sort());
    assert.deepEqual(await names('label=env=prod'), [fa]);
    assert.deepEqual(await names('label=tier'), [fa]);
    assert.deepEqual(await names('label=env', 'label=tier'), [fa]);
    assert.deepEqual(await names(`name=${fa.slice(0, 6)}`), [fa]);
    assert.deepEqual(ours(await names('scope=local')), ['bridge', fa, fb, 'host', 'none', used].sort());
    assert.deepEqual(await names('scope=swarm'), []);
    assert.deepEqual(ours(await names('type=custom')), [fa, fb, used].sort());
    assert.deepEqual(await names('type=builtin'), ['bridge', 'host', 'none']);
    // dangling: custom networks without endpoints (dockerd 20.10 listed every custom network here,
    // in-use ones too, because its list had empty Containers; current dockerd and Berth check use).
    const dangling = ours(await names('dangling=true'));
    assert.ok(dangling.includes(fa) && dangling.includes(fb), dangling.join());
    assert.ok(!dangling.includes(used) && !dangling.includes('bridge'), dangling.join());
    assert.ok((await names('dangling=false')).includes('bridge'));

    // The table and the JSON format.
    const table = lines(await k.ok(['network', 'ls', '--filter', `name=${fa}`]));
    assert.match(table[0], /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    assert.match(table[1], new RegExp(`^${idA.slice(0, 12)}\\s+${fa}\\s+bridge\\s+local$`));
    const js = JSON.parse(await k.ok(['network', 'ls', '--filter', `name=${fb}`, '--format', '{{json .}}'])) as Record<string, string>;
    assert.equal(js.Internal, 'true');
    assert.equal(js.Labels, 'env=dev');
    assert.equal(js.Driver, 'bridge');
    assert.equal(js.IPv6, 'false');

    const badType = await k.fails(['network', 'ls', '--filter', 'type=foo']);
    assert.match(badType.stderr, /invalid filter: 'type'='foo'/);
    const badDangling = await apiError('GET', `/networks?filters=${encodeURIComponent(JSON.stringify({ dangling: ['maybe'] }))}`);
    assert.equal(badDangling.status, 400);
    // dockerd 20.10: `invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`; current: "invalid filter 'dangling=…'".
    assert.match(
      badDangling.message,
      /^invalid (value for filter 'dangling', must be "true" \(or "1"\), or "false" \(or "0"\)|filter 'dangling=\[?maybe\]?')$/,
    );
    const badKey = await apiError('GET', `/networks?filters=${encodeURIComponent(JSON.stringify({ foo: ['bar'] }))}`);
    assert.equal(badKey.status, 400);
    // dockerd 20.10 capitalises it, current dockerd does not.
    assert.match(badKey.message, /^[Ii]nvalid filter 'foo'$/);

    await rmf(`c-${used}`);
    await netRm(fa, fb, used);
  });

  test('prune removes unused custom networks only, honours label filters, and reports them', async () => {
    // Leave nothing from earlier tests around: each prune result below is then exact.
    await k.request('POST', '/networks/prune');
    const p1 = `p1-${rnd()}`;
    const keep = `pk-${rnd()}`;
    const inUse = `pu-${rnd()}`;
    await k.ok(['network', 'create', p1]);
    await k.ok(['network', 'create', '--label', 'keep=1', keep]);
    await k.ok(['network', 'create', inUse]);
    await k.ok(['run', '-d', '--name', `c-${inUse}`, '--network', inUse, 'busybox', 'sleep', '600']);

    const filtered = await k.request('POST', `/networks/prune?filters=${encodeURIComponent(JSON.stringify({ 'label!': ['keep'] }))}`);
    assert.equal(filtered.status, 200, filtered.body);
    assert.deepEqual(JSON.parse(filtered.body), { NetworksDeleted: [p1] });

    const cli = await k.ok(['network', 'prune', '-f']);
    assert.equal(cli, `Deleted Networks:\n${keep}\n\n`);
    const names = lines(await k.ok(['network', 'ls', '--format', '{{.Name}}']));
    assert.ok(names.includes(inUse) && names.includes('bridge') && !names.includes(keep) && !names.includes(p1), names.join());

    const none = await k.request('POST', '/networks/prune');
    assert.equal(none.status, 200);
    const deleted = (JSON.parse(none.body) as { NetworksDeleted: string[] | null }).NetworksDeleted;
    assert.ok(deleted === null || deleted.length === 0, none.body);
    assert.equal(await k.ok(['network', 'prune', '-f']), '');

    await rmf(`c-${inUse}`);
    await netRm(inUse);
  });

  test('events: network create, connect, disconnect and destroy', async () => {
    const since = unixNow(-1);
    const name = `ev-${rnd()}`;
    const id = (await k.ok(['network', 'create', name])).trim();
    const cid = (await k.ok(['run', '-d', '--name', `c-${name}`, 'busybox', 'sleep', '600'])).trim();
    await k.ok(['network', 'connect', name, `c-${name}`]);
    await k.ok(['network', 'disconnect', name, `c-${name}`]);
    await k.ok(['network', 'rm', name]);
    await rmf(`c-${name}`);
    await sleep(200);
    const out = await k.ok([
      'events',
      '--since',
      since,
      '--until',
      unixNow(),
      '--filter',
      'type=network',
      '--filter',
      `network=${id}`,
      '--format',
      '{{json .}}',
    ]);
    const evs = lines(out).map((l) => JSON.parse(l) as EventJson);
    // dockerd 20.10 repeats the disconnect event; compare the sequence without repeats.
    const seq = evs.map((e) => e.Action).filter((a, i, all) => i === 0 || all[i - 1] !== a);
    assert.deepEqual(seq, ['create', 'connect', 'disconnect', 'destroy'], out);
    for (const e of evs) {
      assert.equal(e.Type, 'network');
      assert.equal(e.scope, 'local');
      assert.equal(e.Actor.ID, id);
      assert.equal(e.Actor.Attributes.name, name);
      assert.equal(e.Actor.Attributes.type, 'bridge');
      if (e.Action === 'connect' || e.Action === 'disconnect') assert.equal(e.Actor.Attributes.container, cid);
      else assert.equal(e.Actor.Attributes.container, undefined);
    }
    // A container start on the default bridge connects it to `bridge`, its exit disconnects it.
    const since2 = unixNow(-1);
    const rid = (await k.ok(['run', '-d', 'busybox', 'true'])).trim();
    await k.ok(['wait', rid]);
    await sleep(200);
    const out2 = await k.ok(['events', '--since', since2, '--until', unixNow(), '--filter', 'type=network', '--format', '{{json .}}']);
    const mine = lines(out2)
      .map((l) => JSON.parse(l) as EventJson)
      .filter((e) => e.Actor.Attributes.container === rid);
    assert.deepEqual([...new Set(mine.map((e) => e.Action))], ['connect', 'disconnect'], out2);
    assert.equal(mine[0].Actor.Attributes.name, 'bridge');
    await rmf(rid);
  });
});
