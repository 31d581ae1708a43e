// Containers on networks through the real docker CLI against a real berthd: user networks (names,
// aliases, short IDs through the embedded DNS, traffic), legacy links, network status, wrongly typed
// fields, DNS forwarding and `docker ps --filter network`. Texts and statuses are dockerd's;
// NXDOMAIN for unknown single-label names is Berth's documented choice.
// Test traffic goes only to loopback and to the containers created here.

import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as dnsPacket from 'dns-packet';
import { describe, test } from 'node:test';
import { lines } from './container-kit';
import { rnd } from './net-tools';
import {
  addrInside,
  createAndStartFails,
  ctrJson,
  execOut,
  freeSubnet,
  k,
  netInspect,
  netRm,
  nslookup,
  rmf,
  wget,
  httpd,
  useNetworksKit,
} from './networks-kit';

useNetworksKit();

describe('containers on a user network', () => {
  test('two containers resolve each other by name, alias, short ID and name.network, and exchange data', async () => {
    const net = `app-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const srv = `srv-${rnd()}`;
    const srvId = (
      await k.ok([
        'run',
        '-d',
        '--name',
        srv,
        '--network',
        net,
        '--network-alias',
        'web',
        '--network-alias',
        'www',
        'busybox',
        ...httpd('hello-from-srv'),
      ])
    ).trim();
    const cli = `cli-${rnd()}`;
    await k.ok(['run', '-d', '--name', cli, '--network', net, 'busybox', 'sleep', '600']);
    const srvIp = (await ctrJson(srv)).NetworkSettings.Networks[net].IPAddress;
    const cliIp = (await ctrJson(cli)).NetworkSettings.Networks[net].IPAddress;
    assert.ok(srvIp && cliIp);

    for (const name of [srv, 'web', 'www', srvId.slice(0, 12), `${srv}.${net}`]) {
      const r = await nslookup(cli, name);
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(r.addrs, [srvIp], `${name}: ${r.out}`);
      // The embedded DNS answers on 127.0.0.11 inside the container, as dockerd's.
      assert.match(r.out, /Server:\s+127\.0\.0\.11\n/);
    }
    // And the other way round.
    assert.deepEqual((await nslookup(srv, cli)).addrs, [cliIp]);
    // Reverse: the address maps to name.network (dockerd: `2.0.99.10.in-addr.arpa\tname = srv.lk`).
    const ptr = await nslookup(cli, srvIp);
    assert.equal(ptr.code, 0, ptr.out);
    assert.match(ptr.out, new RegExp(`in-addr\\.arpa\\s+name = ${srv}\\.${net}\\.?\\n`));

    // Data both ways: HTTP by alias and by name, and a line through nc.
    await k.until('httpd in the server to answer', async () => (await wget(net, 'http://web/', 2)).code === 0, 20_000);
    assert.equal((await wget(net, 'http://web/')).out, 'hello-from-srv\n');
    assert.equal(await execOut(cli, ['timeout', '5', 'wget', '-qO-', `http://${srv}/`]), 'hello-from-srv\n');
    const ncSrv = `nc-${rnd()}`;
    // -i: busybox nc shuts its sending half once its stdin ends; with /dev/null that happens at
    // accept, and a client whose `echo` had not yet run then sees EOF and leaves without sending.
    await k.ok(['run', '-d', '-i', '--name', ncSrv, '--network', net, 'busybox', 'sh', '-c', 'nc -l -p 7000 > /tmp/got; cat /tmp/got']);
    await k.until('nc to listen', async () => (await k.docker(['exec', ncSrv, 'sh', '-c', 'netstat -ltn | grep -q :7000'])).code === 0);
    await execOut(cli, ['sh', '-c', `echo ping-data | nc ${ncSrv} 7000`]);
    await k.until('the nc server to exit', async () => !(await ctrJson(ncSrv)).State.Running);
    assert.equal(await k.ok(['logs', ncSrv]), 'ping-data\n');

    // A name that is not ours and has no dots: NXDOMAIN at once (dockerd 20.10 forwarded it).
    const unknown = await nslookup(cli, `nosuchname${rnd()}`);
    assert.notEqual(unknown.code, 0, unknown.out);
    // Answered (NXDOMAIN), not left to the resolver's timeout ("connection timed out").
    assert.match(unknown.out, /NXDOMAIN/);

    // From another network, and from the default bridge, the names are not visible.
    const other = `other-${rnd()}`;
    await k.ok(['network', 'create', other]);
    const outsider = `out-${rnd()}`;
    await k.ok(['run', '-d', '--name', outsider, '--network', other, 'busybox', 'sleep', '600']);
    for (const name of [srv, 'web']) {
      const r = await nslookup(outsider, name);
      assert.notEqual(r.code, 0, r.out);
      assert.deepEqual(r.addrs, []);
    }
    await rmf(srv, cli, ncSrv, outsider);
    await netRm(net, other);
  });

  test('/etc/hosts, /etc/hostname and resolv.conf on a user network, the default bridge and none', async () => {
    const net = `etc-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const u = `u-${rnd()}`;
    const uid = (await k.ok(['run', '-d', '--name', u, '--network', net, 'busybox', 'sleep', '600'])).trim();
    const uip = (await ctrJson(u)).NetworkSettings.Networks[net].IPAddress;
    const base =
      '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
    assert.equal(await execOut(u, ['cat', '/etc/hosts']), `${base}${uip}\t${uid.slice(0, 12)}\n`);
    assert.equal(await execOut(u, ['cat', '/etc/hostname']), `${uid.slice(0, 12)}\n`);
    const resolv = lines(await execOut(u, ['cat', '/etc/resolv.conf']));
    assert.deepEqual(
      resolv.filter((l) => l.startsWith('nameserver')),
      ['nameserver 127.0.0.11'],
    );
    assert.ok(resolv.includes('options ndots:0'), resolv.join('\n'));

    // The default bridge: an address line too, but the host's resolvers (no embedded DNS there).
    const d = `d-${rnd()}`;
    const did = (await k.ok(['run', '-d', '--name', d, 'busybox', 'sleep', '600'])).trim();
    const dNet = (await ctrJson(d)).NetworkSettings.Networks.bridge;
    assert.equal(await execOut(d, ['cat', '/etc/hosts']), `${base}${dNet.IPAddress}\t${did.slice(0, 12)}\n`);
    const hostNs = lines(fs.readFileSync('/etc/resolv.conf', 'utf8'))
      .filter((l) => /^nameserver\s/.test(l))
      .map((l) => l.split(/\s+/)[1])
      .filter((ip) => !ip.startsWith('127.') && ip !== '::1');
    const dNs = lines(await execOut(d, ['cat', '/etc/resolv.conf']))
      .filter((l) => l.startsWith('nameserver'))
      .map((l) => l.split(/\s+/)[1]);
    assert.ok(!dNs.includes(dNet.Gateway), `no DNS on the default bridge: ${dNs.join()}`);
    if (hostNs.length > 0) assert.deepEqual(dNs, hostNs);

    // none: no address line.
    const nid = (await k.ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '600'])).trim();
    assert.equal(await execOut(nid, ['cat', '/etc/hosts']), base);

    // Two networks: one line per address.
    await k.ok(['network', 'connect', 'bridge', u]);
    const both = (await ctrJson(u)).NetworkSettings.Networks;
    const hosts = lines(await execOut(u, ['cat', '/etc/hosts']));
    assert.ok(
      hosts.includes(`${both[net].IPAddress}\t${uid.slice(0, 12)}`) && hosts.includes(`${both.bridge.IPAddress}\t${uid.slice(0, 12)}`),
      hosts.join('\n'),
    );
    await rmf(u, d, nid);
    await netRm(net);
  });

  test("inspect NetworkSettings with --ip and --network-alias, and the network's Containers map", async () => {
    const s = freeSubnet();
    const net = `ins-${rnd()}`;
    const netId = (await k.ok(['network', 'create', '--subnet', `${s}.0/24`, net])).trim();
    const name = `ins-c-${rnd()}`;
    const id = (
      await k.ok([
        'run',
        '-d',
        '--name',
        name,
        '--network',
        net,
        '--network-alias',
        'web',
        '--network-alias',
        'www',
        '--ip',
        `${s}.10`,
        'busybox',
        'sleep',
        '600',
      ])
    ).trim();
    const c = await ctrJson(name);
    assert.equal(c.HostConfig.NetworkMode, net);
    const ns = c.NetworkSettings;
    assert.match(ns.SandboxID, /^[0-9a-f]{64}$/);
    assert.notEqual(ns.SandboxKey, '');
    assert.deepEqual(ns.Ports ?? {}, {});
    assert.deepEqual(Object.keys(ns.Networks), [net]);
    const ep = ns.Networks[net];
    assert.deepEqual(ep.IPAMConfig, { IPv4Address: `${s}.10` });
    assert.equal(ep.NetworkID, netId);
    assert.match(ep.EndpointID, /^[0-9a-f]{64}$/);
    assert.equal(ep.Gateway, `${s}.1`);
    assert.equal(ep.IPAddress, `${s}.10`);
    assert.equal(ep.IPPrefixLen, 24);
    assert.match(ep.MacAddress, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    // Aliases hold the given ones (dockerd before API 1.45 added the short ID); DNSNames all names.
    assert.ok(ep.Aliases?.includes('web') && ep.Aliases.includes('www'), JSON.stringify(ep.Aliases));
    for (const n of [name, 'web', 'www', id.slice(0, 12)])
      assert.ok(ep.DNSNames?.includes(n), `${n} in DNSNames ${JSON.stringify(ep.DNSNames)}`);

    // What the container sees matches.
    assert.equal(await addrInside(name, 'eth0'), `${s}.10`);
    assert.equal((await execOut(name, ['cat', '/sys/class/net/eth0/address'])).trim(), ep.MacAddress);
    assert.match(await execOut(name, ['ip', 'route']), new RegExp(`default via ${s}\\.1 dev eth0`));

    // The network lists it with the same endpoint.
    const n = await netInspect(net);
    assert.deepEqual(n.Containers, {
      [id]: { Name: name, EndpointID: ep.EndpointID, MacAddress: ep.MacAddress, IPv4Address: `${s}.10/24`, IPv6Address: '' },
    });
    assert.equal((await k.ok(['ps', '--filter', `id=${id}`, '--format', '{{.Networks}}'])).trim(), net);

    // Stopped: still configured on the network, but no endpoint; the network's map drops it.
    await k.ok(['stop', '-t', '0', name]);
    const stopped = (await ctrJson(name)).NetworkSettings;
    assert.deepEqual(Object.keys(stopped.Networks), [net]);
    assert.equal(stopped.Networks[net].IPAddress, '');
    assert.equal(stopped.Networks[net].EndpointID, '');
    assert.deepEqual((await netInspect(net)).Containers ?? {}, {});
    // Started again: the static address comes back.
    await k.ok(['start', name]);
    assert.equal((await ctrJson(name)).NetworkSettings.Networks[net].IPAddress, `${s}.10`);
    await rmf(name);
    await netRm(net);
  });

  test('--link aliases resolve for the linking container only; --mac-address is applied', async () => {
    const netName = `lk-${rnd()}`;
    await k.ok(['network', 'create', netName]);
    const srv = `lk-srv-${rnd()}`;
    await k.ok(['run', '-d', '--name', srv, '--network', netName, 'busybox', 'sleep', '600']);
    const srvIp = (await ctrJson(srv)).NetworkSettings.Networks[netName].IPAddress;
    const linker = `lk-c-${rnd()}`;
    await k.ok(['run', '-d', '--name', linker, '--network', netName, '--link', `${srv}:db`, 'busybox', 'sleep', '600']);
    assert.deepEqual((await nslookup(linker, 'db')).addrs, [srvIp]);
    const bystander = `lk-b-${rnd()}`;
    await k.ok(['run', '-d', '--name', bystander, '--network', netName, 'busybox', 'sleep', '600']);
    const r = await nslookup(bystander, 'db');
    assert.notEqual(r.code, 0, r.out);
    assert.deepEqual(r.addrs, []);

    const mac = '02:42:aa:bb:cc:dd';
    const withMac = `mac-${rnd()}`;
    await k.ok(['run', '-d', '--name', withMac, '--network', netName, '--mac-address', mac, 'busybox', 'sleep', '600']);
    assert.equal((await execOut(withMac, ['cat', '/sys/class/net/eth0/address'])).trim(), mac);
    assert.equal((await ctrJson(withMac)).NetworkSettings.Networks[netName].MacAddress, mac);
    await rmf(srv, linker, bystander, withMac);
    await netRm(netName);
  });

  test('run errors: --ip outside or taken, --ip or alias on the default bridge, unknown network', async () => {
    const s = freeSubnet();
    const net = `runerr-${rnd()}`;
    await k.ok(['network', 'create', '--subnet', `${s}.0/24`, net]);
    await k.ok(['run', '-d', '--name', `holder-${net}`, '--network', net, '--ip', `${s}.50`, 'busybox', 'sleep', '600']);

    const taken = await k.docker(['run', '-d', '--name', `taken-${net}`, '--network', net, '--ip', `${s}.50`, 'busybox', 'sleep', '600']);
    assert.equal(taken.code, 125);
    assert.match(taken.stderr, /Error response from daemon: Address already in use/);
    const takenApi = await createAndStartFails(`taken2-${net}`, {
      Image: 'busybox',
      Cmd: ['true'],
      HostConfig: { NetworkMode: net },
      NetworkingConfig: { EndpointsConfig: { [net]: { IPAMConfig: { IPv4Address: `${s}.50` } } } },
    });
    assert.equal(takenApi.status, 403);
    assert.equal(takenApi.message, 'Address already in use');

    const outside = await k.docker(['run', '-d', '--name', `outside-${net}`, '--network', net, '--ip', '10.98.0.5', 'busybox', 'true']);
    assert.equal(outside.code, 125);
    assert.match(
      outside.stderr,
      /Error response from daemon: invalid address 10\.98\.0\.5: It does not belong to any of this network's subnets/i,
    );

    const onBridge = await createAndStartFails(`ipbr-${net}`, {
      Image: 'busybox',
      Cmd: ['true'],
      NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: '172.17.0.50' } } } },
    });
    assert.equal(onBridge.status, 400);
    assert.equal(onBridge.message, 'user specified IP address is supported on user defined networks only');
    const aliasBridge = await createAndStartFails(`albr-${net}`, {
      Image: 'busybox',
      Cmd: ['true'],
      NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: ['al'] } } },
    });
    assert.equal(aliasBridge.status, 400);
    assert.equal(aliasBridge.message, 'network-scoped alias is supported only for containers in user defined networks');
    // The CLI refuses an alias on the default network itself.
    const aliasCli = await k.docker(['run', '--rm', '--network-alias', 'al', 'busybox', 'true']);
    assert.equal(aliasCli.code, 125);
    assert.match(aliasCli.stderr, /network-scoped aliases are only supported for user-defined networks/);

    const nosuch = await k.docker(['run', '-d', '--name', `nosuch-${net}`, '--network', 'nosuch-net', 'busybox', 'true']);
    assert.equal(nosuch.code, 125);
    assert.match(nosuch.stderr, /Error response from daemon: network nosuch-net not found/);
    const nosuchApi = await createAndStartFails(`nosuch2-${net}`, {
      Image: 'busybox',
      Cmd: ['true'],
      HostConfig: { NetworkMode: 'nosuch-net' },
    });
    assert.equal(nosuchApi.status, 404);
    assert.equal(nosuchApi.message, 'network nosuch-net not found');

    const shared = await createAndStartFails(`cshare-${net}`, {
      Image: 'busybox',
      Cmd: ['true'],
      HostConfig: { NetworkMode: `container:holder-${net}`, PortBindings: { '80/tcp': [{ HostPort: '' }] } },
    });
    assert.equal(shared.status, 400);
    assert.equal(shared.message, 'conflicting options: port publishing and the container type network mode');

    await rmf(
      `holder-${net}`,
      `taken-${net}`,
      `taken2-${net}`,
      `outside-${net}`,
      `ipbr-${net}`,
      `albr-${net}`,
      `nosuch-${net}`,
      `nosuch2-${net}`,
      `cshare-${net}`,
    );
    await netRm(net);
  });
});

describe('legacy links on the default bridge', () => {
  test('--link puts the target in /etc/hosts, is stored as dockerd stores it, and needs a running target', async () => {
    const db = `ldb-${rnd()}`;
    const web = `lweb-${rnd()}`;
    await k.ok(['run', '-d', '--name', db, '--expose', '5432', '-e', 'SECRET=s1', 'busybox', 'sleep', '300']);
    const dbIp = (await k.ok(['inspect', '-f', '{{.NetworkSettings.Networks.bridge.IPAddress}}', db])).trim();
    await k.ok([
      'create',
      '--name',
      web,
      '--link',
      `${db}:dbalias`,
      'busybox',
      'sh',
      '-c',
      'grep dbalias /etc/hosts; ping -c1 -W2 dbalias >/dev/null && echo reached',
    ]);
    assert.equal((await k.ok(['inspect', '-f', '{{json .HostConfig.Links}}', web])).trim(), JSON.stringify([`/${db}:/${web}/dbalias`]));
    const out = lines(await k.ok(['start', '-a', web]));
    assert.match(out[0], new RegExp(`^${dbIp.replace(/\./g, '\\.')}\\tdbalias .*${db}$`));
    assert.equal(out[1], 'reached');
    // dockerd's link variables.
    const envc = `lenv-${rnd()}`;
    const env = lines(await k.ok(['run', '--rm', '--name', envc, '--link', `${db}:db-alias`, 'busybox', 'env']))
      .filter((l) => l.startsWith('DB_ALIAS_'))
      .sort();
    assert.deepEqual(env, [
      `DB_ALIAS_ENV_SECRET=s1`,
      `DB_ALIAS_NAME=/${envc}/db-alias`,
      `DB_ALIAS_PORT=tcp://${dbIp}:5432`,
      `DB_ALIAS_PORT_5432_TCP=tcp://${dbIp}:5432`,
      `DB_ALIAS_PORT_5432_TCP_ADDR=${dbIp}`,
      `DB_ALIAS_PORT_5432_TCP_PORT=5432`,
      `DB_ALIAS_PORT_5432_TCP_PROTO=tcp`,
    ]);
    // An unknown target is refused at create; a stopped one at start.
    const bad = await k.fails(['create', '--link', 'nosuch-target:x', 'busybox', 'true']);
    assert.match(bad.stderr, /could not get container for nosuch-target: No such container: nosuch-target/);
    await k.ok(['stop', '-t', '0', db]);
    const stopped = await k.fails(['start', web]);
    assert.match(stopped.stderr, new RegExp(`Cannot link to a non running container: /${db} AS /${web}/dbalias`));
    // docker rm --link drops the link (moby's rmLink); then web starts without its target.
    const noLink = await k.fails(['rm', '--link', `/${web}/nosuch`]);
    assert.match(noLink.stderr, new RegExp(`No such container: ${web}/nosuch`)); // dockerd drops the leading slash
    const own = await k.fails(['rm', '--link', db]);
    assert.match(own.stderr, /Conflict, cannot remove the default link name of the container/);
    assert.equal((await k.ok(['rm', '--link', `/${web}/dbalias`])).trim(), `/${web}/dbalias`);
    assert.equal((await k.ok(['inspect', '-f', '{{json .HostConfig.Links}}', web])).trim(), 'null');
    assert.equal((await k.ok(['inspect', '-f', '{{.State.Status}}', db])).trim(), 'exited');
    await k.ok(['start', web]);
    await rmf(web, db);
  });
});

