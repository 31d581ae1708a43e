// The swarm agent on real nodes: a three-member etcd and two berthd (a manager, a worker). The
// orchestrator is driven by hand as it would drive a node: tasks written into etcd for the worker.
// Desired running: the container runs with dockerd's name and swarm labels, P/task-status says
// running; desired ready: created, not started; shutdown: stopped; deleted: removed. A task with
// a secret (sealed with the cluster key) reads it at /run/secrets/<name>. A swarm network made
// by `docker network create -d overlay` on the manager is listed on the worker; two tasks of one
// service on it resolve the service name to both addresses (DNSRR). A port published in ingress
// mode is published on the task's node. The worker's berthd killed
// and started again: a task deleted meanwhile has its container removed, the other is reported.
// The worker leaving the swarm removes its task containers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clusterKeys, type ClusterKeys } from '../../daemon/swarm/keys';
import { sealData } from '../../daemon/swarm/seal';
import { EtcdKv } from '../../store/cluster/etcd-kv';
import { loadBusybox, pollUntil, startBerth, type Berth } from './harness';
import { destroySwarm, EtcdCluster, freePort, ok, startSwarmNode } from './swarm-kit';

const TTL = 3;

function newId(): string {
  return BigInt(`0x${randomBytes(16).toString('hex')}`)
    .toString(36)
    .padStart(25, '0');
}

function answers(nslookupOut: string): string[] {
  const out: string[] = [];
  let inAnswer = false;
  for (const l of nslookupOut.split('\n')) {
    if (l.startsWith('Name:')) inAnswer = true;
    else if (inAnswer && l.startsWith('Address:')) out.push(l.slice('Address:'.length).trim());
    else if (l.trim() === '') inAnswer = false;
  }
  return out;
}

