// Clients that misbehave must not crash or stall the daemon: requests asking to upgrade whose
// client leaves before the answer, an /events stream upgraded and dropped while events flow,
// `docker save` readers that stop reading or vanish, and an attach client that never reads while
// its container writes 100 MiB. The canary is a container that must keep running throughout, and
// the daemon process itself (same PID, answering /_ping).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Kit, sleep } from './container-kit';

let k: Kit;

before(async () => {
  k = await Kit.start();
  await k.ok(['run', '-d', '--name', 'canary', 'busybox', 'sleep', '100000']);
});

after(async () => {
  if (k) {
    await k.docker(['rm', '-f', 'canary', 'talker', 'flood']);
    await k.destroy();
  }
});

function alive(): boolean {
  try {
    process.kill(k.b.pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function assertHealthy(what: string): Promise<void> {
  assert.ok(alive(), `berthd died (${what}); log:\n${k.b.log().slice(-4000)}`);
  const ping = await k.b.request('GET', '/_ping');
  assert.equal(ping.status, 200, `/_ping after ${what}`);
  // The listeners did the work, not the last-resort handler.
  assert.ok(!k.b.log().includes('unhandled client connection error'), `the crash guard had to step in (${what})`);
  const running = (await k.ok(['inspect', '-f', '{{.State.Running}}', 'canary'])).trim();
  assert.equal(running, 'true', `canary container after ${what}`);
}

function fdCount(): number {
  return fs.readdirSync(`/proc/${k.b.pid}/fd`).length;
}

function rssKiB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${k.b.pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Opens a raw connection and sends `head`; resolves once connected. */
function rawConnect(head: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(k.b.socket);
    s.on('error', () => undefined);
    s.once('connect', () => {
      s.write(head);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Resolves once the response's header block has arrived (or the socket closed). */
function headersOf(s: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        s.off('data', onData);
        s.pause();
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('close', () => resolve(got));
    if (s.destroyed) resolve(got);
  });
}

const upgradeRequest = (method: string, url: string, body = ''): string =>
  `${method} ${url} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
  (body ? `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n` : '') +
  `\r\n${body}`;

describe('clients that leave early', () => {
  test('300 upgrade requests to random routes, dropped before the answer', async () => {
    const routes: Array<[string, string, string?]> = [
      ['GET', '/events'],
      ['GET', '/v1.45/events?since=0'],
      ['POST', '/containers/canary/attach?stream=1&stdout=1&stderr=1'],
      ['POST', '/containers/canary/attach?stream=1&stdin=1&logs=1'],
      ['GET', '/_ping'],
      ['HEAD', '/_ping'],
      ['GET', '/containers/json?all=1'],
      ['GET', '/images/json'],
      ['GET', '/info'],
      ['GET', '/version'],
      ['GET', '/containers/canary/json'],
      ['GET', '/containers/canary/logs?stdout=1&follow=1'],
      ['GET', '/containers/canary/stats'],
      ['GET', '/images/get?names=busybox'],
      ['GET', '/nope/not/a/route'],
      ['POST', '/containers/canary/wait'],
      ['POST', '/containers/create', '{"Image":"busybox","Cmd":["true"]}'],
      ['POST', '/exec/0123/start', '{"Detach":false}'],
      ['GET', '/networks'],
      ['GET', '/%zz'],
    ];
    for (let batch = 0; batch < 6; batch++) {
      const conns: Promise<void>[] = [];
      for (let i = 0; i < 50; i++) {
        const [method, url, body] = routes[(batch * 50 + i) % routes.length];
        const delay = (i * 7) % 5; // 0..4 ms: some leave before routing, some mid-answer
        conns.push(
          rawConnect(upgradeRequest(method, url, body)).then(async (s) => {
            if (delay > 0) await sleep(delay);
            s.destroy();
          }),
        );
      }
      await Promise.all(conns);
      await sleep(200);
      await assertHealthy(`upgrade batch ${batch}`);
    }
    // Containers created by the dropped create requests are removed by the next test run's rm.
    await k.docker(['container', 'prune', '-f']);
  });

  test('an upgraded /events stream dropped while events are produced', async () => {
    for (let round = 0; round < 5; round++) {
      const socks: net.Socket[] = [];
      for (let i = 0; i < 10; i++) {
        const s = await rawConnect(upgradeRequest('GET', '/events'));
        socks.push(s);
      }
      await Promise.all(socks.map((s) => headersOf(s)));
      // Events flow while the clients vanish.
      const produce = (async () => {
        for (let i = 0; i < 6; i++) {
          await k.ok(['volume', 'create', `crash-ev-${round}-${i}`]);
          await k.ok(['volume', 'rm', `crash-ev-${round}-${i}`]);
        }
      })();
      for (const s of socks) {
        await sleep(20);
        s.destroy();
      }
      await produce;
      await assertHealthy(`events round ${round}`);
    }
  });

  test('docker save readers that stop reading or vanish, 30 times', async () => {
    const before = fdCount();
    for (let i = 0; i < 30; i++) {
      const s = await rawConnect(`GET /images/get?names=busybox HTTP/1.1\r\nHost: docker\r\n\r\n`);
      await headersOf(s);
      // Read a few bytes, stop reading a while (the daemon must not buffer or crash), then leave.
      s.resume();
      await new Promise((r) => {
        s.once('data', r);
        s.once('close', r);
        if (s.destroyed) r(undefined);
      });
      s.pause();
      await sleep(i % 3 === 0 ? 300 : 10);
      s.destroy();
    }
    await sleep(500);
    await assertHealthy('save readers');
    // Nothing held by the abandoned saves (a little slack for the daemon's own churn).
    let after = fdCount();
    for (let tries = 0; tries < 20 && after > before + 5; tries++) {
      await sleep(250);
      after = fdCount();
    }
    assert.ok(after <= before + 5, `fd count grew from ${before} to ${after}`);
  });
});

describe('attach backpressure', () => {
  test('an attach client that never reads while the container writes 256 MiB', async () => {
    // A 4 KiB line repeated: 256 MiB of output, logged with rotation so the disk use stays small.
    const script =
      'sleep 2; l=$(head -c 4095 /dev/zero | tr "\\0" x); i=0; while [ $i -lt 65536 ]; do echo "$l"; i=$((i+1)); done; echo the-end';
    await k.ok(['create', '--name', 'flood', '--log-opt', 'max-size=4m', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c', script]);
    const rssBefore = rssKiB();
    const s = await rawConnect(upgradeRequest('POST', '/containers/flood/attach?stream=1&stdout=1&stderr=1'));
    const head = await headersOf(s);
    assert.match(head, /^HTTP\/1\.1 101/);
    // The client reads nothing from here on.
    await k.ok(['start', 'flood']);
    let peak = 0;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      peak = Math.max(peak, rssKiB() - rssBefore);
      await sleep(200);
    }
    assert.ok(peak < 128 * 1024, `RSS grew by ${peak} KiB while an attach client did not read`);
    await assertHealthy('attach flood');
    // The client leaves: the container finishes, and its logs have everything up to the end.
    s.destroy();
    await k.until('flood to exit', async () => (await k.ok(['inspect', '-f', '{{.State.Running}}', 'flood'])).trim() === 'false', 120_000);
    const logs = await k.ok(['logs', '--tail', '1', 'flood']);
    assert.equal(logs.trim(), 'the-end');
  });
});