describe('network status', () => {
  test("inspect at API 1.52+ counts the subnet's addresses in use and still free; older versions have no Status", async () => {
    const s = freeSubnet();
    const net = `st-${rnd()}`;
    await k.ok(['network', 'create', '--subnet', `${s}.0/24`, '--ip-range', `${s}.128/25`, net]);
    const c = `stc-${rnd()}`;
    await k.ok(['run', '-d', '--name', c, '--network', net, 'busybox', 'sleep', '300']);
    const modern = JSON.parse((await k.request('GET', `/v1.53/networks/${net}`)).body) as {
      Status?: { IPAM: { Subnets: Record<string, { IPsInUse: number; DynamicIPsAvailable: number }> } };
    };
    // network, broadcast and gateway addresses plus the container's; of the range's 128, the
    // gateway (first of the range), the container and the subnet's broadcast address are taken.
    assert.deepEqual(modern.Status, { IPAM: { Subnets: { [`${s}.0/24`]: { IPsInUse: 4, DynamicIPsAvailable: 125 } } } });
    const old = JSON.parse((await k.request('GET', `/v1.50/networks/${net}`)).body) as Record<string, unknown>;
    assert.equal('Status' in old, false);
    await rmf(c);
    await netRm(net);
  });
});

describe('wrongly typed network fields', () => {
  test("are refused with 400 and Go's json text, and nothing is created", async () => {
    const net = `ty-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const before = lines(await k.ok(['ps', '-aq'])).length;
    const cases: [string, string, unknown, RegExp][] = [
      [
        'POST',
        '/containers/create',
        { Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': 5 } } },
        /cannot unmarshal number into Go struct field HostConfig\.HostConfig\.PortBindings of type \[\]nat\.PortBinding/,
      ],
      [
        'POST',
        '/containers/create',
        { Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 8080 }] } } },
        /cannot unmarshal number into Go struct field PortBinding\.HostConfig\.PortBindings\.HostPort of type string/,
      ],
      [
        'POST',
        '/containers/create',
        { Image: 'busybox', NetworkingConfig: { EndpointsConfig: { [net]: { Aliases: 'web' } } } },
        /cannot unmarshal string into Go struct field EndpointSettings\.NetworkingConfig\.EndpointsConfig\.Aliases of type \[\]string/,
      ],
      [
        'POST',
        '/containers/create',
        { Image: 'busybox', NetworkingConfig: { EndpointsConfig: [] } },
        /cannot unmarshal array into Go struct field NetworkingConfig\.NetworkingConfig\.EndpointsConfig of type map\[string\]\*network\.EndpointSettings/,
      ],
      [
        'POST',
        `/networks/${net}/connect`,
        { Container: 'x', EndpointConfig: { IPAMConfig: { IPv4Address: 7 } } },
        /cannot unmarshal number into Go struct field ConnectOptions.EndpointConfig.IPAMConfig.IPv4Address of type string/,
      ],
    ];
    for (const [method, url, body, message] of cases) {
      const r = await k.request(method, url, body);
      assert.equal(r.status, 400, `${url} ${JSON.stringify(body)}: ${r.body}`);
      assert.match((JSON.parse(r.body) as { message: string }).message, message);
    }
    assert.equal(lines(await k.ok(['ps', '-aq'])).length, before);
    await netRm(net);
  });
});

describe('embedded DNS forwarding', () => {
  test("names that are not the network's go to the container's --dns servers (the network's gateway here) and come back", async () => {
    // A fake upstream on the network's gateway address: the embedded DNS forwards from the
    // container's namespace, which reaches the host there.
    const net = `fw-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const upstreamIp = (await k.ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', net])).trim();
    const asked: string[] = [];
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      const name = q.questions?.[0]?.name ?? '';
      asked.push(`${q.questions?.[0]?.type ?? ''} ${name}`);
      const answers: dnsPacket.Answer[] =
        q.questions?.[0]?.type === 'A' && name === 'far.example.test' ? [{ type: 'A', name, ttl: 30, data: '192.0.2.77' }] : [];
      const reply = dnsPacket.encode({
        id: q.id,
        type: 'response',
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
        questions: q.questions,
        answers,
      });
      sock.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(53, upstreamIp, () => resolve());
    });
    try {
      const out = await k.runOut(['--network', net, '--dns', upstreamIp], ['nslookup', 'far.example.test']);
      assert.match(out, /Address:\s+192\.0\.2\.77/);
      assert.ok(asked.includes('A far.example.test'), `upstream saw: ${asked.join(', ')}`);
      // resolv.conf still names the embedded server; the --dns one is its ExtServer (moby's comment).
      const resolv = await k.runOut(['--network', net, '--dns', upstreamIp], ['cat', '/etc/resolv.conf']);
      assert.deepEqual(
        lines(resolv).filter((l) => l.startsWith('nameserver')),
        ['nameserver 127.0.0.11'],
      );
      assert.match(resolv, new RegExp(`^# ExtServers: \\[${upstreamIp.replace(/\./g, '\\.')}\\]$`, 'm'));
      await netRm(net);
    } finally {
      sock.close();
    }
  });
});