describe('swarm agent on etcd', () => {
  let etcd: EtcdCluster | undefined;
  const nodes: Array<Berth | undefined> = [];
  let n1: Berth;
  let n2: Berth;
  let kv: EtcdKv | undefined;
  let keys: ClusterKeys;
  let node2 = '';
  let clusterKey: Buffer;
  const web = newId();
  const api = newId();

  const put = async (key: string, value: unknown): Promise<void> => {
    await (kv as EtcdKv).txn([], [{ op: 'put', key, value: JSON.stringify(value) }]);
  };
  const del = async (key: string): Promise<void> => {
    await (kv as EtcdKv).txn([], [{ op: 'delete', key }]);
  };
  const status = async (taskId: string): Promise<{ State?: string; Err?: string } | undefined> => {
    const e = await (kv as EtcdKv).get(keys.taskStatus(taskId));
    return e ? (JSON.parse(e.value) as { State?: string; Err?: string }) : undefined;
  };
  const stateIs = (taskId: string, want: string): Promise<boolean> =>
    pollUntil(60_000, 250, async () => (await status(taskId))?.State === want);
  const task = (id: string, serviceId: string, slot: number, desired: string, spec: Record<string, unknown> = {}): object => ({
    ID: id,
    ServiceID: serviceId,
    NodeID: node2,
    Slot: slot,
    DesiredState: desired,
    Status: { State: 'assigned', Message: 'scheduler assigned task to node' },
    Spec: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '600'], StopGracePeriod: 1_000_000_000 }, ...spec },
  });
  /** `docker ps -a` on a node for one task: name|state|labels, '' when absent. */
  const taskPs = async (b: Berth, taskId: string): Promise<string> =>
    ok(b, [
      'ps',
      '-a',
      '--filter',
      `label=com.docker.swarm.task.id=${taskId}`,
      '--format',
      '{{.Names}}|{{.State}}|{{.Label "com.docker.swarm.service.name"}}|{{.Label "com.docker.swarm.node.id"}}',
    ]);

  before(async () => {
    etcd = await EtcdCluster.start(3);
    n1 = await startSwarmNode(etcd, { ttl: TTL });
    nodes.push(n1);
    n2 = await startSwarmNode(etcd, { ttl: TTL });
    nodes.push(n2);
    await loadBusybox(n2);
    await ok(n1, ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    const token = await ok(n1, ['swarm', 'join-token', 'worker', '-q']);
    await ok(n2, ['swarm', 'join', '--token', token, '--advertise-addr', '127.0.0.2', '127.0.0.1:2377']);
    node2 = JSON.parse(await ok(n2, ['info', '--format', '{{json .Swarm.NodeID}}'])) as string;
    const clusterId = JSON.parse(await ok(n1, ['info', '--format', '{{json .Swarm.Cluster.ID}}'])) as string;
    keys = clusterKeys(clusterId);
    const state = JSON.parse(fs.readFileSync(path.join(n1.dataRoot, 'swarm', 'state.json'), 'utf8')) as { clusterKey: string };
    clusterKey = Buffer.from(state.clusterKey, 'base64');
    kv = new EtcdKv({ endpoints: etcd.endpoints.split(',') });
    // This test is the orchestrator: it takes the office from n1's orchestrator loop (which would
    // otherwise scale, update and reap these hand-written tasks). A leader key of another term
    // makes n1's next guarded write fail; n1 then stops orchestrating and waits for the key to go.
    await del(keys.leader);
    await put(keys.leader, 'the-test');
    await put(keys.service(web), { ID: web, Spec: { Name: 'web', EndpointSpec: { Mode: 'dnsrr' } } });
    await put(keys.service(api), { ID: api, Spec: { Name: 'api', EndpointSpec: { Mode: 'dnsrr' } } });
  });
  after(async () => {
    await kv?.close();
    await destroySwarm(nodes, etcd);
  });

  const t1 = newId();

  test('desired running: the container runs with dockerd name and labels; status running', async () => {
    await put(keys.task(t1), task(t1, web, 1, 'running'));
    assert.ok(await stateIs(t1, 'running'), JSON.stringify(await status(t1)));
    assert.equal(await taskPs(n2, t1), `web.1.${t1}|running|web|${node2}`);
    // Not on the manager.
    assert.equal(await taskPs(n1, t1), '');
  });

  test('desired ready: prepared, not started; raised to running, it starts', async () => {
    const t = newId();
    await put(keys.task(t), task(t, web, 2, 'ready'));
    assert.ok(await stateIs(t, 'ready'), JSON.stringify(await status(t)));
    assert.equal(await taskPs(n2, t), `web.2.${t}|created|web|${node2}`);
    await put(keys.task(t), task(t, web, 2, 'running'));
    assert.ok(await stateIs(t, 'running'));
    assert.equal(await taskPs(n2, t), `web.2.${t}|running|web|${node2}`);
    await del(keys.task(t));
    assert.ok(await pollUntil(60_000, 250, async () => (await taskPs(n2, t)) === ''));
  });

  test('shutdown stops the container; deleting the task removes it and its status', async () => {
    await put(keys.task(t1), task(t1, web, 1, 'shutdown'));
    assert.ok(await stateIs(t1, 'shutdown'));
    assert.equal(await taskPs(n2, t1), `web.1.${t1}|exited|web|${node2}`);
    await del(keys.task(t1));
    assert.ok(await pollUntil(60_000, 250, async () => (await taskPs(n2, t1)) === ''));
    assert.ok(await pollUntil(10_000, 250, async () => (await status(t1)) === undefined));
  });

  test('a task with a secret reads it at /run/secrets/<name>', async () => {
    const sid = newId();
    await put(keys.secret(sid), {
      ID: sid,
      Spec: { Name: 'db-pass', Labels: {} },
      Sealed: sealData(clusterKey, sid, Buffer.from('s3cret-value')),
    });
    const t = newId();
    await put(
      keys.task(t),
      task(t, web, 3, 'running', {
        ContainerSpec: {
          Image: 'busybox',
          Command: ['sh', '-c', 'cat /run/secrets/db-pass'],
          Secrets: [{ SecretID: sid, SecretName: 'db-pass', File: { Name: 'db-pass', UID: '0', GID: '0', Mode: 0o400 } }],
        },
      }),
    );
    assert.ok(await stateIs(t, 'complete'), JSON.stringify(await status(t)));
    assert.equal(await ok(n2, ['logs', `web.3.${t}`]), 's3cret-value');
    await del(keys.task(t));
    assert.ok(await pollUntil(60_000, 250, async () => (await taskPs(n2, t)) === ''));
  });

  test('a swarm network: listed on every node; two tasks of a service on it resolve its name to both (DNSRR)', async () => {
    const netId = await ok(n1, ['network', 'create', '-d', 'overlay', '--attachable', 'appnet']);
    assert.match(netId, /^[0-9a-z]{25}$/);
    assert.equal(
      await ok(n2, ['network', 'ls', '--filter', 'name=appnet', '--format', '{{.ID}}|{{.Driver}}|{{.Scope}}']),
      `${netId.slice(0, 12)}|overlay|swarm`,
    );
    const a = newId();
    const b = newId();
    const spec = { Networks: [{ Target: netId }] };
    await put(keys.task(a), task(a, api, 1, 'running', spec));
    await put(keys.task(b), task(b, api, 2, 'running', spec));
    assert.ok(await stateIs(a, 'running'), JSON.stringify(await status(a)));
    assert.ok(await stateIs(b, 'running'), JSON.stringify(await status(b)));
    // The node's local bridge of the network keeps the swarm network's name and ID.
    assert.equal(await ok(n2, ['network', 'inspect', '-f', '{{.Name}}|{{.Id}}', 'appnet']), `appnet|${netId}`);
    const ip = async (name: string): Promise<string> =>
      ok(n2, ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name]);
    const want = [await ip(`api.1.${a}`), await ip(`api.2.${b}`)].sort();
    let got: string[] = [];
    assert.ok(
      await pollUntil(30_000, 500, async () => {
        const r = await n2.docker(['exec', `api.1.${a}`, 'nslookup', 'api'], { timeoutMs: 30_000 });
        got = answers(r.stdout).sort();
        return JSON.stringify(got) === JSON.stringify(want);
      }),
      `nslookup api answered ${JSON.stringify(got)}, wanted ${JSON.stringify(want)}`,
    );
    for (const t of [a, b]) await del(keys.task(t));
    assert.ok(await pollUntil(60_000, 250, async () => (await taskPs(n2, a)) === '' && (await taskPs(n2, b)) === ''));

    // Removal on the manager: refused while a service names it, then done.
    await put(keys.service(api), { ID: api, Spec: { Name: 'api', TaskTemplate: { Networks: [{ Target: netId }] } } });
    const refused = await n1.docker(['network', 'rm', 'appnet']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`network ${netId} is in use by service ${api}`));
    await put(keys.service(api), { ID: api, Spec: { Name: 'api', EndpointSpec: { Mode: 'dnsrr' } } });
    await ok(n1, ['network', 'rm', 'appnet']);
    assert.equal(await ok(n1, ['network', 'ls', '-q', '--filter', 'name=appnet']), '');
  });

  test('a published port in ingress mode (the CLI default) is published on the node running the task', async () => {
    const pub = newId();
    const port = await freePort();
    await put(keys.service(pub), {
      ID: pub,
      Spec: {
        Name: 'pub',
        EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: port, PublishMode: 'ingress' }] },
      },
    });
    const t = newId();
    await put(keys.task(t), task(t, pub, 1, 'running'));
    assert.ok(await stateIs(t, 'running'), JSON.stringify(await status(t)));
    assert.match(await ok(n2, ['port', `pub.1.${t}`, '80/tcp']), new RegExp(`^0\\.0\\.0\\.0:${port}$`, 'm'));
    await del(keys.task(t));
    assert.ok(await pollUntil(60_000, 250, async () => (await taskPs(n2, t)) === ''));
  });

  test("the worker's berthd killed and started again: a task deleted meanwhile is removed, the other reported", async () => {
    const keep = newId();
    const gone = newId();
    await put(keys.task(keep), task(keep, web, 4, 'running'));
    await put(keys.task(gone), task(gone, web, 5, 'running'));
    assert.ok(await stateIs(keep, 'running'));
    assert.ok(await stateIs(gone, 'running'));
    await n2.stop('SIGKILL');
    await del(keys.task(gone));
    const i = nodes.indexOf(n2);
    n2 = await startBerth({
      dir: n2.dir,
      args: ['--cluster-store', `etcd://${(etcd as EtcdCluster).endpoints}`, '--cluster-node-ttl', String(TTL)],
    });
    nodes[i] = n2;
    assert.ok(await pollUntil(60_000, 250, async () => (await taskPs(n2, gone)) === ''), 'the deleted task container is removed');
    assert.ok((await taskPs(n2, keep)).startsWith(`web.4.${keep}|`));
    // Its container did not survive the kill: the task's end is reported (the orchestrator replaces it).
    assert.ok(
      await pollUntil(60_000, 250, async () => ['failed', 'complete'].includes((await status(keep))?.State ?? '')),
      JSON.stringify(await status(keep)),
    );
    await del(keys.task(keep));
    assert.ok(await pollUntil(60_000, 250, async () => (await taskPs(n2, keep)) === ''));
  });

  test('the worker leaves the swarm: its task containers go', async () => {
    const t = newId();
    await put(keys.task(t), task(t, web, 6, 'running'));
    assert.ok(await stateIs(t, 'running'));
    assert.equal(await ok(n2, ['swarm', 'leave']), 'Node left the swarm.');
    assert.equal(await taskPs(n2, t), '');
  });
});
