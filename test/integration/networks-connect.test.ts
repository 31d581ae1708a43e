// Networks around running containers through the real docker CLI against a real berthd: connect
// and disconnect live, the host/none/container: modes, isolation between networks, outbound NAT,
// no netns or veth left behind, and networks across a daemon restart. Texts are dockerd's.
// Test traffic goes only to loopback, to the containers created here and to a netns created here.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { lines } from './container-kit';
import { rnd, tcpFree } from './net-tools';
import { destroyBerth, startBerth } from './harness';
import {
  type NetworkInspect,
  addrInside,
  apiError,
  bridgeOf,
  bridgePorts,
  ctrJson,
  execOut,
  freePort,
  freeSubnet,
  k,
  linkAddrs,
  netInspect,
  netRm,
  netnsNames,
  nslookup,
  outsideServer,
  rmf,
  wget,
  httpd,
  useNetworksKit,
} from './networks-kit';

useNetworksKit();

describe('connect and disconnect', () => {
  test('a running container gets the new interface at once, is resolvable by its alias, and loses both on disconnect', async () => {
    const s = freeSubnet();
    const netA = `ca-${rnd()}`;
    const netB = `cb-${rnd()}`;
    await k.ok(['network', 'create', netA]);
    const netBId = (await k.ok(['network', 'create', '--subnet', `${s}.0/24`, netB])).trim();
    const c = `conn-${rnd()}`;
    const cid = (await k.ok(['run', '-d', '--name', c, '--network', netA, 'busybox', 'sleep', '600'])).trim();
    const peer = `peer-${rnd()}`;
    await k.ok(['run', '-d', '--name', peer, '--network', netB, 'busybox', 'sleep', '600']);
    assert.equal(await addrInside(c, 'eth1'), undefined);

    await k.ok(['network', 'connect', '--alias', 'a2', '--alias', 'a3', '--ip', `${s}.77`, netB, c]);
    assert.equal(await addrInside(c, 'eth1'), `${s}.77`);
    const eps = (await ctrJson(c)).NetworkSettings.Networks;
    assert.deepEqual(Object.keys(eps).sort(), [netA, netB].sort());
    assert.equal(eps[netB].IPAddress, `${s}.77`);
    assert.equal(eps[netB].NetworkID, netBId);
    assert.ok(eps[netB].Aliases?.includes('a2') && eps[netB].Aliases.includes('a3'), JSON.stringify(eps[netB].Aliases));
    assert.deepEqual(
      (await k.ok(['ps', '--filter', `id=${cid}`, '--format', '{{.Networks}}'])).trim().split(',').sort(),
      [netA, netB].sort(),
    );
    // The peer on netB resolves it by name and alias, and reaches it.
    for (const name of [c, 'a2', 'a3']) assert.deepEqual((await nslookup(peer, name)).addrs, [`${s}.77`], name);
    assert.match(await execOut(peer, ['ping', '-c', '1', '-W', '3', 'a2']), /1 packets received/);
    // The container's /etc/hosts gained the new address.
    assert.ok(lines(await execOut(c, ['cat', '/etc/hosts'])).includes(`${s}.77\t${cid.slice(0, 12)}`));

    // Errors while connected.
    const twice = await apiError('POST', `/networks/${netB}/connect`, { Container: c });
    assert.equal(twice.status, 403);
    assert.equal(twice.message, `endpoint with name ${c} already exists in network ${netB}`);
    const twiceCli = await k.fails(['network', 'connect', netB, c]);
    assert.match(twiceCli.stderr, new RegExp(`Error response from daemon: endpoint with name ${c} already exists in network ${netB}`));

    await k.ok(['network', 'disconnect', netB, c]);
    assert.equal(await addrInside(c, 'eth1'), undefined);
    assert.deepEqual(Object.keys((await ctrJson(c)).NetworkSettings.Networks), [netA]);
    const after = await nslookup(peer, 'a2');
    assert.notEqual(after.code, 0, after.out);
    assert.deepEqual(after.addrs, []);
    // Answered (NXDOMAIN), not left to the resolver's timeout.
    assert.match(after.out, /NXDOMAIN/);
    assert.ok(!lines(await execOut(c, ['cat', '/etc/hosts'])).includes(`${s}.77\t${cid.slice(0, 12)}`));
    assert.deepEqual(Object.keys((await netInspect(netB)).Containers ?? {}).includes(cid), false);

    const notConnected = await apiError('POST', `/networks/${netB}/disconnect`, { Container: c });
    assert.equal(notConnected.message, `container ${cid} is not connected to network ${netB}`);
    await rmf(c, peer);
    await netRm(netA, netB);
  });

  test('connect errors: host, none, a host- or none-mode container, the default bridge with --alias or --ip, unknown names', async () => {
    const net = `ce-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const c = `ce-c-${rnd()}`;
    await k.ok(['run', '-d', '--name', c, '--network', net, 'busybox', 'sleep', '600']);
    const hostC = `ce-h-${rnd()}`;
    await k.ok(['run', '-d', '--name', hostC, '--network', 'host', 'busybox', 'sleep', '600']);
    const noneC = `ce-n-${rnd()}`;
    await k.ok(['run', '-d', '--name', noneC, '--network', 'none', 'busybox', 'sleep', '600']);

    const cases: [string, unknown, number, string][] = [
      ['host', { Container: c }, 400, 'container cannot be disconnected from host network or connected to host network'],
      ['none', { Container: c }, 400, 'container cannot be connected to multiple networks with one of the networks in private (none) mode'],
      [
        net,
        { Container: noneC },
        400,
        'container cannot be connected to multiple networks with one of the networks in private (none) mode',
      ],
      [
        net,
        { Container: hostC },
        400,
        'container sharing network namespace with another container or host cannot be connected to any other network',
      ],
      [
        'bridge',
        { Container: c, EndpointConfig: { Aliases: ['a1'] } },
        400,
        'network-scoped alias is supported only for containers in user defined networks',
      ],
      [
        'bridge',
        { Container: c, EndpointConfig: { IPAMConfig: { IPv4Address: '172.17.0.50' } } },
        400,
        'user specified IP address is supported on user defined networks only',
      ],
      ['nosuch-net', { Container: c }, 404, 'network nosuch-net not found'],
      [net, { Container: 'nosuch-ctr' }, 404, 'No such container: nosuch-ctr'],
    ];
    for (const [target, body, status, message] of cases) {
      const e = await apiError('POST', `/networks/${target}/connect`, body);
      assert.deepEqual(e, { status, message }, `connect ${target} ${JSON.stringify(body)}`);
    }
    const cli = await k.fails(['network', 'connect', 'host', c]);
    assert.equal(
      cli.stderr.trim(),
      'Error response from daemon: container cannot be disconnected from host network or connected to host network',
    );
    await rmf(c, hostC, noneC);
    await netRm(net);
  });
});

describe('network modes', () => {
  test("none has only lo; host sees the host's interfaces; both are listed in inspect", async () => {
    assert.equal(await k.runOut(['--network', 'none'], ['ls', '/sys/class/net']), 'lo\n');
    const noneId = (await k.ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '600'])).trim();
    const none = (await ctrJson(noneId)).NetworkSettings;
    assert.deepEqual(Object.keys(none.Networks), ['none']);
    assert.equal(none.Networks.none.IPAddress, '');
    assert.equal(none.Networks.none.NetworkID, (await netInspect('none')).Id);

    const defaultBridge = (await netInspect('bridge')).Options?.['com.docker.network.bridge.name'] ?? '';
    const seen = lines(await k.runOut(['--network', 'host'], ['ls', '/sys/class/net']));
    for (const ifName of ['lo', 'eth0', defaultBridge]) {
      if (fs.existsSync(path.join('/sys/class/net', ifName))) assert.ok(seen.includes(ifName), `${ifName} in ${seen.join(' ')}`);
    }
    const hostId = (await k.ok(['run', '-d', '--network', 'host', 'busybox', 'sleep', '600'])).trim();
    const host = (await ctrJson(hostId)).NetworkSettings;
    assert.deepEqual(Object.keys(host.Networks), ['host']);
    assert.equal(host.Networks.host.NetworkID, (await netInspect('host')).Id);
    assert.deepEqual(
      lines(await k.ok(['ps', '--filter', `id=${noneId}`, '--filter', `id=${hostId}`, '--format', '{{.Networks}}'])).sort(),
      ['host', 'none'],
    );
    await rmf(noneId, hostId);
  });

  test("container:<id> shares the other container's network namespace, hostname and files", async () => {
    const net = `share-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const a = `sh-a-${rnd()}`;
    const aid = (await k.ok(['run', '-d', '--name', a, '--network', net, 'busybox', 'sleep', '600'])).trim();
    const b = `sh-b-${rnd()}`;
    await k.ok(['run', '-d', '--name', b, '--network', `container:${a}`, 'busybox', 'sleep', '600']);
    assert.equal(await addrInside(b, 'eth0'), await addrInside(a, 'eth0'));
    assert.equal(await execOut(b, ['cat', '/sys/class/net/eth0/address']), await execOut(a, ['cat', '/sys/class/net/eth0/address']));
    assert.equal(await execOut(b, ['hostname']), `${aid.slice(0, 12)}\n`);
    assert.equal(await execOut(b, ['cat', '/etc/hosts']), await execOut(a, ['cat', '/etc/hosts']));
    // Traffic on localhost crosses between them.
    await k.ok(['exec', '-d', a, 'sh', '-c', 'echo shared-lo | nc -l -p 7100']);
    await k.until('nc in a to listen', async () => (await k.docker(['exec', a, 'sh', '-c', 'netstat -ltn | grep -q :7100'])).code === 0);
    assert.equal(await execOut(b, ['nc', '127.0.0.1', '7100']), 'shared-lo\n');

    const bj = await ctrJson(b);
    assert.equal(bj.HostConfig.NetworkMode, `container:${aid}`);
    assert.deepEqual(bj.NetworkSettings.Networks, {});
    assert.equal(bj.NetworkSettings.SandboxKey, '');
    assert.equal((await k.ok(['ps', '--filter', `name=${b}`, '--format', '{{.Networks}}'])).trim(), '');

    const conflict = await k.docker(['run', '--rm', '--network', `container:${a}`, '-p', '80', 'busybox', 'true']);
    assert.equal(conflict.code, 125);
    assert.match(conflict.stderr, /conflicting options: port publishing and the container type network mode/);
    const nosuch = await k.docker(['run', '--rm', '--network', 'container:nosuch-ctr', 'busybox', 'true']);
    assert.equal(nosuch.code, 125);
    assert.match(nosuch.stderr, /No such container: nosuch-ctr/);
    await rmf(b, a);
    await netRm(net);
  });

  test('an internal network reaches its own members and its DNS, but nothing beyond the gateway', async (t) => {
    // "Outside": a netns made here, routed through the host like any destination beyond a gateway.
    const s = outsideServer(t, 'outside-world', true);
    const open = `open-${rnd()}`;
    const closed = `int-${rnd()}`;
    await k.ok(['network', 'create', open]);
    await k.ok(['network', 'create', '--internal', closed]);
    assert.equal((await netInspect(closed)).Internal, true);
    // Control: from a normal network the outside answers.
    await k.until(
      'the outside httpd to answer a container on a normal network',
      async () => (await wget(open, `http://${s}.2:8080/`, 2)).code === 0,
      20_000,
    );
    assert.equal((await wget(open, `http://${s}.2:8080/`)).out, 'outside-world\n');

    // Internal: members reach each other by name, but not the outside.
    const member = `m-${rnd()}`;
    await k.ok(['run', '-d', '--name', member, '--network', closed, 'busybox', ...httpd('inside-only')]);
    await k.until('the internal member to answer', async () => (await wget(closed, `http://${member}/`, 2)).code === 0, 20_000);
    assert.equal((await wget(closed, `http://${member}/`)).out, 'inside-only\n');
    const blocked = await wget(closed, `http://${s}.2:8080/`, 3);
    assert.notEqual(blocked.code, 0, 'an internal network must not reach beyond its gateway');
    await rmf(member);
    await netRm(open, closed);
  });
});