describe('docker ps by network', () => {
  test("--filter network= matches a network's name or ID, as configured, and the Networks column names them", async () => {
    const a = `fa-${rnd()}`;
    const b = `fb-${rnd()}`;
    await k.ok(['network', 'create', a]);
    await k.ok(['network', 'create', b]);
    const idA = (await k.ok(['network', 'inspect', '-f', '{{.Id}}', a])).trim();
    const ca = `pa-${rnd()}`;
    const cb = `pb-${rnd()}`;
    const cn = `pn-${rnd()}`;
    await k.ok(['run', '-d', '--name', ca, '--network', a, 'busybox', 'sleep', '300']);
    await k.ok(['create', '--name', cb, '--network', b, 'busybox', 'true']);
    await k.ok(['run', '-d', '--name', cn, '--network', 'none', 'busybox', 'sleep', '300']);
    const names = async (...filters: string[]): Promise<string[]> =>
      lines(await k.ok(['ps', '-a', ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Names}}']))
        .filter((n) => [ca, cb, cn].includes(n))
        .sort();
    assert.deepEqual(await names(`network=${a}`), [ca]);
    assert.deepEqual(await names(`network=${idA}`), [ca]);
    assert.deepEqual(await names(`network=${b}`), [cb], 'a created container counts on the network it is configured on');
    assert.deepEqual(await names('network=none'), [cn]);
    assert.deepEqual(await names(`network=${a}`, `network=${b}`), [ca, cb].sort());
    assert.deepEqual(await names('network=nosuch'), []);
    assert.equal((await k.ok(['ps', '--filter', `name=${ca}`, '--format', '{{.Networks}}'])).trim(), a);
    await k.ok(['network', 'connect', b, ca]);
    assert.deepEqual((await k.ok(['ps', '--filter', `name=${ca}`, '--format', '{{.Networks}}'])).trim().split(',').sort(), [a, b].sort());
    assert.deepEqual(await names(`network=${b}`), [ca, cb].sort());
    await rmf(ca, cb, cn);
    await netRm(a, b);
  });
});
