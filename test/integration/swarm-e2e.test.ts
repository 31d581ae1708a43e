// Swarm mode end to end through the real docker CLI only (no task written by hand): one manager
// and two workers on a three-member etcd. A secret created from stdin and read by two tasks whose
// output comes back through `docker service logs` (the CLI's `name.slot.task@node |` prefixes);
// a reference to a missing secret refused; two tasks on one node's `-d overlay` network resolved
// by a third task's `nslookup` (DNSRR on the node's bridge); etcd members SIGKILLed and restarted
// one at a time while `docker service scale` runs, the service reaching N/N with one task per
// slot; and the CLI's own formatting of `service ps --no-trunc`, `service inspect --pretty`,
// `node ps`.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadBusybox, pollUntil, type Berth } from './harness';
import { destroySwarm, EtcdCluster, lines, ok, startSwarmNode, swarmLines } from './swarm-kit';

const TTL = 3;
const POLL_MS = 30_000;

describe('swarm end to end through the docker CLI', () => {
  let etcd: EtcdCluster | undefined;
  const nodes: Array<Berth | undefined> = [];
  let n1: Berth;
  const ids: string[] = [];

  /** `docker service ps` rows (ID, slot from the name, node, desired and current state). */
  async function ps(service: string): Promise<Array<{ id: string; name: string; node: string; desired: string; current: string }>> {
    const out = await ok(n1, [
      'service',
      'ps',
      '--no-trunc',
      '--format',
      '{{.ID}}\t{{.Name}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}',
      service,
    ]);
    return lines(out).map((l) => {
      const [id, name, node, desired, current] = l.split('\t');
      return { id, name, node, desired, current };
    });
  }

  async function running(service: string, n: number): Promise<boolean> {
    const rows = await ps(service);
    return rows.filter((r) => r.desired === 'Running' && r.current.startsWith('Running')).length === n;
  }

  async function replicas(service: string): Promise<string> {
    return ok(n1, ['service', 'ls', '--filter', `name=${service}`, '--format', '{{.Replicas}}']);
  }

  before(async () => {
    etcd = await EtcdCluster.start(3);
    for (let i = 0; i < 3; i++) {
      const n = await startSwarmNode(etcd, { ttl: TTL });
      nodes.push(n);
      await loadBusybox(n);
    }
    n1 = nodes[0] as Berth;
    await ok(n1, ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    const worker = await ok(n1, ['swarm', 'join-token', 'worker', '-q']);
    for (const [i, n] of (nodes as Berth[]).entries()) {
      if (i > 0) await ok(n, ['swarm', 'join', '--token', worker, '--advertise-addr', `127.0.0.${i + 1}`, '127.0.0.1:2377']);
      ids.push(JSON.parse(await ok(n, ['info', '--format', '{{json .Swarm.NodeID}}'])) as string);
    }
  });
  after(async () => {
    await destroySwarm(nodes, etcd);
  });

  test('a secret from stdin read by two tasks, shown by `docker service logs`; a missing secret refused', async () => {
    const secretId = await ok(n1, ['secret', 'create', 'pw', '-'], 'hunter2-e2e');
    assert.match(secretId, /^[a-z0-9]{25}$/);
    await ok(n1, [
      'service',
      'create',
      '-d',
      '--no-resolve-image',
      '--name',
      's',
      '--secret',
      'pw',
      '--replicas',
      '2',
      'busybox',
      'sh',
      '-c',
      'cat /run/secrets/pw; echo; sleep 3600',
    ]);
    assert.ok(await pollUntil(POLL_MS, 300, () => running('s', 2)), JSON.stringify(await ps('s')));
    let logs = '';
    const both = await pollUntil(POLL_MS, 500, async () => {
      logs = await ok(n1, ['service', 'logs', 's']);
      const slots = new Set(lines(logs).flatMap((l) => /^s\.([12])\.[a-z0-9]+@\S+\s*\| hunter2-e2e$/.exec(l)?.[1] ?? []));
      return slots.size === 2;
    });
    assert.ok(both, `service logs: ${logs}`);

    // The CLI resolves `--secret` names itself and refuses an unknown one ...
    const cli = await n1.docker(['service', 'create', '-d', '--no-resolve-image', '--secret', 'missing', 'busybox', 'true']);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /secret not found: missing/);
    // ... and the daemon refuses a reference to no secret (or to one under another name), as swarmkit.
    const body = (secretName: string, secretId: string): string =>
      JSON.stringify({
        Name: `bad-${secretName}`,
        TaskTemplate: {
          ContainerSpec: {
            Image: 'busybox',
            Secrets: [{ SecretID: secretId, SecretName: secretName, File: { Name: 'x', UID: '0', GID: '0', Mode: 292 } }],
          },
        },
      });
    for (const [name, id] of [
      ['missing', 'nosuchsecret0000000000000'],
      ['other', secretId],
    ]) {
      const r = await n1.request('POST', '/services/create', { body: body(name, id), headers: { 'Content-Type': 'application/json' } });
      assert.equal(r.status, 400, r.body);
      assert.match(r.body, new RegExp(`secret not found: ${name}`));
    }
    assert.equal(await ok(n1, ['service', 'ls', '--filter', 'name=bad-', '-q']), '');
    await ok(n1, ['service', 'rm', 's']);
  });

  test('an overlay network: two tasks on one node resolved by a third task there (DNSRR)', async () => {
    const target = ids[1];
    await ok(n1, ['network', 'create', '-d', 'overlay', 'appnet']);
    const on = ['--network', 'appnet', '--constraint', `node.id==${target}`];
    await ok(n1, ['service', 'create', '-d', '--no-resolve-image', '--name', 'api', ...on, '--replicas', '2', 'busybox', 'sleep', '3600']);
    assert.ok(await pollUntil(POLL_MS, 300, () => running('api', 2)), JSON.stringify(await ps('api')));
    // Task addresses, from the node that runs them.
    const n2 = nodes[1] as Berth;
    const names = lines(await ok(n2, ['ps', '--filter', 'label=com.docker.swarm.service.name=api', '--format', '{{.Names}}']));
    assert.equal(names.length, 2, names.join(','));
    const addrs = new Set<string>();
    for (const c of names) addrs.add(await ok(n2, ['inspect', '-f', '{{(index .NetworkSettings.Networks "appnet").IPAddress}}', c]));
    assert.equal(addrs.size, 2);
    await ok(n1, [
      'service',
      'create',
      '-d',
      '--no-resolve-image',
      '--name',
      'client',
      ...on,
      'busybox',
      'sh',
      '-c',
      'nslookup api; sleep 3600',
    ]);
    let logs = '';
    const resolved = await pollUntil(POLL_MS, 500, async () => {
      logs = await ok(n1, ['service', 'logs', '--raw', 'client']);
      return [...addrs].every((a) => logs.includes(`Address: ${a}`) || logs.includes(`Address 1: ${a}`));
    });
    assert.ok(resolved, `wanted ${[...addrs].join(', ')} in: ${logs}`);
    await ok(n1, ['service', 'rm', 'client', 'api']);
  });

  test('etcd members SIGKILLed and restarted one at a time during `service scale`: N/N, one task per slot', async () => {
    const c = etcd as EtcdCluster;
    await ok(n1, ['service', 'create', '-d', '--no-resolve-image', '--name', 'web', '--replicas', '1', 'busybox', 'sleep', '3600']);
    assert.ok(await pollUntil(POLL_MS, 300, () => running('web', 1)));
    const N = 5;
    for (let i = 0; i < c.members.length; i++) {
      await c.kill(i);
      await ok(n1, ['service', 'scale', '-d', `web=${i === c.members.length - 1 ? N : i + 2}`]);
      c.restart(i);
      assert.ok(await pollUntil(POLL_MS, 200, async () => (await c.ctl(['endpoint', 'health'])).code === 0), `member ${i} back`);
    }
    // On failure: the tasks as the CLI shows them and what each node logged about the swarm.
    const why = async (): Promise<string> =>
      [
        await replicas('web'),
        await ok(n1, ['service', 'ps', '--no-trunc', 'web']),
        ...nodes.map((n, k) => `node ${k}:\n${swarmLines(n?.log() ?? '')}`),
      ].join('\n');
    assert.ok(await pollUntil(POLL_MS, 300, async () => (await replicas('web')) === `${N}/${N}`), await why());
    const rows = (await ps('web')).filter((r) => r.desired === 'Running');
    const slots = rows.map((r) => r.name).sort();
    assert.deepEqual(
      slots,
      Array.from({ length: N }, (_, k) => `web.${k + 1}`),
      JSON.stringify(rows),
    );
    assert.ok(
      rows.every((r) => r.current.startsWith('Running')),
      JSON.stringify(rows),
    );
  });

  test('the CLI formats our shapes: service ps --no-trunc, service inspect --pretty, node ps', async () => {
    const psOut = await n1.docker(['service', 'ps', '--no-trunc', 'web']);
    assert.equal(psOut.code, 0, psOut.stderr);
    assert.equal(psOut.stderr, '');
    assert.match(psOut.stdout, /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR\s+PORTS$/m);
    assert.match(psOut.stdout, /^[a-z0-9]{25}\s+web\.1\s+busybox\S*\s+\S+\s+Running\s+Running /m);

    const pretty = await n1.docker(['service', 'inspect', '--pretty', 'web']);
    assert.equal(pretty.code, 0, pretty.stderr);
    assert.equal(pretty.stderr, '');
    for (const want of [
      /^Name:\s+web$/m,
      /^Service Mode:\s+Replicated$/m,
      /^\s*Replicas:\s+5$/m,
      /^ContainerSpec:$/m,
      /^\s*Image:\s+busybox/m,
    ]) {
      assert.match(pretty.stdout, want);
    }

    const nodePs = await n1.docker(['node', 'ps', ids[0]]);
    assert.equal(nodePs.code, 0, nodePs.stderr);
    assert.equal(nodePs.stderr, '');
    assert.match(nodePs.stdout, /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR\s+PORTS$/m);
    // One node at a time: with several, the CLI adds each node to one shared filter, so a node's
    // tasks come back once per later node (dockerd answers the same).
    let web = 0;
    for (const id of ids) {
      const one = await n1.docker(['node', 'ps', '--no-trunc', '--filter', 'desired-state=running', id]);
      assert.equal(one.code, 0, one.stderr);
      web += lines(one.stdout).filter((l) => /\sweb\.\d+\s/.test(l) && /\sRunning\s+Running/.test(l)).length;
    }
    assert.equal(web, 5);
  });
});
