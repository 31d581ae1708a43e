// The real apply against the host's iptables (root, iptables-nft). Uses its own random chain
// prefix and fake bridge names (iptables accepts interfaces that do not exist), so it never
// touches another daemon's chains, and removes everything with that prefix even on failure.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { after, test } from 'node:test';
import pino from 'pino';
import { Firewall, firewallChains, renderRules, type FirewallModel } from '../../network/firewall';

const PREFIX = `BERTHT-${crypto.randomBytes(3).toString('hex').toUpperCase()}`;
const C = firewallChains(PREFIX);
const tag = crypto.randomBytes(3).toString('hex');
const BR1 = `brt-${tag}a`;
const BR2 = `brt-${tag}b`;

function sh(cmd: string, args: string[], input = ''): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const save = (): string => sh('iptables-save', []);
/** `iptables -S chain` without the -N/-P line. */
const rules = (table: string, chain: string): string[] =>
  sh('iptables', ['-w', '-t', table, '-S', chain])
    .split('\n')
    .filter((l) => l.startsWith('-A '));
/** The -A lines the renderer produced for one chain. */
const rendered = (model: FirewallModel, chain: string): string[] =>
  renderRules(PREFIX, model)
    .split('\n')
    .filter((l) => l.startsWith(`-A ${chain} `));

/** Independent of Firewall.teardown: removes every jump into and every chain named PREFIX-*. */
function cleanup(): void {
  const out: string[] = [];
  let table = '';
  const chains = new Map<string, string[]>();
  const jumps = new Map<string, string[]>();
  for (const line of save().split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(`:${PREFIX}-`)) chains.set(table, [...(chains.get(table) ?? []), line.slice(1).split(' ')[0]]);
    else if (line.startsWith('-A ') && !line.startsWith(`-A ${PREFIX}-`) && line.includes(`-j ${PREFIX}-`)) {
      jumps.set(table, [...(jumps.get(table) ?? []), line.slice(3)]);
    }
  }
  for (const t of new Set([...chains.keys(), ...jumps.keys()])) {
    out.push(`*${t}`, ...(jumps.get(t) ?? []).map((j) => `-D ${j}`));
    out.push(...(chains.get(t) ?? []).map((c) => `-F ${c}`), ...(chains.get(t) ?? []).map((c) => `-X ${c}`), 'COMMIT');
  }
  if (out.length > 0) sh('iptables-restore', ['-w', '--noflush'], out.join('\n') + '\n');
}

after(() => cleanup());

// Documentation addresses: while the test runs these rules match no real traffic (198.51.100.7 is
// not a local address, so its DNAT never fires; 127.0.0.1 skips the OUTPUT jump).
const BIG: FirewallModel = {
  bridges: [
    { name: BR1, subnet: '203.0.113.0/25', internal: false, icc: true, masquerade: true },
    { name: BR2, subnet: '203.0.113.128/25', internal: true, icc: false, masquerade: true },
  ],
  ports: [{ proto: 'tcp', hostIp: '198.51.100.7', hostPort: 18080, containerIp: '203.0.113.2', containerPort: 80, bridge: BR1 }],
};
const SMALL: FirewallModel = {
  bridges: [{ name: BR1, subnet: '203.0.113.0/25', internal: false, icc: true, masquerade: true }],
  ports: [],
};

test('firewall: setup, apply, shrink, coalesce, teardown on the real iptables', async () => {
  const fw = new Firewall({ prefix: PREFIX, enabled: true, ipForward: false, logger: pino({ level: 'silent' }) });

  await fw.setup();
  await fw.setup(); // idempotent: jumps replaced, not doubled
  assert.equal(rules('filter', 'FORWARD')[0], `-A FORWARD -j ${C.forward}`, 'our FORWARD jump is first');
  assert.equal(rules('filter', 'INPUT')[0], `-A INPUT -j ${C.input}`);
  assert.equal(rules('nat', 'POSTROUTING')[0], `-A POSTROUTING -j ${C.postrouting}`);
  const jumps = save()
    .split('\n')
    .filter((l) => l.startsWith('-A ') && !l.startsWith(`-A ${PREFIX}-`) && l.includes(`-j ${PREFIX}-`));
  assert.deepEqual(jumps.sort(), [
    `-A FORWARD -j ${C.forward}`,
    `-A INPUT -j ${C.input}`,
    `-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j ${C.dnat}`,
    `-A POSTROUTING -j ${C.postrouting}`,
    `-A PREROUTING -m addrtype --dst-type LOCAL -j ${C.dnat}`,
  ]);

  await fw.apply(BIG);
  // iptables reads back exactly what we rendered (no normalisation surprises).
  for (const [table, chain] of [
    ['filter', C.forward],
    ['filter', C.isolation],
    ['filter', C.input],
    ['nat', C.dnat],
    ['nat', C.postrouting],
  ] as const) {
    assert.deepEqual(rules(table, chain), rendered(BIG, chain), chain);
  }
  const fwd = rules('filter', C.forward);
  assert.ok(fwd.includes(`-A ${C.forward} -d 203.0.113.2/32 ! -i ${BR1} -o ${BR1} -p tcp -m tcp --dport 80 -j ACCEPT`));
  assert.ok(fwd.includes(`-A ${C.forward} ! -i ${BR2} -o ${BR2} -j DROP`));
  assert.deepEqual(rules('nat', C.dnat), [
    `-A ${C.dnat} -d 198.51.100.7/32 ! -i ${BR1} -p tcp -m tcp --dport 18080 -j DNAT --to-destination 203.0.113.2:80`,
  ]);

  await fw.apply(SMALL);
  assert.deepEqual(rules('filter', C.forward), rendered(SMALL, C.forward));
  assert.ok(rules('filter', C.forward).length < fwd.length);
  assert.ok(!rules('filter', C.forward).some((l) => l.includes(BR2)));
  assert.deepEqual(rules('nat', C.dnat), []);
  assert.deepEqual(rules('nat', C.postrouting), [`-A ${C.postrouting} -s 203.0.113.0/25 ! -o ${BR1} -j MASQUERADE`]);

  const before = fw.restoreRuns;
  const models = Array.from({ length: 10 }, (_, i): FirewallModel => ({
    bridges: SMALL.bridges,
    ports: [{ proto: 'udp', hostIp: '127.0.0.1', hostPort: 20000 + i, containerIp: '203.0.113.3', containerPort: 53, bridge: BR1 }],
  }));
  await Promise.all(models.map((m) => fw.apply(m)));
  assert.ok(fw.restoreRuns - before <= 2, `10 concurrent applies took ${fw.restoreRuns - before} iptables-restore runs`);
  assert.deepEqual(rules('nat', C.dnat), rendered(models[9], C.dnat), 'the newest model won');

  await fw.teardown();
  assert.ok(!save().includes(PREFIX), 'no chain or jump with our prefix is left');
  await fw.teardown(); // nothing left: still fine
  await fw.apply(BIG); // after teardown: kept, not written
  assert.ok(!save().includes(PREFIX));
});
