import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { redirectRules } from '../../network/dns-in-netns';
import { DnsServer, type DnsResolver, type DnsServerOptions, MAX_TCP_CONNS, parseUpstream } from '../../network/dns-server';
import { ptrToIpv4 } from '../../network/dns-wire';

/** A server whose options object is its resolver too. */
const dnsServer = (o: DnsResolver & DnsServerOptions): DnsServer => new DnsServer(o, o);

const HOST = '127.0.0.1';

type Proto = 'udp' | 'tcp';

interface Reply {
  buf: Buffer;
  pkt: dnsPacket.DecodedPacket & { rcode?: string };
  ms: number;
}

function encodeQuery(id: number, name: string, type: dnsPacket.RecordType, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    ...extra,
  });
}

function sendUdp(port: number, msg: Buffer, timeoutMs = 3000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      resolve(null);
    }, timeoutMs);
    sock.on('error', () => undefined);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.send(msg, port, HOST);
  });
}

function sendTcp(port: number, msg: Buffer, timeoutMs = 3000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(null);
    }, timeoutMs);
    sock.on('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
    sock.on('connect', () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(msg.length, 0);
      // Split the write in two to exercise the server's reassembly.
      sock.write(prefix);
      setTimeout(() => sock.write(msg), 10);
    });
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      }
    });
  });
}

async function ask(port: number, msg: Buffer, proto: Proto = 'udp', timeoutMs = 3000): Promise<Reply> {
  const t0 = Date.now();
  const buf = proto === 'udp' ? await sendUdp(port, msg, timeoutMs) : await sendTcp(port, msg, timeoutMs);
  assert.ok(buf, 'no reply');
  return { buf, pkt: dnsPacket.decode(buf) as Reply['pkt'], ms: Date.now() - t0 };
}

function rcodeOf(buf: Buffer): number {
  return buf[3] & 0xf;
}

/** A fake upstream on one port for UDP and TCP: answers `example.com` A, SERVFAIL for
 *  `fail.example`, a truncated answer for `big.example`, silence for `silent.example`. */
class FakeUpstream {
  readonly seen: { proto: Proto; id: number; name: string }[] = [];
  port = 0;
  private udp!: dgram.Socket;
  private tcp!: net.Server;
  silent = false;

  async start(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      this.udp = dgram.createSocket('udp4');
      await new Promise<void>((r) => this.udp.bind(0, HOST, () => r()));
      const port = this.udp.address().port;
      this.tcp = net.createServer((s) => this.serveTcp(s));
      const ok = await new Promise<boolean>((r) => {
        this.tcp.once('error', () => r(false));
        this.tcp.listen(port, HOST, () => r(true));
      });
      if (ok) {
        this.port = port;
        this.udp.on('message', (m, rinfo) => {
          const out = this.answer('udp', m);
          if (out) this.udp.send(out, rinfo.port, rinfo.address);
        });
        return;
      }
      this.udp.close();
    }
    throw new Error('no free port for the fake upstream');
  }

  private serveTcp(s: net.Socket): void {
    s.on('error', () => undefined);
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + m.length);
        const out = this.answer('tcp', Buffer.from(m));
        if (out) {
          const p = Buffer.alloc(2);
          p.writeUInt16BE(out.length, 0);
          s.write(Buffer.concat([p, out]));
        }
      }
    });
  }

  private answer(proto: Proto, m: Buffer): Buffer | null {
    const q = dnsPacket.decode(m);
    const name = q.questions?.[0]?.name ?? '';
    this.seen.push({ proto, id: q.id ?? -1, name });
    if (this.silent || name === 'silent.example') return null;
    const base = { type: 'response' as const, id: q.id, questions: q.questions };
    if (name === 'fail.example') return dnsPacket.encode({ ...base, flags: 2 });
    if (name === 'big.example' && proto === 'udp') {
      return dnsPacket.encode({ ...base, flags: dnsPacket.TRUNCATED_RESPONSE });
    }
    return dnsPacket.encode({
      ...base,
      flags: dnsPacket.RECURSION_AVAILABLE,
      answers: [{ type: 'A', name, ttl: 42, data: proto === 'tcp' ? '203.0.113.8' : '203.0.113.7' }],
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.udp.close(() => r()));
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }
}