describe('isolation', () => {
  test("two user networks cannot reach each other's containers; a container on both reaches each", async () => {
    const a = `isa-${rnd()}`;
    const b = `isb-${rnd()}`;
    await k.ok(['network', 'create', a]);
    await k.ok(['network', 'create', b]);
    const srv = `iss-${rnd()}`;
    await k.ok(['run', '-d', '--name', srv, '--network', a, 'busybox', ...httpd('on-a')]);
    const ip = (await k.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${a}").IPAddress}}`, srv])).trim();
    await k.until('the server to answer on its own network', async () => (await wget(a, `http://${ip}/`, 2)).code === 0, 20_000);
    assert.equal((await wget(a, `http://${ip}/`)).out, 'on-a\n');
    const across = await wget(b, `http://${ip}/`, 3);
    assert.notEqual(across.code, 0, 'a container on another network must not reach it');
    // On both networks: reaches it (through its interface on a).
    const both = `isboth-${rnd()}`;
    await k.ok(['create', '--name', both, '--network', b, 'busybox', 'sh', '-c', `timeout 5 wget -qO- http://${ip}/`]);
    await k.ok(['network', 'connect', a, both]);
    await k.ok(['start', '-a', both]).then((out) => assert.equal(out, 'on-a\n'));
    await rmf(srv, both);
    await netRm(a, b);
  });
});

describe('outbound NAT', () => {
  test("traffic leaving a network is masqueraded; enable_ip_masquerade=false keeps the container's address", async (t) => {
    // "Outside": a netns with no route back to the containers' subnets, so only masqueraded
    // traffic (source = the host's address on the link) gets an answer.
    const s = outsideServer(t, 'far-away', false);
    const masq = `masq-${rnd()}`;
    const plain = `nomasq-${rnd()}`;
    await k.ok(['network', 'create', masq]);
    await k.ok(['network', 'create', '-o', 'com.docker.network.bridge.enable_ip_masquerade=false', plain]);
    await k.until(
      'the outside to answer a masqueraded container',
      async () => (await wget(masq, `http://${s}.2:8080/`, 2)).code === 0,
      20_000,
    );
    assert.equal((await wget(masq, `http://${s}.2:8080/`)).out, 'far-away\n');
    const unmasked = await wget(plain, `http://${s}.2:8080/`, 3);
    assert.notEqual(unmasked.code, 0, 'without masquerade the outside has no way back to the container');
    await netRm(masq, plain);
  });
});

describe('leftovers', () => {
  test('after rm a container leaves no netns and no veth, and its address is free again', async () => {
    const s = freeSubnet();
    const net = `left-${rnd()}`;
    const netId = (await k.ok(['network', 'create', '--subnet', `${s}.0/24`, net])).trim();
    const bridge = bridgeOf(await netInspect(net));
    assert.equal(bridge, `br-${netId.slice(0, 12)}`);
    const id = (await k.ok(['run', '-d', '--network', net, '--ip', `${s}.20`, 'busybox', 'sleep', '600'])).trim();
    const netns = `berth-${id.slice(0, 12)}`;
    assert.ok(netnsNames().includes(netns), `${netns} while running`);
    const ports = bridgePorts(bridge);
    assert.equal(ports.length, 1, ports.join());
    assert.match(ports[0], /^veth[0-9a-f]{7}$/);
    // Connected to a second network: a second veth, on that network's bridge.
    const defaultBridge = (await netInspect('bridge')).Options?.['com.docker.network.bridge.name'] ?? '';
    const beforeConnect = bridgePorts(defaultBridge);
    await k.ok(['network', 'connect', 'bridge', id]);
    const added = bridgePorts(defaultBridge).filter((p) => !beforeConnect.includes(p));
    assert.equal(added.length, 1, added.join());

    await k.ok(['rm', '-f', id]);
    assert.ok(!netnsNames().includes(netns), `${netns} left behind`);
    assert.deepEqual(bridgePorts(bridge), []);
    assert.ok(!fs.existsSync(`/sys/class/net/${ports[0]}`), `${ports[0]} left behind`);
    assert.ok(!fs.existsSync(`/sys/class/net/${added[0]}`), `${added[0]} left behind`);
    await k.removed(id);
    assert.deepEqual((await netInspect(net)).Containers ?? {}, {});
    // The static address can be taken again at once.
    const again = (await k.ok(['run', '-d', '--network', net, '--ip', `${s}.20`, 'busybox', 'sleep', '600'])).trim();
    // A container that exits on its own also gives everything back.
    assert.equal(bridgePorts(bridge).length, 1);
    await k.ok(['stop', '-t', '0', again]);
    // Its static address is free for another container at once (that run waits for the
    // stopped one's veth, removed behind the stop, to leave the bridge).
    const third = (await k.ok(['run', '-d', '--network', net, '--ip', `${s}.20`, 'busybox', 'sleep', '600'])).trim();
    assert.equal((await k.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, third])).trim(), `${s}.20`);
    await k.until(
      "the stopped container's netns and veth to go",
      async () => !netnsNames().includes(`berth-${again.slice(0, 12)}`) && bridgePorts(bridge).length === 1,
    );
    await k.ok(['rm', '-f', third]);
    await k.ok(['rm', again]);
    await k.ok(['network', 'rm', net]);
    assert.equal(linkAddrs(bridge), null);
  });
});

