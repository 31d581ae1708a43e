// Hardening of the network side (issue 10), each test an attack that worked on the old code:
// (1) a client's filter pattern that makes a backtracking engine run forever no longer freezes the
// daemon (Go's linear-time semantics), and an overlong one is a 400; (2) a host bridge adopted
// through com.docker.network.bridge.name survives network rm and daemon stop (the host canary is
// a test-only bridge with an address of its own); (3) a container whose networks are all internal
// cannot resolve external names through the embedded DNS (CVE-2024-29018), while a container on a
// normal network can; (4) a host process gets nothing from the embedded DNS (it lives in each
// container's netns, on 127.0.0.11: nothing on the gateway or the host's loopback).
// Test traffic goes only to loopback, to the containers created here and to their gateways.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { after, before, describe, test } from 'node:test';
import { Kit } from './container-kit';
import { destroyBerth, startBerth, within, type Berth } from './harness';
import { rnd } from './net-tools';

let k: Kit;

before(async () => {
  k = await Kit.start();
});

after(async () => {
  if (k) await k.destroy();
});

const q = (filters: unknown): string => encodeURIComponent(JSON.stringify(filters));

/** The request answers, and /_ping keeps answering within 1 s while it runs. */
async function answersWithoutFreezing(path: string): Promise<{ status: number; body: string }> {
  const req = k.b.request('GET', path);
  let pending = true;
  void req.finally(() => (pending = false)).catch(() => undefined);
  // Pings while the request runs: a frozen event loop answers none of them.
  for (let i = 0; i < 3 && pending; i++) {
    const ping = await within(1000, '/_ping during a filtered list', k.b.request('GET', '/_ping'));
    assert.equal(ping.status, 200);
  }
  return within(10_000, `GET ${path}`, req);
}

describe('filter patterns', () => {
  test('a catastrophic-backtracking pattern on networks, containers and volumes answers at once', async () => {
    const name = `${'a'.repeat(40)}-${rnd()}`;
    await k.ok(['create', '--name', name, 'busybox', 'true']);
    await k.ok(['volume', 'create', name]);
    try {
      const nets = await answersWithoutFreezing(`/networks?filters=${q({ id: ['^([0-9a-f]+)+x$'] })}`);
      assert.equal(nets.status, 200);
      assert.deepEqual(JSON.parse(nets.body), []);
      const cs = await answersWithoutFreezing(`/containers/json?all=1&filters=${q({ name: ['^/?(a+)+$'] })}`);
      assert.equal(cs.status, 200);
      assert.deepEqual(JSON.parse(cs.body), []);
      const vols = await answersWithoutFreezing(`/volumes?filters=${q({ name: ['^(a+)+$'] })}`);
      assert.equal(vols.status, 200);
      assert.deepEqual((JSON.parse(vols.body) as { Volumes: unknown[] }).Volumes, []);
      // Go semantics still match: a partial match anywhere, and Go-only syntax such as (?i).
      const hit = await answersWithoutFreezing(`/containers/json?all=1&filters=${q({ name: ['(?i)A{40}-'] })}`);
      assert.equal((JSON.parse(hit.body) as unknown[]).length, 1);
    } finally {
      await k.ok(['rm', name]);
      await k.ok(['volume', 'rm', name]);
    }
  });

  test('an overlong pattern is a 400 with a message', async () => {
    const r = await k.b.request('GET', `/networks?filters=${q({ name: ['a'.repeat(5000)] })}`);
    assert.equal(r.status, 400);
    assert.match((JSON.parse(r.body) as { message: string }).message, /regular expression too long/);
  });
});

// ---------------------------------------------------------------------------------------------

