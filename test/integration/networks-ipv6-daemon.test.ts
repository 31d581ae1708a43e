// A dual-stack default bridge through the real docker CLI, each case on a berthd of its own:
// `--ipv6 --fixed-cidr-v6` as flags and as daemon.json keys. Measured on a reference dockerd 20.10
// (2026-12-06): the bridge network shows EnableIPv6 and the IPv6 subnet in its IPAM config, the
// bridge carries <subnet>::1, and a container gets <subnet> with its MAC as the low 48 bits
// ("fd3a:77:88:99:0:242:c612:ed02"), a default IPv6 route via ::1, and IPv6Gateway/
// GlobalIPv6Address in inspect. (20.10 showed no Gateway in the IPv6 config; moby v29 does.)
// Subnets are random /64s of fd00::/8; traffic stays between the host's bridge and the containers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { Kit, lines } from './container-kit';
import { destroyBerth, startBerth } from './harness';

const live = new Set<Kit>();

after(async () => {
  for (const k of live) await destroyBerth(k.b).catch(() => undefined);
});

/** A random ULA /64 prefix in Go's text ("fdxx:x:xx:xxx::"), no group zero. */
function freeUla(): string {
  for (;;) {
    const hex = `fd${randomBytes(7).toString('hex')}`;
    const groups = [0, 4, 8, 12].map((i) => parseInt(hex.slice(i, i + 4), 16));
    if (!groups.includes(0)) return `${groups.map((g) => g.toString(16)).join(':')}::`;
  }
}

interface BridgeInspect {
  EnableIPv6: boolean;
  IPAM: { Config: { Subnet: string; Gateway?: string }[] };
}

async function check(opts: { args?: string[]; daemonJson?: string }, ula: string): Promise<void> {
  const b = await startBerth(opts);
  const k = new Kit(b);
  live.add(k);
  try {
    await k.ok(['load'], await buildBusyboxArchive({ tags: ['busybox:latest'] }));
    const [n] = JSON.parse(await k.ok(['network', 'inspect', 'bridge'])) as BridgeInspect[];
    assert.equal(n.EnableIPv6, true);
    assert.equal(n.IPAM.Config.length, 2);
    assert.deepEqual(n.IPAM.Config[1], { Subnet: `${ula}/64`, Gateway: `${ula}1` });

    await k.ok(['run', '-d', '--name', 'd6', 'busybox', 'sleep', '300']);
    const c = (await k.inspect('d6')) as unknown as {
      NetworkSettings: {
        Networks: { bridge: { MacAddress: string; GlobalIPv6Address: string; GlobalIPv6PrefixLen: number; IPv6Gateway: string } };
      };
    };
    const e = c.NetworkSettings.Networks.bridge;
    const m = e.MacAddress.split(':');
    const low = [0, 2, 4].map((i) => parseInt(`${m[i]}${m[i + 1]}`, 16).toString(16));
    const fromMac = `${ula.slice(0, -1)}0:${low.join(':')}`;
    assert.equal(e.GlobalIPv6Address, fromMac, `the MAC ${e.MacAddress} as the low 48 bits`);
    assert.equal(e.GlobalIPv6PrefixLen, 64);
    assert.equal(e.IPv6Gateway, `${ula}1`);
    // dockerd's top-level (pre-1.52) fields carry them too.
    const legacy = JSON.parse((await k.request('GET', '/v1.41/containers/d6/json')).body) as {
      NetworkSettings: { GlobalIPv6Address: string; IPv6Gateway: string };
    };
    assert.equal(legacy.NetworkSettings.GlobalIPv6Address, fromMac);
    assert.equal(legacy.NetworkSettings.IPv6Gateway, `${ula}1`);

    const routes = lines(await k.ok(['exec', 'd6', 'ip', '-6', 'route']));
    assert.ok(
      routes.some((r) => r.startsWith(`default via ${ula}1 dev eth0`)),
      routes.join(' | '),
    );
    const ping = await k.docker(['exec', 'd6', 'ping', '-6', '-c', '1', '-W', '5', `${ula}1`]);
    assert.equal(ping.code, 0, `ping6 the bridge: ${ping.stdout}${ping.stderr}`);
    await k.ok(['rm', '-f', 'd6']);
    live.delete(k);
    await k.destroy();
  } catch (err) {
    live.delete(k);
    await destroyBerth(b).catch(() => undefined);
    throw err;
  }
}

describe('dual-stack default bridge', { concurrency: 2 }, () => {
  test('--ipv6 --fixed-cidr-v6 flags', async () => {
    const ula = freeUla();
    await check({ args: ['--ipv6', '--fixed-cidr-v6', `${ula}/64`] }, ula);
  });

  test('daemon.json ipv6 and fixed-cidr-v6', async () => {
    const ula = freeUla();
    await check({ daemonJson: JSON.stringify({ ipv6: true, 'fixed-cidr-v6': `${ula}/64` }) }, ula);
  });
});