describe('DnsServer', () => {
  const up = new FakeUpstream();
  const lookups: string[] = [];
  let upstreams: string[] = [];
  const names: Record<string, string[]> = {
    web: ['172.18.0.2'],
    'web.mynet': ['172.18.0.2'],
    db: ['172.18.0.3', '172.18.0.4'],
    many: Array.from({ length: 100 }, (_, i) => `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`),
  };
  const opts: DnsResolver & DnsServerOptions = {
    lookup(key, clientIp, name) {
      lookups.push(`${key} ${clientIp} ${name}`);
      if (name === 'boom') throw new Error('backend exploded');
      const a = names[name];
      return a ? { addresses: [...a] } : null;
    },
    reverse(_key, _clientIp, ip) {
      return ip === '172.18.0.2' ? ['web.mynet'] : null;
    },
    upstreams: () => upstreams,
    upstreamTimeoutMs: 300,
  };
  const server = dnsServer(opts);
  let port = 0;

  before(async () => {
    await up.start();
    upstreams = [`${HOST}:${up.port}`];
    await server.listen('net1', HOST, 0);
    port = server.port('net1') ?? 0;
    assert.ok(port > 0);
  });
  after(async () => {
    await server.closeAll();
    await up.stop();
  });

  test('A for one of our names: TTL 600, RA, id kept, not forwarded', async () => {
    const before = up.seen.length;
    const r = await ask(port, encodeQuery(4242, 'web', 'A'));
    assert.equal(r.pkt.id, 4242);
    assert.equal(r.pkt.type, 'response');
    assert.equal(r.pkt.rcode, 'NOERROR');
    assert.equal(r.pkt.flag_ra, true);
    assert.equal(r.pkt.flag_rd, true);
    assert.equal(r.pkt.flag_aa, false);
    assert.deepEqual(r.pkt.questions, [{ name: 'web', type: 'A', class: 'IN' }]);
    assert.equal(r.pkt.answers?.length, 1);
    const a = r.pkt.answers?.[0] as dnsPacket.StringAnswer;
    assert.equal(a.type, 'A');
    assert.equal(a.data, '172.18.0.2');
    assert.equal(a.ttl, 600);
    assert.equal(a.name, 'web');
    assert.equal(up.seen.length, before);
    assert.ok(lookups.includes(`net1 127.0.0.1 web`));
  });

  test('names are case-insensitive and the trailing dot is dropped; the answer keeps the asked case', async () => {
    const r = await ask(port, encodeQuery(7, 'WeB.MyNet.', 'A'));
    assert.equal(r.pkt.rcode, 'NOERROR');
    const a = r.pkt.answers?.[0] as dnsPacket.StringAnswer;
    assert.equal(a.data, '172.18.0.2');
    assert.equal(a.name, 'WeB.MyNet');
    assert.ok(lookups.includes('net1 127.0.0.1 web.mynet'));
  });

  test('several addresses are all answered', async () => {
    const r = await ask(port, encodeQuery(8, 'db', 'A'));
    const got = (r.pkt.answers ?? []).map((a) => (a as dnsPacket.StringAnswer).data).sort();
    assert.deepEqual(got, ['172.18.0.3', '172.18.0.4']);
  });

  test('AAAA and MX for our names: NOERROR with no answers, not forwarded', async () => {
    const before = up.seen.length;
    for (const type of ['AAAA', 'MX'] as const) {
      const r = await ask(port, encodeQuery(9, 'web.mynet', type));
      assert.equal(r.pkt.rcode, 'NOERROR');
      assert.equal(r.pkt.answers?.length, 0);
      assert.equal(r.pkt.questions?.[0]?.type, type);
    }
    assert.equal(up.seen.length, before);
  });

  test('PTR for our address', async () => {
    const r = await ask(port, encodeQuery(10, '2.0.18.172.in-addr.arpa', 'PTR'));
    assert.equal(r.pkt.rcode, 'NOERROR');
    const a = r.pkt.answers?.[0] as dnsPacket.StringAnswer;
    assert.equal(a.type, 'PTR');
    assert.equal(a.data, 'web.mynet');
    assert.equal(a.ttl, 600);
  });

  test('PTR for an address that is not ours is forwarded', async () => {
    const before = up.seen.length;
    const r = await ask(port, encodeQuery(11, '9.0.18.172.in-addr.arpa', 'PTR'));
    assert.equal(up.seen.length, before + 1);
    assert.equal(r.pkt.id, 11);
  });

  test('unknown single-label name: NXDOMAIN at once, never forwarded', async () => {
    const before = up.seen.length;
    for (const type of ['A', 'AAAA', 'TXT'] as const) {
      const r = await ask(port, encodeQuery(12, 'nosuchcontainer', type));
      assert.equal(r.pkt.rcode, 'NXDOMAIN');
      assert.equal(r.pkt.answers?.length, 0);
      assert.ok(r.ms < 250, `took ${r.ms} ms`);
    }
    assert.equal(up.seen.length, before);
  });

  test('our single-label name asked for another type: NOERROR/NODATA, not NXDOMAIN', async () => {
    const r = await ask(port, encodeQuery(13, 'web', 'TXT'));
    assert.equal(r.pkt.rcode, 'NOERROR');
    assert.equal(r.pkt.answers?.length, 0);
  });

  test('a dotted name is forwarded over UDP with the client id kept', async () => {
    const before = up.seen.length;
    const r = await ask(port, encodeQuery(31337, 'example.com', 'A'));
    assert.equal(r.pkt.id, 31337);
    assert.equal(r.pkt.rcode, 'NOERROR');
    assert.equal((r.pkt.answers?.[0] as dnsPacket.StringAnswer).data, '203.0.113.7');
    assert.equal((r.pkt.answers?.[0] as dnsPacket.StringAnswer).ttl, 42);
    assert.deepEqual(up.seen.slice(before), [{ proto: 'udp', id: 31337, name: 'example.com' }]);
  });

  test('a truncated upstream answer is passed as it is', async () => {
    const r = await ask(port, encodeQuery(14, 'big.example', 'A'));
    assert.equal(r.pkt.flag_tc, true);
    assert.equal(r.pkt.id, 14);
  });

  test('upstreams are tried in order: a SERVFAIL one and a silent one are skipped', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, HOST, () => r()));
    try {
      upstreams = [`${HOST}:${silent.address().port}`, 'not-an-ip', `${HOST}:${up.port}`];
      const r = await ask(port, encodeQuery(15, 'example.com', 'A'));
      assert.equal(r.pkt.rcode, 'NOERROR');
      assert.equal((r.pkt.answers?.[0] as dnsPacket.StringAnswer).data, '203.0.113.7');
      assert.ok(r.ms >= 250, `the silent upstream was not waited for (${r.ms} ms)`);
      // fail.example: SERVFAIL from the only upstream → SERVFAIL to the client.
      upstreams = [`${HOST}:${up.port}`];
      const f = await ask(port, encodeQuery(16, 'fail.example', 'A'));
      assert.equal(f.pkt.rcode, 'SERVFAIL');
      assert.equal(f.pkt.id, 16);
    } finally {
      upstreams = [`${HOST}:${up.port}`];
      silent.close();
    }
  });

  test('SERVFAIL when the upstream is silent (after the timeout) and when there is none', async () => {
    const r = await ask(port, encodeQuery(17, 'silent.example', 'A'));
    assert.equal(r.pkt.rcode, 'SERVFAIL');
    assert.equal(r.pkt.id, 17);
    assert.deepEqual(r.pkt.questions, [{ name: 'silent.example', type: 'A', class: 'IN' }]);
    assert.ok(r.ms >= 250 && r.ms < 2000, `took ${r.ms} ms`);
    upstreams = [];
    try {
      const n = await ask(port, encodeQuery(18, 'example.com', 'A'));
      assert.equal(n.pkt.rcode, 'SERVFAIL');
      assert.ok(n.ms < 250);
    } finally {
      upstreams = [`${HOST}:${up.port}`];
    }
  });

  test('TCP: our names answered, other names forwarded over TCP', async () => {
    const r = await ask(port, encodeQuery(19, 'web', 'A'), 'tcp');
    assert.equal(r.pkt.id, 19);
    assert.equal((r.pkt.answers?.[0] as dnsPacket.StringAnswer).data, '172.18.0.2');
    const before = up.seen.length;
    const f = await ask(port, encodeQuery(20, 'example.com', 'A'), 'tcp');
    assert.equal(f.pkt.id, 20);
    assert.equal((f.pkt.answers?.[0] as dnsPacket.StringAnswer).data, '203.0.113.8');
    assert.deepEqual(up.seen.slice(before), [{ proto: 'tcp', id: 20, name: 'example.com' }]);
  });

  test('a big answer is truncated to 512 bytes over UDP (TC), whole over TCP', async () => {
    const u = await ask(port, encodeQuery(21, 'many', 'A'));
    assert.ok(u.buf.length <= 512);
    assert.equal(u.pkt.flag_tc, true);
    assert.ok((u.pkt.answers?.length ?? 0) > 0 && (u.pkt.answers?.length ?? 0) < 100);
    const e = await ask(
      port,
      encodeQuery(22, 'many', 'A', {
        additionals: [
          { type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] },
        ],
      }),
    );
    assert.equal(e.pkt.answers?.length, 100);
    assert.equal(e.pkt.flag_tc, false);
    const t = await ask(port, encodeQuery(23, 'many', 'A'), 'tcp');
    assert.equal(t.pkt.answers?.length, 100);
    assert.equal(t.pkt.flag_tc, false);
  });

  test('a lookup that throws gives SERVFAIL', async () => {
    const r = await ask(port, encodeQuery(24, 'boom', 'A'));
    assert.equal(r.pkt.rcode, 'SERVFAIL');
  });

  test('malformed packets are dropped or FORMERR, and the server keeps answering', async () => {
    // Shorter than a header: dropped.
    assert.equal(await sendUdp(port, Buffer.from('abc'), 300), null);
    // A header announcing one question, then garbage: FORMERR with the id kept.
    const bad = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([60, 1, 2])]);
    const f = await sendUdp(port, bad);
    assert.ok(f);
    assert.equal(f.readUInt16BE(0), 0x1234);
    assert.equal(rcodeOf(f), 1);
    assert.ok(f[2] & 0x80);
    // Two questions: FORMERR. A response: ignored. An UPDATE (opcode 5): NOTIMP.
    const two = dnsPacket.encode({
      type: 'query',
      id: 5,
      questions: [
        { type: 'A', name: 'a' },
        { type: 'A', name: 'b' },
      ],
    });
    assert.equal(rcodeOf((await sendUdp(port, two)) ?? Buffer.alloc(4)), 1);
    const resp = dnsPacket.encode({ type: 'response', id: 6, questions: [{ type: 'A', name: 'web' }] });
    assert.equal(await sendUdp(port, resp, 300), null);
    const update = encodeQuery(7, 'web', 'A');
    update.writeUInt16BE(5 << 11, 2);
    assert.equal(rcodeOf((await sendUdp(port, update)) ?? Buffer.alloc(4)), 4);
    // Random garbage over TCP too.
    const sock = net.connect({ host: HOST, port });
    sock.on('error', () => undefined);
    await new Promise<void>((r) => sock.on('connect', () => r()));
    sock.write(Buffer.from([0, 5, 1, 2, 3, 4, 5, 0xff, 0xff]));
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    const ok = await ask(port, encodeQuery(25, 'web', 'A'));
    assert.equal((ok.pkt.answers?.[0] as dnsPacket.StringAnswer).data, '172.18.0.2');
  });
});