function linkAddrs(name: string): string[] {
  const out = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'dev', name], { encoding: 'utf8' })) as {
    addr_info?: { family: string; local: string; prefixlen: number }[];
  }[];
  return (out[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
}

describe('adopted host bridge', () => {
  test('survives network rm and daemon stop; only the gateway address berthd added goes', async () => {
    const br = `brtest${rnd()}`;
    const hostAddr = `198.51.100.${Math.floor(Math.random() * 200) + 1}/24`;
    execFileSync('ip', ['link', 'add', br, 'type', 'bridge']);
    let b: Berth | undefined;
    try {
      execFileSync('ip', ['addr', 'add', hostAddr, 'dev', br]);
      b = await startBerth();
      const create = async (name: string): Promise<string> => {
        const r = await b!.docker(['network', 'create', '-o', `com.docker.network.bridge.name=${br}`, name]);
        assert.equal(r.code, 0, r.stderr);
        const gw = (
          await b!.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}/{{(index .IPAM.Config 0).Subnet}}', name])
        ).stdout.trim();
        // "gw/net/prefix" → "gw/prefix"
        const parts = gw.split('/');
        return `${parts[0]}/${parts[2] ?? ''}`;
      };
      const gw1 = await create(`adopt-${rnd()}`);
      assert.ok(linkAddrs(br).includes(gw1), `gateway ${gw1} on ${br}: ${linkAddrs(br).join(' ')}`);
      const ls = await b.docker(['network', 'ls', '-q', '--filter', 'name=adopt-']);
      const rm = await b.docker(['network', 'rm', ls.stdout.trim()]);
      assert.equal(rm.code, 0, rm.stderr);
      assert.ok(fs.existsSync(`/sys/class/net/${br}`), 'the host bridge was deleted by network rm');
      assert.deepEqual(linkAddrs(br), [hostAddr], 'only the address berthd added is removed');
      // Adopted again, then the daemon stops with the network still defined.
      await create(`adopt-${rnd()}`);
      const prune = await b.docker(['network', 'prune', '-f', '--filter', 'label=nothing-has-this']);
      assert.equal(prune.code, 0, prune.stderr);
      await destroyBerth(b);
      b = undefined;
      assert.ok(fs.existsSync(`/sys/class/net/${br}`), 'the host bridge was deleted by the daemon stop');
      assert.deepEqual(linkAddrs(br), [hostAddr]);
    } finally {
      if (b) await destroyBerth(b);
      execFileSync('ip', ['link', 'del', br]);
    }
  });
});

// ---------------------------------------------------------------------------------------------

/** The gateway address of a network (the host's side of its bridge). */
async function gatewayOf(network: string): Promise<string> {
  return (await k.ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', network])).trim();
}

/**
 * A fake upstream on the gateway addresses of networks the test made (forwarded queries leave from
 * the container's namespace, which reaches the host there): answers far.example.test and records
 * questions.
 */
async function fakeUpstream(ips: string[]): Promise<{ asked: string[]; close(): void }> {
  const asked: string[] = [];
  const socks = await Promise.all(ips.map((ip) => fakeUpstreamOn(ip, asked)));
  return { asked, close: () => socks.forEach((s) => s.close()) };
}

async function fakeUpstreamOn(ip: string, asked: string[]): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4');
  sock.on('error', () => undefined);
  sock.on('message', (msg, rinfo) => {
    const dq = dnsPacket.decode(msg);
    const name = dq.questions?.[0]?.name ?? '';
    asked.push(`${dq.questions?.[0]?.type ?? ''} ${name}`);
    const answers: dnsPacket.Answer[] =
      dq.questions?.[0]?.type === 'A' && name === 'far.example.test' ? [{ type: 'A', name, ttl: 30, data: '192.0.2.77' }] : [];
    sock.send(
      dnsPacket.encode({
        id: dq.id,
        type: 'response',
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
        questions: dq.questions,
        answers,
      }),
      rinfo.port,
      rinfo.address,
    );
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(53, ip, () => resolve());
  });
  return sock;
}

