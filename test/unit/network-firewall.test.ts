import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Firewall, firewallChains, jumpRules, parseSaved, renderRules, type FirewallModel } from '../../network/firewall';

const logger = pino({ level: 'silent' });

const MODEL: FirewallModel = {
  bridges: [
    { name: 'berth0', subnet: '172.17.0.0/16', internal: false, icc: true, masquerade: true },
    { name: 'br-0123456789ab', subnet: '172.18.0.0/16', internal: true, icc: false, masquerade: true },
  ],
  ports: [
    { proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerIp: '172.17.0.2', containerPort: 80, bridge: 'berth0' },
    { proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353, containerIp: '172.17.0.3', containerPort: 53, bridge: 'berth0' },
    { proto: 'tcp', hostIp: '::', hostPort: 8080, containerIp: '172.17.0.2', containerPort: 80, bridge: 'berth0' },
  ],
};

test('renderRules: full output for two bridges and ports', () => {
  assert.equal(
    renderRules('BERTH', MODEL),
    [
      '*filter',
      ':BERTH-FORWARD - [0:0]',
      ':BERTH-ISOLATION - [0:0]',
      ':BERTH-INPUT - [0:0]',
      '-A BERTH-FORWARD -i berth0 ! -o berth0 -j BERTH-ISOLATION',
      '-A BERTH-FORWARD -i br-0123456789ab ! -o br-0123456789ab -j BERTH-ISOLATION',
      '-A BERTH-FORWARD -i br-0123456789ab ! -o br-0123456789ab -j DROP',
      '-A BERTH-FORWARD ! -i br-0123456789ab -o br-0123456789ab -j DROP',
      '-A BERTH-FORWARD -o berth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A BERTH-FORWARD -o br-0123456789ab -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A BERTH-FORWARD -d 172.17.0.2/32 ! -i berth0 -o berth0 -p tcp -m tcp --dport 80 -j ACCEPT',
      '-A BERTH-FORWARD -d 172.17.0.3/32 ! -i berth0 -o berth0 -p udp -m udp --dport 53 -j ACCEPT',
      '-A BERTH-FORWARD -i berth0 ! -o berth0 -j ACCEPT',
      '-A BERTH-FORWARD -i berth0 -o berth0 -j ACCEPT',
      '-A BERTH-FORWARD -i br-0123456789ab -o br-0123456789ab -j DROP',
      '-A BERTH-ISOLATION -o berth0 -j DROP',
      '-A BERTH-ISOLATION -o br-0123456789ab -j DROP',
      'COMMIT',
      '*nat',
      ':BERTH-DNAT - [0:0]',
      ':BERTH-POSTROUTING - [0:0]',
      '-A BERTH-DNAT ! -i berth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
      '-A BERTH-DNAT -d 127.0.0.1/32 ! -i berth0 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.17.0.3:53',
      '-A BERTH-POSTROUTING -s 172.17.0.0/16 ! -o berth0 -j MASQUERADE',
      '-A BERTH-POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE',
      '-A BERTH-POSTROUTING -s 172.17.0.3/32 -d 172.17.0.3/32 -p udp -m udp --dport 53 -j MASQUERADE',
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('renderRules for ip6tables: bridges with IPv6 and ports to IPv6 container addresses only', () => {
  const model: FirewallModel = {
    bridges: [
      { name: 'berth0', subnet: '172.17.0.0/16', internal: false, icc: true, masquerade: true },
      { name: 'br-6', subnet: '172.19.0.0/16', subnet6: 'fd00:1::/64', internal: false, icc: true, masquerade: true },
    ],
    ports: [
      ...MODEL.ports,
      { proto: 'tcp', hostIp: '::', hostPort: 9090, containerIp: 'fd00:1::2', containerPort: 80, bridge: 'br-6' },
      { proto: 'tcp', hostIp: '0.0.0.0', hostPort: 9090, containerIp: '172.19.0.2', containerPort: 80, bridge: 'br-6' },
    ],
  };
  const v6 = renderRules('BERTH', model, 6).split('\n');
  assert.deepEqual(
    v6.filter((l) => l.startsWith('-A')),
    [
      '-A BERTH-FORWARD -i br-6 ! -o br-6 -j BERTH-ISOLATION',
      '-A BERTH-FORWARD -o br-6 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A BERTH-FORWARD -d fd00:1::2/128 ! -i br-6 -o br-6 -p tcp -m tcp --dport 80 -j ACCEPT',
      '-A BERTH-FORWARD -i br-6 ! -o br-6 -j ACCEPT',
      '-A BERTH-FORWARD -i br-6 -o br-6 -j ACCEPT',
      '-A BERTH-ISOLATION -o br-6 -j DROP',
      '-A BERTH-DNAT ! -i br-6 -p tcp -m tcp --dport 9090 -j DNAT --to-destination [fd00:1::2]:80',
      '-A BERTH-POSTROUTING -s fd00:1::/64 ! -o br-6 -j MASQUERADE',
      '-A BERTH-POSTROUTING -s fd00:1::2/128 -d fd00:1::2/128 -p tcp -m tcp --dport 80 -j MASQUERADE',
    ],
  );
  // The IPv4 tables are unchanged by the IPv6 parts.
  assert.ok(!renderRules('BERTH', model).includes('fd00'));
  assert.deepEqual(
    jumpRules('BERTH', 6).find((j) => j.chain === 'OUTPUT')?.spec,
    '! -d ::1/128 -m addrtype --dst-type LOCAL -j BERTH-DNAT',
  );
});

test('renderRules: an empty model declares (so flushes) every chain and adds nothing', () => {
  const out = renderRules('BERTH-1A2B3C', { bridges: [], ports: [] });
  assert.deepEqual(
    out.split('\n').filter((l) => l.startsWith(':')),
    [
      ':BERTH-1A2B3C-FORWARD - [0:0]',
      ':BERTH-1A2B3C-ISOLATION - [0:0]',
      ':BERTH-1A2B3C-INPUT - [0:0]',
      ':BERTH-1A2B3C-DNAT - [0:0]',
      ':BERTH-1A2B3C-POSTROUTING - [0:0]',
    ],
  );
  assert.equal(out.split('\n').filter((l) => l.startsWith('-')).length, 0);
});

test('renderRules: an internal network gets no outbound accept and no masquerade; icc=false drops intra-bridge', () => {
  const out = renderRules('B', {
    bridges: [{ name: 'brI', subnet: '10.9.0.0/24', internal: true, icc: false, masquerade: true }],
    ports: [],
  });
  assert.ok(!out.includes('-i brI ! -o brI -j ACCEPT'));
  assert.ok(!out.includes('MASQUERADE'));
  assert.ok(out.includes('-A B-FORWARD -i brI -o brI -j DROP'));
  // The internal drops come before the conntrack accept, so nothing from outside gets in as "ESTABLISHED".
  const lines = out.split('\n');
  assert.ok(lines.indexOf('-A B-FORWARD ! -i brI -o brI -j DROP') < lines.findIndex((l) => l.includes('ESTABLISHED')));
});

test('renderRules: masquerade=false leaves outbound accept but no MASQUERADE for the subnet', () => {
  const out = renderRules('B', {
    bridges: [{ name: 'brM', subnet: '10.9.0.0/24', internal: false, icc: true, masquerade: false }],
    ports: [],
  });
  assert.ok(out.includes('-A B-FORWARD -i brM ! -o brM -j ACCEPT'));
  assert.ok(!out.includes('MASQUERADE'));
});

test('renderRules: isolation comes before every ACCEPT in FORWARD', () => {
  const lines = renderRules('BERTH', MODEL).split('\n');
  const lastIso = lines.map((l, i) => (l.endsWith('-j BERTH-ISOLATION') ? i : -1)).reduce((a, b) => Math.max(a, b));
  const firstAccept = lines.findIndex((l) => l.startsWith('-A BERTH-FORWARD') && l.endsWith('-j ACCEPT'));
  assert.ok(lastIso >= 0 && lastIso < firstAccept);
});

test('renderRules: sctp ports and an empty host IP (= any)', () => {
  const out = renderRules('B', {
    bridges: [],
    ports: [{ proto: 'sctp', hostIp: '', hostPort: 9000, containerIp: '10.0.0.2', containerPort: 9, bridge: 'br-x' }],
  });
  assert.ok(out.includes('-A B-DNAT ! -i br-x -p sctp -m sctp --dport 9000 -j DNAT --to-destination 10.0.0.2:9'));
  assert.ok(out.includes('-A B-POSTROUTING -s 10.0.0.2/32 -d 10.0.0.2/32 -p sctp -m sctp --dport 9 -j MASQUERADE'));
});

test('renderRules: refuses values that could inject restore lines', () => {
  const bridge = { name: 'br0', subnet: '10.0.0.0/24', internal: false, icc: true, masquerade: true };
  const port = { proto: 'tcp' as const, hostIp: '0.0.0.0', hostPort: 1, containerIp: '10.0.0.2', containerPort: 1, bridge: 'br0' };
  const bad: FirewallModel[] = [
    { bridges: [{ ...bridge, name: 'br0\n-A INPUT -j ACCEPT' }], ports: [] },
    { bridges: [{ ...bridge, name: 'br 0' }], ports: [] },
    { bridges: [{ ...bridge, name: '-j' }], ports: [] },
    { bridges: [{ ...bridge, name: 'abcdefghijklmnop' }], ports: [] },
    { bridges: [{ ...bridge, subnet: '10.0.0.0/33' }], ports: [] },
    { bridges: [{ ...bridge, subnet: '10.0.0.256/24' }], ports: [] },
    { bridges: [{ ...bridge, subnet: '10.0.0.0' }], ports: [] },
    { bridges: [], ports: [{ ...port, hostPort: 0 }] },
    { bridges: [], ports: [{ ...port, containerPort: 65536 }] },
    { bridges: [], ports: [{ ...port, containerIp: 'fe80::1' }] },
    { bridges: [], ports: [{ ...port, hostIp: 'localhost' }] },
    { bridges: [], ports: [{ ...port, proto: 'icmp' as 'tcp' }] },
  ];
  for (const m of bad) assert.throws(() => renderRules('B', m), /firewall: invalid/, JSON.stringify(m));
});

test('firewallChains: names and the 28-character limit', () => {
  assert.deepEqual(firewallChains('BERTH'), {
    forward: 'BERTH-FORWARD',
    isolation: 'BERTH-ISOLATION',
    input: 'BERTH-INPUT',
    dnat: 'BERTH-DNAT',
    postrouting: 'BERTH-POSTROUTING',
  });
  assert.equal(firewallChains('BERTH-ABCDEF0123').postrouting.length, 28);
  assert.throws(() => firewallChains('BERTH-ABCDEF01234'), /invalid iptables chain prefix/);
  assert.throws(() => firewallChains('BAD PREFIX'), /invalid iptables chain prefix/);
  assert.throws(() => firewallChains(''), /invalid iptables chain prefix/);
});

test('jumpRules: FORWARD, INPUT and POSTROUTING first; PREROUTING and OUTPUT for local destinations', () => {
  assert.deepEqual(
    jumpRules('BERTH').map((j) => `${j.table} ${j.insert ? '-I' : '-A'} ${j.chain} ${j.spec}`),
    [
      'filter -I FORWARD -j BERTH-FORWARD',
      'filter -I INPUT -j BERTH-INPUT',
      'nat -A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT',
      'nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j BERTH-DNAT',
      'nat -I POSTROUTING -j BERTH-POSTROUTING',
    ],
  );
});

const SAVED = `# Generated by iptables-save v1.8.9 (nf_tables)
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:BERTH-FORWARD - [0:0]
:BERTH-1A2B3C-FORWARD - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j BERTH-1A2B3C-FORWARD
-A FORWARD -j BERTH-FORWARD
-A FORWARD -j DOCKER-USER
-A BERTH-FORWARD -i berth0 -o berth0 -j ACCEPT
-A DOCKER-USER -j RETURN
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:BERTH-DNAT - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
COMMIT
`;

test('parseSaved: chains per table and only the jumps into our exact chain names', () => {
  const s = parseSaved(SAVED, new Set(Object.values(firewallChains('BERTH'))));
  assert.ok(s.chains.get('filter')?.has('BERTH-FORWARD'));
  assert.ok(s.chains.get('filter')?.has('BERTH-1A2B3C-FORWARD'));
  assert.ok(!s.chains.get('nat')?.has('BERTH-FORWARD'));
  assert.deepEqual(s.jumps, [
    { table: 'filter', rule: 'FORWARD -j BERTH-FORWARD' },
    { table: 'nat', rule: 'PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT' },
  ]);
});

/** A Firewall whose commands are recorded; iptables-save answers `saved`; restores can be held or failed. */
function fake(saved = '') {
  const calls: { cmd: string; args: string[]; input: string }[] = [];
  const gates: (() => void)[] = [];
  let hold = false;
  let fail: string | null = null;
  const fw = new Firewall({
    prefix: 'BERTH',
    enabled: true,
    ipForward: false,
    logger,
    exec: async (cmd, args, input) => {
      calls.push({ cmd, args, input });
      if (cmd === 'iptables-save') return saved;
      if (hold) await new Promise<void>((r) => gates.push(r));
      if (fail !== null) throw new Error(fail);
      return '';
    },
  });
  return {
    fw,
    calls,
    restores: () => calls.filter((c) => c.cmd === 'iptables-restore'),
    hold(on: boolean) {
      hold = on;
    },
    fail(msg: string | null) {
      fail = msg;
    },
    release() {
      for (const g of gates.splice(0)) g();
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('setup: one save and one restore holding chains, content and jumps; stale jumps replaced', async () => {
  const f = fake(SAVED);
  await f.fw.apply(MODEL); // before setup: only kept
  assert.equal(f.calls.length, 0);
  await f.fw.setup();
  assert.deepEqual(
    f.calls.map((c) => c.cmd),
    ['iptables-save', 'iptables-restore'],
  );
  const restore = f.restores()[0];
  assert.deepEqual(restore.args, ['-w', '--noflush']);
  const lines = restore.input.split('\n');
  for (const l of renderRules('BERTH', MODEL).split('\n')) if (l.startsWith('-A ') || l.startsWith(':')) assert.ok(lines.includes(l), l);
  const filter = lines.slice(0, lines.indexOf('*nat'));
  const nat = lines.slice(lines.indexOf('*nat'));
  assert.deepEqual(
    filter.filter((l) => /^-[DI] /.test(l)),
    ['-D FORWARD -j BERTH-FORWARD', '-I FORWARD 1 -j BERTH-FORWARD', '-I INPUT 1 -j BERTH-INPUT'],
  );
  assert.deepEqual(
    nat.filter((l) => /^-[DI] |^-A (PREROUTING|OUTPUT|POSTROUTING)/.test(l)),
    [
      '-D PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT',
      '-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT',
      '-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j BERTH-DNAT',
      '-I POSTROUTING 1 -j BERTH-POSTROUTING',
    ],
  );
  assert.equal(f.fw.restoreRuns, 1);
});

test('apply: concurrent calls coalesce; the newest model is written; all callers resolve after it', async () => {
  const f = fake();
  await f.fw.setup();
  const base = f.fw.restoreRuns;
  f.hold(true);
  const models = Array.from({ length: 5 }, (_, i): FirewallModel => ({
    bridges: [{ name: `br-${i}`, subnet: `10.${i}.0.0/16`, internal: false, icc: true, masquerade: true }],
    ports: [],
  }));
  let done = 0;
  const first = f.fw.apply(models[0]).then(() => done++);
  await tick();
  assert.equal(f.fw.restoreRuns, base + 1); // first run in flight
  const rest = models.slice(1).map((m) => f.fw.apply(m).then(() => done++));
  await tick();
  assert.equal(done, 0);
  assert.equal(f.fw.restoreRuns, base + 1); // queued behind the run in flight
  f.release();
  await first;
  await tick();
  assert.equal(f.fw.restoreRuns, base + 2); // the queue collapsed into one run...
  assert.equal(done, 1);
  f.release();
  await Promise.all(rest);
  assert.equal(done, 5);
  const last = f.restores().at(-1);
  assert.equal(last?.input, renderRules('BERTH', models[4])); // ...of the newest model
  assert.equal(f.fw.restoreRuns, base + 2);
});

test('apply: calls in the same tick share the first run', async () => {
  const f = fake();
  await f.fw.setup();
  const base = f.fw.restoreRuns;
  await Promise.all(Array.from({ length: 10 }, () => f.fw.apply(MODEL)));
  assert.equal(f.fw.restoreRuns, base + 1);
});

test('apply: a failed run rejects its callers only; the next run works', async () => {
  const f = fake();
  await f.fw.setup();
  f.fail('iptables-restore: line 3 failed');
  const a = f.fw.apply(MODEL);
  const b = f.fw.apply(MODEL);
  await assert.rejects(a, /line 3 failed/);
  await assert.rejects(b, /line 3 failed/);
  f.fail(null);
  await f.fw.apply(MODEL);
});

test('apply: an invalid model rejects its own caller without a run', async () => {
  const f = fake();
  await f.fw.setup();
  const base = f.fw.restoreRuns;
  await assert.rejects(
    f.fw.apply({ bridges: [{ name: 'bad name', subnet: '10.0.0.0/8', internal: false, icc: true, masquerade: true }], ports: [] }),
    /invalid bridge name/,
  );
  assert.equal(f.fw.restoreRuns, base);
});

test('teardown: deletes the jumps, flushes then deletes only our existing chains; later applies write nothing', async () => {
  const f = fake(SAVED);
  await f.fw.setup();
  await f.fw.teardown();
  const input = f.restores().at(-1)?.input ?? '';
  assert.equal(
    input,
    [
      '*filter',
      '-D FORWARD -j BERTH-FORWARD',
      '-F BERTH-FORWARD',
      '-X BERTH-FORWARD',
      'COMMIT',
      '*nat',
      '-D PREROUTING -m addrtype --dst-type LOCAL -j BERTH-DNAT',
      '-F BERTH-DNAT',
      '-X BERTH-DNAT',
      'COMMIT',
      '',
    ].join('\n'),
  );
  const runs = f.fw.restoreRuns;
  await f.fw.apply(MODEL);
  assert.equal(f.fw.restoreRuns, runs);
});

test('teardown: nothing of ours saved → no restore at all', async () => {
  const f = fake('*filter\n:FORWARD DROP [0:0]\n-A FORWARD -j DOCKER-USER\nCOMMIT\n');
  await f.fw.teardown();
  assert.equal(f.fw.restoreRuns, 0);
});

test('enabled=false: every method is a no-op', async () => {
  const calls: string[] = [];
  const fw = new Firewall({
    prefix: 'BERTH',
    enabled: false,
    ipForward: true,
    logger,
    exec: async (cmd) => {
      calls.push(cmd);
      return '';
    },
  });
  await fw.setup();
  await fw.apply(MODEL);
  await fw.teardown();
  assert.deepEqual(calls, []);
  assert.equal(fw.restoreRuns, 0);
});

test("renderRules: the INPUT chain is declared but empty (the embedded DNS lives in the containers' netns): rules older versions left on the gateways are flushed", () => {
  const out = renderRules('BERTH', {
    bridges: [
      { name: 'berth0', subnet: '172.17.0.0/16', internal: false, icc: true, masquerade: true },
      { name: 'br-0123456789ab', subnet: '172.18.0.0/16', internal: true, icc: true, masquerade: true },
    ],
    ports: [],
  });
  const lines = out.split('\n');
  assert.ok(lines.includes(':BERTH-INPUT - [0:0]'));
  assert.deepEqual(
    lines.filter((l) => l.includes('BERTH-INPUT') && l.startsWith('-A')),
    [],
  );
});
