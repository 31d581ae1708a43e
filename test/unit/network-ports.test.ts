import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import * as fs from 'node:fs';
import net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  AllPortsAllocatedError,
  DEFAULT_EPHEMERAL_RANGE,
  InvalidPortRequestError,
  PortAllocatedError,
  PortAllocator,
  PortAllocatorError,
  readEphemeralRange,
} from '../../network/port-allocator';
import { PortProxy, UserlandProxyError, type ProxyHandle } from '../../network/port-proxy';

const tcp = (hostIp: string, start: number, end = start) => ({ proto: 'tcp' as const, hostIp, hostPortStart: start, hostPortEnd: end });

describe('PortAllocator', () => {
  test('a specific port is handed out once per ip and proto', () => {
    const a = new PortAllocator([40000, 40010]);
    assert.equal(a.allocate(tcp('0.0.0.0', 8080)), 8080);
    assert.throws(
      () => a.allocate(tcp('0.0.0.0', 8080)),
      (e: unknown) => {
        assert.ok(e instanceof PortAllocatedError && e instanceof PortAllocatorError);
        assert.equal(e.message, 'Bind for 0.0.0.0:8080 failed: port is already allocated');
        assert.equal(e.ip, '0.0.0.0');
        assert.equal(e.port, 8080);
        return true;
      },
    );
    // other protocols and other specific addresses are separate
    assert.equal(a.allocate({ ...tcp('0.0.0.0', 8080), proto: 'udp' }), 8080);
    assert.equal(a.allocate({ ...tcp('0.0.0.0', 8080), proto: 'sctp' }), 8080);
    assert.equal(a.allocate(tcp('127.0.0.1', 9000)), 9000);
    assert.equal(a.allocate(tcp('127.0.0.2', 9000)), 9000);
    assert.throws(() => a.allocate(tcp('127.0.0.2', 9000)), { message: 'Bind for 127.0.0.2:9000 failed: port is already allocated' });
    // release frees it again
    a.release('tcp', '0.0.0.0', 8080);
    assert.equal(a.allocate(tcp('0.0.0.0', 8080)), 8080);
  });

  test('0.0.0.0 conflicts with every address and every address with 0.0.0.0', () => {
    const a = new PortAllocator([40000, 40010]);
    a.allocate(tcp('127.0.0.1', 8080));
    assert.ok(a.isAllocated('tcp', '0.0.0.0', 8080));
    assert.throws(() => a.allocate(tcp('0.0.0.0', 8080)), { message: 'Bind for 0.0.0.0:8080 failed: port is already allocated' });
    // an empty host ip means 0.0.0.0
    assert.throws(() => a.allocate(tcp('', 8080)), { message: 'Bind for 0.0.0.0:8080 failed: port is already allocated' });

    a.allocate(tcp('0.0.0.0', 9090));
    assert.throws(() => a.allocate(tcp('127.0.0.1', 9090)), { message: 'Bind for 127.0.0.1:9090 failed: port is already allocated' });
    assert.throws(() => a.allocate(tcp('10.1.2.3', 9090)), PortAllocatedError);
    // udp is another space
    assert.equal(a.allocate({ ...tcp('127.0.0.1', 9090), proto: 'udp' }), 9090);

    a.release('tcp', '', 9090);
    assert.equal(a.allocate(tcp('127.0.0.1', 9090)), 9090);
    a.release('tcp', '127.0.0.1', 8080);
    assert.equal(a.allocate(tcp('0.0.0.0', 8080)), 8080);
  });

  test('the ephemeral search skips ports another address holds through 0.0.0.0', () => {
    const a = new PortAllocator([100, 102]);
    a.allocate(tcp('0.0.0.0', 100));
    assert.equal(a.allocate(tcp('127.0.0.1', 0, 0)), 101);
    assert.equal(a.allocate(tcp('0.0.0.0', 0, 0)), 102);
    assert.throws(() => a.allocate(tcp('0.0.0.0', 0, 0)), AllPortsAllocatedError);
  });

  test('a range hands out its first free port, then continues after the last one', () => {
    const a = new PortAllocator([40000, 40010]);
    a.allocate(tcp('0.0.0.0', 8000));
    assert.equal(a.allocate(tcp('0.0.0.0', 8000, 8002)), 8001);
    assert.equal(a.allocate(tcp('0.0.0.0', 8000, 8002)), 8002);
    assert.throws(
      () => a.allocate(tcp('0.0.0.0', 8000, 8002)),
      (e: unknown) => {
        assert.ok(e instanceof AllPortsAllocatedError);
        assert.equal(e.message, 'all ports are allocated');
        return true;
      },
    );
    a.release('tcp', '0.0.0.0', 8001);
    assert.equal(a.allocate(tcp('0.0.0.0', 8000, 8002)), 8001);
    // a different range has its own position
    assert.equal(a.allocate(tcp('0.0.0.0', 8002, 8005)), 8003);
  });

  test('ephemeral ports are sequential after the last one and wrap', () => {
    const a = new PortAllocator([100, 103]);
    assert.deepEqual([a.begin, a.end], [100, 103]);
    const any = () => a.allocate(tcp('0.0.0.0', 0, 0));
    assert.deepEqual([any(), any(), any()], [100, 101, 102]);
    a.release('tcp', '0.0.0.0', 100);
    // not the freed 100: the search goes on after the last one handed out
    assert.equal(any(), 103);
    assert.equal(any(), 100); // wrapped
    assert.throws(any, { message: 'all ports are allocated' });
    a.release('tcp', '0.0.0.0', 102);
    assert.equal(any(), 102);
    // each address has its own position, as in dockerd
    assert.equal(a.allocate({ ...tcp('0.0.0.0', 0, 0), proto: 'udp' }), 100);
  });

  test('invalid requests carry dockerd texts', () => {
    const a = new PortAllocator([100, 103]);
    assert.throws(
      () => a.allocate(tcp('0.0.0.0', 9000, 8000)),
      (e: unknown) => {
        assert.ok(e instanceof InvalidPortRequestError);
        assert.equal(e.message, 'invalid port range: 9000-8000');
        return true;
      },
    );
    assert.throws(() => a.allocate(tcp('0.0.0.0', 8000, 0)), { message: 'invalid port range: 8000-0' });
    assert.throws(() => a.allocate({ proto: 'icmp' as unknown as 'tcp', hostIp: '0.0.0.0', hostPortStart: 1, hostPortEnd: 1 }), {
      message: 'unknown protocol',
    });
    assert.throws(() => new PortAllocator([200, 100]), InvalidPortRequestError);
  });

  test('the ephemeral range comes from ip_local_port_range, with dockerd fallback', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ports-'));
    try {
      const f = path.join(dir, 'range');
      fs.writeFileSync(f, '32768\t60999\n');
      assert.deepEqual(readEphemeralRange(f), [32768, 60999]);
      fs.writeFileSync(f, 'garbage\n');
      assert.deepEqual(readEphemeralRange(f), [49153, 60999]);
      assert.deepEqual(readEphemeralRange(path.join(dir, 'missing')), [...DEFAULT_EPHEMERAL_RANGE]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const a = new PortAllocator();
    assert.deepEqual([a.begin, a.end], readEphemeralRange());
    const p = a.allocate(tcp('0.0.0.0', 0, 0));
    assert.equal(p, a.begin);
  });
});

// ---- proxy ----

const servers: Array<{ close(): void }> = [];
const proxy = new PortProxy({ udpIdleTimeoutMs: 300 });
after(async () => {
  await proxy.closeAll();
  for (const s of servers) s.close();
});

async function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'tcp') {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
  const u = dgram.createSocket('udp4');
  await new Promise<void>((r) => u.bind(0, '127.0.0.1', r));
  const port = u.address().port;
  await new Promise<void>((r) => u.close(() => r()));
  return port;
}