describe('embedded DNS scope', () => {
  test('an internal-only container never gets external names forwarded (CVE-2024-29018); a normal one does', async () => {
    const internal = `int-${rnd()}`;
    const normal = `ext-${rnd()}`;
    let up: { asked: string[]; close(): void } | undefined;
    try {
      await k.ok(['network', 'create', '--internal', internal]);
      await k.ok(['network', 'create', normal]);
      const [internalGw, normalGw] = [await gatewayOf(internal), await gatewayOf(normal)];
      up = await fakeUpstream([internalGw, normalGw]);
      const blocked = await k.docker([
        'run',
        '--rm',
        '--network',
        internal,
        '--dns',
        internalGw,
        'busybox',
        'nslookup',
        'far.example.test',
      ]);
      assert.doesNotMatch(blocked.stdout, /192\.0\.2\.77/);
      assert.equal(up.asked.length, 0, `the upstream was asked on behalf of an internal-only container: ${up.asked.join(', ')}`);
      // The internal network's own names still resolve.
      await k.ok(['run', '-d', '--name', `srv-${internal}`, '--network', internal, 'busybox', 'sleep', '60']);
      const own = await k.runOut(['--network', internal], ['nslookup', `srv-${internal}`]);
      assert.match(own, /Address:?\s+\d+\.\d+\.\d+\.\d+/);
      await k.ok(['rm', '-f', `srv-${internal}`]);
      const ok = await k.runOut(['--network', normal, '--dns', normalGw], ['nslookup', 'far.example.test']);
      assert.match(ok, /Address:\s+192\.0\.2\.77/);
      assert.ok(up.asked.includes('A far.example.test'));
    } finally {
      up?.close();
      await k.docker(['network', 'rm', internal, normal]);
    }
  });

  test("a host process learns no container name from the gateway or from the host's 127.0.0.11, on UDP or TCP", async () => {
    const n = `hostq-${rnd()}`;
    const c = `target-${rnd()}`;
    await k.ok(['network', 'create', n]);
    try {
      await k.ok(['run', '-d', '--name', c, '--network', n, 'busybox', 'sleep', '60']);
      const gw = (await k.ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', n])).trim();
      const ip = (await k.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${n}").IPAddress}}`, c])).trim();
      // The container itself resolves its name, on its own 127.0.0.11.
      const inside = await k.ok(['exec', c, 'nslookup', c, '127.0.0.11']);
      assert.match(inside, new RegExp(`Name:\\s+${c}\\nAddress:\\s+${ip.replace(/\./g, '\\.')}`));
      // Whatever answers port 53 on the host's side (nothing of Berth's; perhaps the host's own
      // resolver) does not know the container's name.
      const query = dnsPacket.encode({
        type: 'query',
        id: 77,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: 'A', name: c, class: 'IN' }],
      });
      const knows = (reply: Buffer | null): boolean => {
        if (!reply) return false;
        try {
          return (dnsPacket.decode(reply).answers ?? []).some((a) => a.type === 'A' && a.data === ip);
        } catch {
          return false; // not a whole DNS message: no answer of ours
        }
      };
      for (const server of [gw, '127.0.0.11']) {
        const udpReply = await new Promise<Buffer | null>((resolve) => {
          const s = dgram.createSocket('udp4');
          const timer = setTimeout(() => {
            s.close();
            resolve(null);
          }, 1500);
          s.on('error', () => undefined);
          s.on('message', (m) => {
            clearTimeout(timer);
            s.close();
            resolve(m);
          });
          s.send(query, 53, server);
        });
        assert.equal(knows(udpReply), false, `${server} answered a host process over UDP`);
        const tcpReply = await new Promise<Buffer | null>((resolve) => {
          const s = net.connect({ host: server, port: 53 });
          const timer = setTimeout(() => {
            s.destroy();
            resolve(null);
          }, 1500);
          s.on('error', () => {
            clearTimeout(timer);
            resolve(null);
          });
          s.on('connect', () => {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(query.length, 0);
            s.write(Buffer.concat([len, query]));
          });
          s.on('data', (d: Buffer) => {
            clearTimeout(timer);
            s.destroy();
            resolve(d.length > 2 ? d.subarray(2) : null);
          });
        });
        assert.equal(knows(tcpReply), false, `${server} answered a host process over TCP`);
      }
    } finally {
      await k.docker(['rm', '-f', c]);
      await k.docker(['network', 'rm', n]);
    }
  });
});