describe('DnsServer listeners', () => {
  const opts: DnsResolver & DnsServerOptions = { lookup: () => ({ addresses: ['10.0.0.1'] }), upstreams: () => [] };

  test('listen rejects when the address cannot be bound, without crashing', async () => {
    const s = dnsServer(opts);
    // 198.51.100.254 (TEST-NET-2) is on no interface here.
    await assert.rejects(s.listen('x', '198.51.100.254', 0), (err: NodeJS.ErrnoException) => err.code === 'EADDRNOTAVAIL');
    await assert.rejects(s.listen('x', 'not-an-ip', 53), /invalid DNS listen address/);
    await s.listen('a', HOST, 0);
    const port = s.port('a') ?? 0;
    const other = dnsServer(opts);
    await assert.rejects(other.listen('b', HOST, port), (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE');
    assert.equal(other.port('b'), undefined);
    await other.closeAll();
    await s.closeAll();
  });

  test('close(key) frees both ports; listening twice on the same address is a no-op; closeAll', async () => {
    const s = dnsServer(opts);
    await s.listen('a', HOST, 0);
    const port = s.port('a') ?? 0;
    await s.listen('a', HOST, port);
    assert.equal(s.port('a'), port);
    await s.listen('b', HOST, 0);
    const r = await ask(port, encodeQuery(1, 'x', 'A'), 'tcp');
    assert.equal((r.pkt.answers?.[0] as dnsPacket.StringAnswer).data, '10.0.0.1');
    await s.close('a');
    assert.equal(s.port('a'), undefined);
    // Both ports free again: a plain UDP bind and a TCP listen on it succeed.
    const u = dgram.createSocket('udp4');
    await new Promise<void>((res, rej) => {
      u.once('error', rej);
      u.bind(port, HOST, () => res());
    });
    u.close();
    const t = net.createServer();
    await new Promise<void>((res, rej) => {
      t.once('error', rej);
      t.listen(port, HOST, () => res());
    });
    await new Promise<void>((res) => t.close(() => res()));
    await s.close('a'); // closing an unknown key is fine
    await s.closeAll();
    assert.equal(s.port('b'), undefined);
  });

  test('close() during a forward answers nothing and does not wait for the timeout', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, HOST, () => r()));
    const s = dnsServer({ ...opts, lookup: () => null, upstreams: () => [`${HOST}:${silent.address().port}`], upstreamTimeoutMs: 5000 });
    await s.listen('a', HOST, 0);
    const pending = sendUdp(s.port('a') ?? 0, encodeQuery(2, 'example.com', 'A'), 600);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await s.closeAll();
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(await pending, null);
    silent.close();
  });
});