/** Reads everything the client sends until its FIN, then answers and closes: needs working half-close. */
async function tcpBackend(): Promise<number> {
  const s = net.createServer({ allowHalfOpen: true }, (c) => {
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => {
      chunks.push(d);
      c.write(d); // echo as it comes
    });
    c.on('end', () => {
      const all = Buffer.concat(chunks);
      c.end(`|END ${all.length}`);
    });
    c.on('error', () => {});
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  return (s.address() as net.AddressInfo).port;
}

function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host, allowHalfOpen: true });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** The proxy closed its side: EOF (our sockets allow half-open, so no 'close' by itself) or a reset. */
function ended(c: net.Socket): Promise<void> {
  return new Promise((r) => {
    c.once('end', () => r());
    c.once('close', () => r());
  });
}

function readAll(c: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.once('end', () => resolve(Buffer.concat(chunks)));
    c.once('error', reject);
  });
}

async function openTcp(hostIp: string, containerPort: number): Promise<{ port: number; handle: ProxyHandle }> {
  const port = await freePort('tcp');
  const handle = await proxy.open({ proto: 'tcp', hostIp, hostPort: port, containerIp: '127.0.0.1', containerPort });
  return { port, handle };
}

describe('PortProxy tcp', () => {
  test('forwards data both ways and passes half-close through', async () => {
    const backend = await tcpBackend();
    const { port, handle } = await openTcp('127.0.0.1', backend);
    const c = await connect(port);
    const reply = readAll(c);
    const payload = Buffer.alloc(2 * 1024 * 1024, 'x');
    c.write(payload);
    c.end(); // half-close: the backend sees EOF, answers, and the answer still reaches us
    const got = await reply;
    assert.equal(got.length, payload.length + `|END ${payload.length}`.length);
    assert.ok(got.subarray(0, payload.length).equals(payload));
    assert.equal(got.subarray(payload.length).toString(), `|END ${payload.length}`);
    await new Promise<void>((r) => (c.destroyed ? r() : c.once('close', () => r())));
    await handle.close();
  });

  test('a container that half-closes first still receives what the client sends', async () => {
    let received = '';
    let backendEnded!: () => void;
    const gotAll = new Promise<void>((r) => (backendEnded = r));
    const s = net.createServer({ allowHalfOpen: true }, (c) => {
      c.end('bye'); // the container's side is done at once
      c.on('data', (d: Buffer) => (received += d.toString()));
      c.on('end', () => backendEnded());
      c.on('error', () => {});
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    const { port, handle } = await openTcp('127.0.0.1', (s.address() as net.AddressInfo).port);
    const c = await connect(port);
    assert.equal((await readAll(c)).toString(), 'bye');
    c.end('still here');
    await gotAll;
    assert.equal(received, 'still here');
    await handle.close();
  });

  test('0.0.0.0 listens on every IPv4 address', async () => {
    const backend = await tcpBackend();
    const { port, handle } = await openTcp('0.0.0.0', backend);
    for (const host of ['127.0.0.1', '127.0.0.2']) {
      const c = await connect(port, host);
      const reply = readAll(c);
      c.end('hi');
      assert.equal((await reply).toString(), 'hi|END 2');
    }
    await handle.close();
  });

  test('a backend that refuses closes the client without crashing', async () => {
    const dead = await freePort('tcp');
    const { port, handle } = await openTcp('127.0.0.1', dead);
    const c = await connect(port);
    const closed = ended(c);
    c.on('error', () => {});
    await closed;
    await handle.close();
  });

  test('close() stops listening and ends live connections', async () => {
    const backend = await tcpBackend();
    const { port, handle } = await openTcp('127.0.0.1', backend);
    const c = await connect(port);
    c.on('error', () => {});
    c.write('ping');
    await new Promise<void>((r) => c.once('data', () => r()));
    const closed = ended(c);
    await handle.close();
    await closed;
    await assert.rejects(connect(port), { code: 'ECONNREFUSED' });
    await handle.close(); // idempotent
  });

  test('closeAll() closes every listener', async () => {
    const backend = await tcpBackend();
    const p = new PortProxy();
    const port = await freePort('tcp');
    await p.open({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: port, containerIp: '127.0.0.1', containerPort: backend });
    const c = await connect(port);
    c.on('error', () => {});
    const closed = ended(c);
    await p.closeAll();
    await closed;
    await assert.rejects(connect(port), { code: 'ECONNREFUSED' });
  });

  test('a port held by another socket gives dockerd text', async () => {
    const holder = net.createServer();
    const port = await freePort('tcp');
    await new Promise<void>((r) => holder.listen(port, '127.0.0.1', r));
    try {
      for (const hostIp of ['127.0.0.1', '0.0.0.0']) {
        await assert.rejects(
          proxy.open({ proto: 'tcp', hostIp, hostPort: port, containerIp: '127.0.0.1', containerPort: 1 }),
          (e: unknown) => {
            assert.ok(e instanceof UserlandProxyError);
            assert.equal(e.code, 'EADDRINUSE');
            assert.equal(e.message, `Error starting userland proxy: listen tcp4 ${hostIp}:${port}: bind: address already in use`);
            return true;
          },
        );
      }
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  });
});

async function udpBackend(): Promise<{ port: number; peers: number[] }> {
  const s = dgram.createSocket('udp4');
  const peers: number[] = [];
  s.on('message', (msg, rinfo) => {
    peers.push(rinfo.port);
    s.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  servers.push(s);
  return { port: s.address().port, peers };
}

async function udpClient(): Promise<dgram.Socket> {
  const c = dgram.createSocket('udp4');
  await new Promise<void>((r) => c.bind(0, '127.0.0.1', r));
  servers.push(c);
  return c;
}

function udpAsk(c: dgram.Socket, port: number, text: string, host = '127.0.0.1', waitMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.removeAllListeners('message');
      reject(new Error(`no udp answer to ${text}`));
    }, waitMs);
    c.once('message', (msg) => {
      clearTimeout(timer);
      resolve(msg.toString());
    });
    c.send(text, port, host);
  });
}

describe('PortProxy udp', () => {
  test('forwards datagrams with one flow per client and drops idle flows', async () => {
    const backend = await udpBackend();
    const port = await freePort('udp');
    const handle = await proxy.open({
      proto: 'udp',
      hostIp: '0.0.0.0',
      hostPort: port,
      containerIp: '127.0.0.1',
      containerPort: backend.port,
    });
    const a = await udpClient();
    const b = await udpClient();
    assert.equal(await udpAsk(a, port, 'a1'), 'echo:a1');
    assert.equal(await udpAsk(b, port, 'b1'), 'echo:b1');
    assert.equal(await udpAsk(a, port, 'a2'), 'echo:a2');
    const [pa1, pb1, pa2] = backend.peers;
    assert.notEqual(pa1, pb1, 'each client has its own upstream socket');
    assert.equal(pa1, pa2, 'a client keeps its upstream socket while active');
    // idle timeout (300 ms here, 90 s by default): the next datagram opens a new flow
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(await udpAsk(a, port, 'a3', '127.0.0.2'), 'echo:a3');
    assert.notEqual(backend.peers[3], pa1);
    await handle.close();
    // closed: nothing answers any more
    await assert.rejects(udpAsk(a, port, 'late', '127.0.0.1', 300), /no udp answer/);
  });

  test('a backend with nothing listening does not break the flow', async () => {
    const dead = await freePort('udp');
    const port = await freePort('udp');
    const p = new PortProxy(); // the default 90 s timeout: the flow outlives the wait below
    const handle = await p.open({ proto: 'udp', hostIp: '127.0.0.1', hostPort: port, containerIp: '127.0.0.1', containerPort: dead });
    const c = await udpClient();
    await assert.rejects(udpAsk(c, port, 'x', '127.0.0.1', 300), /no udp answer/);
    // the container starts listening later: the same flow now gets answers
    const late = dgram.createSocket('udp4');
    late.on('message', (msg, rinfo) => late.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((r) => late.bind(dead, '127.0.0.1', r));
    servers.push(late);
    assert.equal(await udpAsk(c, port, 'y'), 'y');
    await handle.close();
  });

  test('a port held by another socket gives dockerd text', async () => {
    const holder = dgram.createSocket('udp4');
    const port = await freePort('udp');
    await new Promise<void>((r) => holder.bind(port, '127.0.0.1', r));
    try {
      for (const hostIp of ['127.0.0.1', '0.0.0.0']) {
        await assert.rejects(
          proxy.open({ proto: 'udp', hostIp, hostPort: port, containerIp: '127.0.0.1', containerPort: 1 }),
          (e: unknown) => {
            assert.ok(e instanceof UserlandProxyError);
            assert.equal(e.message, `Error starting userland proxy: listen udp4 ${hostIp}:${port}: bind: address already in use`);
            return true;
          },
        );
      }
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  });

  test('sctp is not proxied', async () => {
    const h = await proxy.open({ proto: 'sctp', hostIp: '0.0.0.0', hostPort: 1, containerIp: '127.0.0.1', containerPort: 1 });
    await h.close();
  });
});

describe('PortProxy caps (hardening)', () => {
  test('UDP flows per port are capped; the least recently active flow is evicted', async () => {
    const backend = await udpBackend();
    const port = await freePort('udp');
    const p = new PortProxy({ maxUdpFlows: 4 });
    const handle = await p.open({
      proto: 'udp',
      hostIp: '127.0.0.1',
      hostPort: port,
      containerIp: '127.0.0.1',
      containerPort: backend.port,
    });
    try {
      const clients = await Promise.all(Array.from({ length: 6 }, () => udpClient()));
      for (const [i, c] of clients.slice(0, 4).entries()) assert.equal(await udpAsk(c, port, `m${i}`), `echo:m${i}`);
      assert.equal(handle.active?.(), 4);
      // Client 0 is active again: client 1 is now the least recent and the one to go.
      assert.equal(await udpAsk(clients[0]!, port, 'again'), 'echo:again');
      const upstreamOf0 = backend.peers[backend.peers.length - 1];
      for (const [i, c] of clients.slice(4).entries()) assert.equal(await udpAsk(c, port, `n${i}`), `echo:n${i}`);
      assert.equal(handle.active?.(), 4);
      // Client 0 kept its flow (same upstream socket); client 1 gets a new one.
      assert.equal(await udpAsk(clients[0]!, port, 'still'), 'echo:still');
      assert.equal(backend.peers[backend.peers.length - 1], upstreamOf0);
      assert.equal(await udpAsk(clients[1]!, port, 'back'), 'echo:back');
      assert.equal(handle.active?.(), 4);
    } finally {
      await handle.close();
    }
  });

  test('TCP connections per port are capped: past it new ones are closed, below it they work again', async () => {
    const backend = await tcpBackend();
    const port = await freePort('tcp');
    const p = new PortProxy({ maxTcpConnections: 3 });
    const handle = await p.open({ proto: 'tcp', hostIp: '127.0.0.1', hostPort: port, containerIp: '127.0.0.1', containerPort: backend });
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = await connect(port);
        // A round trip proves the proxy accepted it (and counts it) before the next one.
        const echoed = new Promise<void>((r) => c.once('data', () => r()));
        c.write('x');
        await echoed;
        held.push(c);
      }
      assert.equal(handle.active?.(), 3);
      const extra = await connect(port);
      extra.on('error', () => undefined);
      await ended(extra);
      extra.destroy();
      assert.equal(handle.active?.(), 3);
      const first = held.shift()!;
      first.destroy();
      while ((handle.active?.() ?? 0) > 2) await new Promise((r) => setImmediate(r));
      const c = await connect(port);
      held.push(c);
      const reply = readAll(c);
      c.end('hi');
      assert.equal((await reply).toString(), 'hi|END 2');
    } finally {
      for (const c of held) c.destroy();
      await handle.close();
    }
  });
});
