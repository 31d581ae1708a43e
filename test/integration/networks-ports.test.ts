// Published ports through the real docker CLI against a real berthd: `-p ip:host:ctr`, `-p ctr`,
// `-P` with --expose, `-p ip::ctr`, ranges and udp; `docker port`, ps and inspect; requests from
// the host to busybox httpd (on 127.0.0.1, on the host's own address) and from a container through
// its gateway; a taken host port (by another container: "port is already allocated", by another
// process: "address already in use"); --network host discarding -p; everything released at stop.
// Expected texts are dockerd's (measured on dockerd 20.10, see /tmp/net-facts.md when it was written).
// Test traffic goes only to loopback, the host's own address and the containers created here.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import { after, before, describe, test } from 'node:test';
import { Kit, lines } from './container-kit';
import { freePorts, httpGet as get, httpdCmd, rnd, tcpFree, udpFree } from './net-tools';

let k: Kit;

before(async () => {
  k = await Kit.start();
});

after(async () => {
  if (!k) return;
  // Networks are left in place on purpose: stopping berthd must remove their bridges and
  // chains, which destroy() checks.
  await k.destroy();
});

interface PortBinding {
  HostIp: string;
  HostPort: string;
}

interface ContainerJson {
  Id: string;
  State: { Status: string; Running: boolean };
  HostConfig: { PortBindings: Record<string, PortBinding[] | null> | null; PublishAllPorts: boolean };
  Config: { ExposedPorts?: Record<string, object> | null };
  NetworkSettings: { Ports: Record<string, PortBinding[] | null> | null; Networks: Record<string, { IPAddress: string; Gateway: string }> };
}