describe('restart', () => {
  test('built-in networks keep their IDs, user networks and their bridges survive a daemon restart', async () => {
    let b = await startBerth();
    try {
      const docker = async (args: string[]): Promise<string> => {
        const r = await b.docker(args, { timeoutMs: 60_000 });
        assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${b.log().slice(-2000)}`);
        return r.stdout;
      };
      const name = `persist-${rnd()}`;
      const id = (await docker(['network', 'create', '--label', 'x=y', name])).trim();
      const before = lines(await docker(['network', 'ls', '--no-trunc', '--format', '{{.ID}} {{.Name}}'])).sort();
      const subnet = (JSON.parse(await docker(['network', 'inspect', name])) as NetworkInspect[])[0].IPAM.Config?.[0].Subnet;
      await b.stop();
      b = await startBerth({ dir: b.dir });
      assert.deepEqual(lines(await docker(['network', 'ls', '--no-trunc', '--format', '{{.ID}} {{.Name}}'])).sort(), before);
      const n = (JSON.parse(await docker(['network', 'inspect', name])) as NetworkInspect[])[0];
      assert.equal(n.Id, id);
      assert.equal(n.IPAM.Config?.[0].Subnet, subnet);
      assert.deepEqual(n.Labels, { x: 'y' });
      assert.notEqual(linkAddrs(`br-${id.slice(0, 12)}`), null);
      await docker(['network', 'rm', name]);
      assert.equal(linkAddrs(`br-${id.slice(0, 12)}`), null);
    } finally {
      await destroyBerth(b);
    }
  });

  test('after a crash and a restart, a container that was running has no netns, veth or host port left, and starts again', async () => {
    let b = await startBerth();
    try {
      const docker = async (args: string[], input?: Buffer): Promise<string> => {
        const r = await b.docker(args, { input, timeoutMs: 60_000 });
        assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${b.log().slice(-2000)}`);
        return r.stdout;
      };
      await docker(['load'], await buildBusyboxArchive({ tags: ['busybox:latest'] }));
      const netName = `crash-${rnd()}`;
      const netId = (await docker(['network', 'create', netName])).trim();
      const bridge = `br-${netId.slice(0, 12)}`;
      const port = await freePort();
      const id = (
        await docker(['run', '-d', '--network', netName, '-p', `127.0.0.1:${port}:80`, 'busybox', ...httpd('after-crash')])
      ).trim();
      const netns = `berth-${id.slice(0, 12)}`;
      assert.ok(netnsNames().includes(netns));
      assert.equal(bridgePorts(bridge).length, 1);
      assert.equal(await tcpFree('127.0.0.1', port), false);

      await b.stop('SIGKILL');
      b = await startBerth({ dir: b.dir });
      assert.equal((await docker(['inspect', '-f', '{{.State.Status}}', id])).trim(), 'exited');
      assert.ok(!netnsNames().includes(netns), `${netns} left after the restart`);
      assert.deepEqual(bridgePorts(bridge), []);
      assert.equal(await tcpFree('127.0.0.1', port), true);
      assert.deepEqual((JSON.parse(await docker(['network', 'inspect', netName])) as NetworkInspect[])[0].Containers ?? {}, {});

      // It starts again with the same binding.
      await docker(['start', id]);
      assert.ok(netnsNames().includes(netns));
      assert.equal(bridgePorts(bridge).length, 1);
      assert.equal(await tcpFree('127.0.0.1', port), false);
      await docker(['rm', '-f', id]);
      assert.ok(!netnsNames().includes(netns));
      await docker(['network', 'rm', netName]);
    } finally {
      await destroyBerth(b);
    }
  });
});