test('parseUpstream and ptrToIpv4', () => {
  assert.deepEqual(parseUpstream('8.8.8.8'), { host: '8.8.8.8', port: 53 });
  // host(...): asked from berthd's namespace, not the container's.
  assert.deepEqual(parseUpstream('host(127.0.0.53)'), { host: '127.0.0.53', port: 53, hostNs: true });
  assert.deepEqual(parseUpstream('host(127.0.0.1:5353)'), { host: '127.0.0.1', port: 5353, hostNs: true });
  assert.equal(parseUpstream('host(host(127.0.0.1))'), null);
  assert.equal(parseUpstream('host()'), null);
  assert.deepEqual(parseUpstream('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
  assert.deepEqual(parseUpstream('2001:db8::1'), { host: '2001:db8::1', port: 53 });
  assert.deepEqual(parseUpstream('[2001:db8::1]:54'), { host: '2001:db8::1', port: 54 });
  assert.equal(parseUpstream('example.com'), null);
  assert.equal(parseUpstream('1.2.3.4:0'), null);
  assert.equal(parseUpstream('1.2.3.4:70000'), null);
  assert.equal(ptrToIpv4('4.3.2.1.in-addr.arpa'), '1.2.3.4');
  assert.equal(ptrToIpv4('3.2.1.in-addr.arpa'), null);
  assert.equal(ptrToIpv4('256.3.2.1.in-addr.arpa'), null);
  assert.equal(ptrToIpv4('1.0.0.0.ip6.arpa'), null);
});

describe('DnsServer hardening', () => {
  test('forwards=false: external names get SERVFAIL and the upstream sees nothing; own names still answer', async () => {
    const up = new FakeUpstream();
    await up.start();
    const s = dnsServer({
      lookup: (_k, _c, n) => (n === 'web' ? { addresses: ['10.0.0.1'] } : null),
      upstreams: () => [`${HOST}:${up.port}`],
      forwards: () => false,
    });
    await s.listen('a', HOST, 0);
    try {
      for (const proto of ['udp', 'tcp'] as const) {
        const r = await ask(s.port('a') ?? 0, encodeQuery(4, 'example.com', 'A'), proto);
        assert.equal(r.pkt.rcode, 'SERVFAIL');
      }
      assert.equal(up.seen.length, 0);
      const own = await ask(s.port('a') ?? 0, encodeQuery(5, 'web', 'A'));
      assert.equal((own.pkt.answers?.[0] as dnsPacket.StringAnswer).data, '10.0.0.1');
    } finally {
      await s.closeAll();
      await up.stop();
    }
  });

  test('TCP connections past the cap are closed at once; the others keep working', async () => {
    const s = dnsServer({ lookup: () => ({ addresses: ['10.0.0.1'] }), upstreams: () => [] });
    await s.listen('a', HOST, 0);
    const port = s.port('a') ?? 0;
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < MAX_TCP_CONNS; i++) {
        const c = net.connect({ host: HOST, port });
        c.on('error', () => undefined);
        held.push(c);
        await new Promise<void>((r) => c.once('connect', () => r()));
      }
      // Let the server register them all.
      await new Promise((r) => setTimeout(r, 50));
      const extra = net.connect({ host: HOST, port });
      extra.on('error', () => undefined);
      await new Promise<void>((r) => extra.once('close', () => r()));
      for (const c of held.splice(0, 1)) c.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const r = await ask(port, encodeQuery(6, 'x', 'A'), 'tcp');
      assert.equal((r.pkt.answers?.[0] as dnsPacket.StringAnswer).data, '10.0.0.1');
    } finally {
      for (const c of held) c.destroy();
      await s.closeAll();
    }
  });
});

test("redirectRules: dockerd's NAT rules in the container's netns, port 53 to the listeners' own ports", () => {
  assert.equal(
    redirectRules('127.0.0.11', 53, 41643, 40627),
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      ':DOCKER_OUTPUT - [0:0]',
      ':DOCKER_POSTROUTING - [0:0]',
      '-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT',
      '-A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING',
      '-A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:40627',
      '-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:41643',
      '-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p tcp -m tcp --sport 40627 -j SNAT --to-source :53',
      '-A DOCKER_POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport 41643 -j SNAT --to-source :53',
      'COMMIT',
      '',
    ].join('\n'),
  );
});