interface ListedPort {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

async function ctrJson(name: string): Promise<ContainerJson> {
  const r = await k.request('GET', `/containers/${encodeURIComponent(name)}/json`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as ContainerJson;
}

/** busybox httpd serving `text` at / on `port` inside the container. */
const httpd = httpdCmd;

/** Polls until the published httpd answers 200 with `body`. */
async function answers(host: string, port: number, body: string): Promise<void> {
  let last: unknown;
  await k
    .until(
      `http://${host}:${port}/ to answer`,
      async () => {
        last = await get(host, port);
        return 'status' in (last as object) && (last as { status: number }).status === 200;
      },
      20_000,
    )
    .catch((err: unknown) => {
      throw new Error(`${String(err)}; last: ${JSON.stringify(last)}`);
    });
  assert.deepEqual(await get(host, port), { status: 200, body });
}

function ephemeralRange(): [number, number] {
  const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  return [lo, hi];
}

/** The host's own IPv4 address on a physical-looking interface (not a bridge or veth), if any. */
function hostAddress(): string | undefined {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (/^(lo|br-|berth|docker|veth|bt)/.test(name)) continue;
    const a = (addrs ?? []).find((x) => x.family === 'IPv4' && !x.internal);
    if (a) return a.address;
  }
  return undefined;
}

/** `docker port` lines without the IPv6 twins ("[::]:…"; networks-ipv6.test.ts checks those). */
async function dockerPort(name: string, ...spec: string[]): Promise<string[]> {
  return lines(await k.ok(['port', name, ...spec])).filter((l) => !l.includes('[::]'));
}

describe('published ports', () => {
  test('-p 127.0.0.1:<port>:80 to busybox httpd answers from the host; port, ps, inspect; stop releases it', async () => {
    const port = await freePorts();
    const name = `web-${rnd()}`;
    const id = (await k.ok(['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:80`, 'busybox', ...httpd('hello-published')])).trim();
    await answers('127.0.0.1', port, 'hello-published\n');

    assert.deepEqual(await dockerPort(name), [`80/tcp -> 127.0.0.1:${port}`]);
    assert.deepEqual(await dockerPort(name, '80'), [`127.0.0.1:${port}`]);
    assert.deepEqual(await dockerPort(name, '80/tcp'), [`127.0.0.1:${port}`]);
    const none = await k.fails(['port', name, '99']);
    assert.match(none.stderr, new RegExp(`Error: No public port '99' published for ${name}`));
    assert.equal((await k.ok(['ps', '--filter', `id=${id}`, '--format', '{{.Ports}}'])).trim(), `127.0.0.1:${port}->80/tcp`);

    const c = await ctrJson(name);
    assert.deepEqual(c.NetworkSettings.Ports, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    assert.deepEqual(c.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    assert.deepEqual(Object.keys(c.Config.ExposedPorts ?? {}), ['80/tcp']);
    const listed = await k.request('GET', `/containers/json?filters=${encodeURIComponent(JSON.stringify({ id: [id] }))}`);
    const ports = (JSON.parse(listed.body) as { Ports: ListedPort[] }[])[0].Ports;
    assert.deepEqual(ports, [{ IP: '127.0.0.1', PrivatePort: 80, PublicPort: port, Type: 'tcp' }]);
    // ps filters publish (host port) and expose (container port).
    assert.deepEqual(lines(await k.ok(['ps', '-q', '--no-trunc', '--filter', `publish=${port}`])), [id]);
    assert.deepEqual(lines(await k.ok(['ps', '-q', '--no-trunc', '--filter', `publish=${port}/tcp`, '--filter', `id=${id}`])), [id]);
    assert.deepEqual(lines(await k.ok(['ps', '-q', '--no-trunc', '--filter', 'expose=80', '--filter', `id=${id}`])), [id]);
    // publish matches the host side, not the container port (dockerd).
    assert.deepEqual(lines(await k.ok(['ps', '-q', '--no-trunc', '--filter', 'publish=80', '--filter', `id=${id}`])), []);

    // The host port is held while the container runs, and given back when it stops.
    assert.equal(await tcpFree('127.0.0.1', port), false);
    await k.ok(['stop', '-t', '0', name]);
    assert.ok('error' in (await get('127.0.0.1', port)), 'nothing answers after stop');
    assert.equal(await tcpFree('127.0.0.1', port), true);
    const stopped = await ctrJson(name);
    assert.deepEqual(stopped.NetworkSettings.Ports ?? {}, {});
    assert.deepEqual(stopped.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    assert.deepEqual(await dockerPort(name), []);
    assert.equal((await k.ok(['ps', '-a', '--filter', `id=${id}`, '--format', '{{.Ports}}'])).trim(), '');
    // Started again: the same binding, answering again.
    await k.ok(['start', name]);
    await answers('127.0.0.1', port, 'hello-published\n');
    await k.ok(['rm', '-f', name]);
    assert.equal(await tcpFree('127.0.0.1', port), true);
  });

  test('-p 80, -P with --expose and -p 127.0.0.1::81 on a user network: ephemeral host ports, reachable on loopback, the host address and the gateway', async () => {
    const net = `pnet-${rnd()}`;
    await k.ok(['network', 'create', net]);
    const name = `eph-${rnd()}`;
    await k.ok([
      'run',
      '-d',
      '--name',
      name,
      '--network',
      net,
      '-p',
      '80',
      '-p',
      '127.0.0.1::81',
      '--expose',
      '90',
      '-P',
      'busybox',
      ...httpd('ephemeral'),
    ]);
    const [lo, hi] = ephemeralRange();
    const all = await dockerPort(name);
    const parsed = all.map((l) => /^(\d+\/\w+) -> ([\d.]+):(\d+)$/.exec(l));
    assert.ok(
      parsed.every((m) => m !== null),
      all.join('\n'),
    );
    const byPort = new Map(parsed.map((m) => [m?.[1] ?? '', { ip: m?.[2] ?? '', port: Number(m?.[3]) }]));
    assert.deepEqual([...byPort.keys()].sort(), ['80/tcp', '81/tcp', '90/tcp']);
    assert.equal(byPort.get('80/tcp')?.ip, '0.0.0.0');
    assert.equal(byPort.get('81/tcp')?.ip, '127.0.0.1');
    assert.equal(byPort.get('90/tcp')?.ip, '0.0.0.0');
    for (const [spec, b] of byPort) assert.ok(b.port >= lo && b.port <= hi, `${spec} -> ${b.port} in ${lo}-${hi}`);
    assert.equal(new Set([...byPort.values()].map((b) => b.port)).size, 3, 'distinct host ports');

    const c = await ctrJson(name);
    assert.equal(c.HostConfig.PublishAllPorts, true);
    assert.deepEqual(Object.keys(c.Config.ExposedPorts ?? {}).sort(), ['80/tcp', '81/tcp', '90/tcp']);
    assert.deepEqual(c.HostConfig.PortBindings, {
      '80/tcp': [{ HostIp: '', HostPort: '' }],
      '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
    });
    assert.deepEqual((c.NetworkSettings.Ports ?? {})['81/tcp'], [{ HostIp: '127.0.0.1', HostPort: String(byPort.get('81/tcp')?.port) }]);
    assert.ok(
      (c.NetworkSettings.Ports ?? {})['80/tcp']?.some((b) => b.HostIp === '0.0.0.0' && b.HostPort === String(byPort.get('80/tcp')?.port)),
    );

    // 0.0.0.0 means every local address: loopback and the host's own.
    const p80 = byPort.get('80/tcp')?.port ?? 0;
    await answers('127.0.0.1', p80, 'ephemeral\n');
    const own = hostAddress();
    if (own) await answers(own, p80, 'ephemeral\n');
    // From a container on the same network, through its gateway.
    const gw = c.NetworkSettings.Networks[net].Gateway;
    const r = await k.docker(['run', '--rm', '--network', net, 'busybox', 'timeout', '5', 'wget', '-qO-', `http://${gw}:${p80}/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ephemeral\n');
    // 127.0.0.1 only: not on the host's own address.
    const p81 = byPort.get('81/tcp')?.port ?? 0;
    assert.equal(await tcpFree('127.0.0.1', p81), false);
    await k.ok(['rm', '-f', name]);
    for (const b of byPort.values()) assert.equal(await tcpFree(b.ip, b.port), true, `${b.ip}:${b.port} released`);
    await k.ok(['network', 'rm', net]);
  });

  test('a range -p ip:a-b:80-81 maps port by port, and udp is published too', async () => {
    const base = await freePorts(3);
    const name = `range-${rnd()}`;
    const id = (
      await k.ok([
        'run',
        '-d',
        '--name',
        name,
        '-p',
        `127.0.0.1:${base}-${base + 1}:80-81`,
        '-p',
        `127.0.0.1:${base + 2}:5000/udp`,
        'busybox',
        ...httpd('ranged', 81),
      ])
    ).trim();
    // The CLI sorts by container port number.
    assert.deepEqual(await dockerPort(name), [
      `80/tcp -> 127.0.0.1:${base}`,
      `81/tcp -> 127.0.0.1:${base + 1}`,
      `5000/udp -> 127.0.0.1:${base + 2}`,
    ]);
    assert.deepEqual(await dockerPort(name, '5000/udp'), [`127.0.0.1:${base + 2}`]);
    const ps = (await k.ok(['ps', '--filter', `id=${id}`, '--format', '{{.Ports}}'])).trim().split(', ').sort();
    assert.deepEqual(ps, [`127.0.0.1:${base + 2}->5000/udp`, `127.0.0.1:${base}->80/tcp`, `127.0.0.1:${base + 1}->81/tcp`].sort());
    await answers('127.0.0.1', base + 1, 'ranged\n');
    // The udp host port is held by the daemon while the container runs.
    assert.equal(await udpFree('127.0.0.1', base + 2), false);
    await k.ok(['rm', '-f', name]);
    assert.equal(await udpFree('127.0.0.1', base + 2), true);
    assert.equal(await tcpFree('127.0.0.1', base), true);
  });

  test('a host port taken by another container: "port is already allocated"; the container stays created', async () => {
    const port = await freePorts();
    const first = `first-${rnd()}`;
    await k.ok(['run', '-d', '--name', first, '-p', `127.0.0.1:${port}:80`, 'busybox', ...httpd('first')]);
    const second = `second-${rnd()}`;
    const r = await k.docker(['run', '-d', '--name', second, '-p', `127.0.0.1:${port}:80`, 'busybox', ...httpd('second')]);
    assert.equal(r.code, 125, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `docker: Error response from daemon: driver failed programming external connectivity on endpoint ${second} \\([0-9a-f]{64}\\): Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated`,
      ),
    );
    const c = await ctrJson(second);
    assert.equal(c.State.Status, 'created');
    assert.deepEqual(c.NetworkSettings.Ports ?? {}, {});
    // Starting it through the API: 500 with the same text.
    const start = await k.request('POST', `/containers/${second}/start`);
    assert.equal(start.status, 500, start.body);
    assert.match(
      (JSON.parse(start.body) as { message: string }).message,
      new RegExp(`Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated$`),
    );
    // The first one still answers; once it is gone the second can start.
    await answers('127.0.0.1', port, 'first\n');
    await k.ok(['rm', '-f', first]);
    await k.ok(['start', second]);
    await answers('127.0.0.1', port, 'second\n');
    await k.ok(['rm', '-f', second]);
  });

  test('a host port held by another process: "address already in use"; the container stays created', async () => {
    const port = await freePorts();
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    const name = `held-${rnd()}`;
    try {
      const r = await k.docker(['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:80`, 'busybox', ...httpd('held')]);
      assert.equal(r.code, 125, r.stderr);
      // dockerd 20.10: "... Error starting userland proxy: listen tcp4 127.0.0.1:<port>: bind: address already in use".
      assert.match(r.stderr, new RegExp(`docker: Error response from daemon: .*127\\.0\\.0\\.1:${port}.*address already in use`));
      assert.equal((await ctrJson(name)).State.Status, 'created');
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
    // The failed start released everything: once the other process is gone it starts and serves.
    await k.ok(['start', name]);
    await answers('127.0.0.1', port, 'held\n');
    await k.ok(['rm', '-f', name]);
  });

  test("a network's host_binding_ipv4 option is the default host address of its published ports", async () => {
    const net = `hbnet-${rnd()}`;
    await k.ok(['network', 'create', '-o', 'com.docker.network.bridge.host_binding_ipv4=127.0.0.1', net]);
    const name = `hb-${rnd()}`;
    await k.ok(['run', '-d', '--name', name, '--network', net, '-p', '80', 'busybox', 'sleep', '300']);
    const ports = await dockerPort(name);
    assert.equal(ports.length, 1, ports.join('\n'));
    assert.match(ports[0], /^80\/tcp -> 127\.0\.0\.1:\d+$/);
    await k.ok(['rm', '-f', name]);
    await k.ok(['network', 'rm', net]);
  });

  test("--network host discards -p with dockerd's warning", async () => {
    const port = await freePorts();
    const name = `hostp-${rnd()}`;
    const r = await k.docker(['run', '-d', '--name', name, '--network', 'host', '-p', `${port}:80`, 'busybox', 'sleep', '600']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /WARNING: Published ports are discarded when using host network mode/);
    assert.deepEqual(await dockerPort(name), []);
    assert.equal((await k.ok(['ps', '--filter', `name=${name}`, '--format', '{{.Ports}}'])).trim(), '');
    assert.equal(await tcpFree('0.0.0.0', port), true);
    const api = await k.request('POST', `/containers/create?name=${name}-api`, {
      Image: 'busybox',
      Cmd: ['true'],
      HostConfig: { NetworkMode: 'host', PortBindings: { '80/tcp': [{ HostPort: String(port) }] } },
    });
    assert.equal(api.status, 201, api.body);
    assert.deepEqual((JSON.parse(api.body) as { Warnings: string[] }).Warnings, [
      'Published ports are discarded when using host network mode',
    ]);
    await k.ok(['rm', '-f', name, `${name}-api`]);
  });
});
