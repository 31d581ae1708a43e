// Secrets, configs and the task log relay of swarm mode on etcd, through the real docker CLI and
// the Engine API: two berthd nodes (a manager and a worker) on a one-member etcd. Secrets created
// from stdin, listed and inspected without data, a taken name refused with dockerd's text, removal
// refused while a service references the secret, etcd holding no clear text; configs with their
// data; task logs asked on the manager and answered by the worker through etcd (containers on the
// worker labelled as swarm tasks stand in for the agent's), follow ended by the client leaving.

import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { loadBusybox, pollUntil, type Berth } from './harness';
import { destroySwarm, EtcdCluster, fails, ok, startSwarmNode } from './swarm-kit';

/** The frames of a multiplexed stream: stream number and payload text. */
function demux(buf: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (let off = 0; off + 8 <= buf.length;) {
    const size = buf.readUInt32BE(off + 4);
    out.push([buf[off], buf.subarray(off + 8, off + 8 + size).toString()]);
    off += 8 + size;
  }
  return out;
}

function getRaw(b: Berth, path: string): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: b.socket, method: 'GET', path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('swarm secrets, configs and task logs on etcd', () => {
  let etcd: EtcdCluster | undefined;
  const nodes: Array<Berth | undefined> = [];
  let n1: Berth;
  let n2: Berth;
  let prefix = '';
  let n2Id = '';

  before(async () => {
    etcd = await EtcdCluster.start(1);
    n1 = await startSwarmNode(etcd);
    nodes.push(n1);
    n2 = await startSwarmNode(etcd);
    nodes.push(n2);
    await ok(n1, ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    const token = await ok(n1, ['swarm', 'join-token', '-q', 'worker']);
    await ok(n2, ['swarm', 'join', '--token', token, '--advertise-addr', '127.0.0.1', '127.0.0.1:2377']);
    prefix = `/berth/swarm/${await ok(n1, ['info', '--format', '{{.Swarm.Cluster.ID}}'])}/`;
    n2Id = await ok(n2, ['info', '--format', '{{.Swarm.NodeID}}']);
    // This test writes services and tasks by hand: it takes the leader office from n1's
    // orchestrator (a leader key of another term fails n1's next guarded write; n1 then waits).
    const cluster = etcd as EtcdCluster;
    assert.equal((await cluster.ctl(['del', `${prefix}leader`])).code, 0);
    assert.equal((await cluster.ctl(['put', `${prefix}leader`, 'the-test'])).code, 0);
  });
  after(async () => {
    await destroySwarm(nodes, etcd);
  });

  const etcdDump = async (): Promise<string> => {
    const r = await (etcd as EtcdCluster).ctl(['get', '--prefix', '/berth/']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const etcdPut = async (key: string, value: object): Promise<void> => {
    const r = await (etcd as EtcdCluster).ctl(['put', key, JSON.stringify(value)]);
    assert.equal(r.code, 0, r.stderr);
  };

  test('secrets: create from stdin, ls, inspect without data, taken name, in use, rm; etcd has no clear text', async () => {
    const plain = 'top-secret-value-4711';
    const id = await ok(n1, ['secret', 'create', '--label', 'team=blue', 's1', '-'], plain);
    assert.match(id, /^[0-9a-z]{25}$/);
    await ok(n1, ['secret', 'create', 'other', '-'], 'x');
    assert.deepEqual((await ok(n1, ['secret', 'ls', '--format', '{{.Name}}'])).split('\n').sort(), ['other', 's1']);
    assert.equal(await ok(n1, ['secret', 'ls', '--filter', 'label=team=blue', '--format', '{{.ID}}']), id);
    assert.equal(
      await ok(n1, ['secret', 'ls', '-q', '--filter', 'name=oth']),
      await ok(n1, ['secret', 'inspect', 'other', '--format', '{{.ID}}']),
    );
    const inspected = JSON.parse(await ok(n1, ['secret', 'inspect', id.slice(0, 6)])) as Array<{
      ID: string;
      Spec: Record<string, unknown>;
    }>;
    assert.equal(inspected[0].ID, id);
    assert.deepEqual(inspected[0].Spec, { Name: 's1', Labels: { team: 'blue' } }, 'no data');
    const dump = await etcdDump();
    assert.ok(dump.includes(`${prefix}secrets/${id}`), dump);
    assert.ok(!dump.includes(plain) && !dump.includes(Buffer.from(plain).toString('base64')), 'the payload is sealed in etcd');
    await fails(
      n1,
      ['secret', 'create', 's1', '-'],
      'Error response from daemon: rpc error: code = AlreadyExists desc = secret s1 already exists',
      'y',
    );
    await fails(n1, ['secret', 'ls', '--filter', 'foo=bar'], "invalid filter 'foo'");
    const badVersion = await n1.request('POST', `/secrets/${id}/update?version=x`, {
      body: JSON.stringify({ Name: 's1' }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(badVersion.status, 400);
    assert.match(badVersion.body, /invalid secret version/);
    await fails(n2, ['secret', 'ls'], "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state.");
    // A service referencing it (written as the service API stores one) keeps it from removal.
    await etcdPut(`${prefix}services/svc000000000000000000001`, {
      ID: 'svc000000000000000000001',
      Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox', Secrets: [{ SecretID: id, SecretName: 's1' }] } } },
    });
    await fails(n1, ['secret', 'rm', 's1'], "rpc error: code = InvalidArgument desc = secret 's1' is in use by the following service: web");
    assert.equal((await (etcd as EtcdCluster).ctl(['del', `${prefix}services/svc000000000000000000001`])).code, 0);
    assert.equal(await ok(n1, ['secret', 'rm', 's1']), 's1');
    await fails(n1, ['secret', 'inspect', 's1'], 's1');
    assert.match(await ok(n1, ['secret', 'create', 's1', '-'], 'again'), /^[0-9a-z]{25}$/, 'the name is free again');
  });

  test('configs: create from stdin, inspect shows the data, update labels only through the API', async () => {
    const id = await ok(n1, ['config', 'create', 'c1', '-'], 'port=80\n');
    const data = await ok(n1, ['config', 'inspect', 'c1', '--format', '{{json .Spec.Data}}']);
    assert.equal(Buffer.from(JSON.parse(data) as string, 'base64').toString(), 'port=80\n');
    assert.ok((await ok(n1, ['config', 'inspect', '--pretty', 'c1'])).includes('port=80'));
    assert.equal(await ok(n1, ['config', 'ls', '--format', '{{.Name}}']), 'c1');
    assert.ok(!(await etcdDump()).includes('port=80'), 'config payloads are sealed too');
    const version = Number(await ok(n1, ['config', 'inspect', 'c1', '--format', '{{.Version.Index}}']));
    const upd = await n1.request('POST', `/configs/${id}/update?version=${version}`, {
      body: JSON.stringify({ Name: 'c1', Labels: { v: '2' } }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(upd.status, 200, upd.body);
    assert.equal(await ok(n1, ['config', 'inspect', 'c1', '--format', '{{.Spec.Labels.v}}']), '2');
    const stale = await n1.request('POST', `/configs/${id}/update?version=${version}`, {
      body: JSON.stringify({ Name: 'c1', Labels: {} }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(stale.status, 500);
    assert.match(stale.body, /update out of sequence/);
    await fails(n1, ['config', 'create', 'c1', '-'], 'rpc error: code = AlreadyExists desc = config c1 already exists', 'x');
    assert.equal(await ok(n1, ['config', 'rm', 'c1']), 'c1');
  });

  test('task logs: asked on the manager, read on the worker through etcd, in dockerd framing with swarm details', async () => {
    await loadBusybox(n2);
    const taskId = 'task00000000000000000001a';
    const svcId = 'svc00000000000000000001aa';
    await ok(n2, [
      'run',
      '--name',
      'tasklike',
      '--label',
      `com.docker.swarm.task.id=${taskId}`,
      '--label',
      `com.docker.swarm.service.id=${svcId}`,
      'busybox',
      'sh',
      '-c',
      'echo one; echo two >&2; echo three',
    ]);
    await etcdPut(`${prefix}tasks/${taskId}`, {
      ID: taskId,
      ServiceID: svcId,
      NodeID: n2Id,
      Spec: { ContainerSpec: { Image: 'busybox' } },
    });
    const r = await getRaw(n1, `/tasks/${taskId}/logs?stdout=1&stderr=1&details=1`);
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.type, 'application/vnd.docker.multiplexed-stream');
    const details = `com.docker.swarm.node.id=${n2Id},com.docker.swarm.service.id=${svcId},com.docker.swarm.task.id=${taskId} `;
    // stdout and stderr are separate pipes: their relative order is the container's race.
    assert.deepEqual(demux(r.body).sort(), [
      [1, `${details}one\n`],
      [1, `${details}three\n`],
      [2, `${details}two\n`],
    ]);
    const tail = await getRaw(n1, `/tasks/${taskId.slice(0, 10)}/logs?stdout=1&stderr=1&tail=1&timestamps=1`);
    const frames = demux(tail.body);
    assert.equal(frames.length, 1);
    // The last line of the log, whichever pipe's line the container's race put last: the same
    // line the node itself answers for the container.
    const local = demux((await getRaw(n2, '/containers/tasklike/logs?stdout=1&stderr=1&tail=1&timestamps=1')).body);
    assert.match(frames[0][1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (two|three)\n$/);
    assert.deepEqual(frames, local);
    assert.equal((await getRaw(n1, '/tasks/nope/logs?stdout=1')).status, 404);
    assert.equal((await getRaw(n1, `/tasks/${taskId}/logs`)).status, 400, 'a stream must be chosen');
    assert.ok(!(await etcdDump()).includes(`${prefix}logs/`), 'requests and chunks are gone once answered');
  });

  test('task logs follow: lines arrive as written; the client leaving revokes the request', async () => {
    const taskId = 'task00000000000000000002b';
    await ok(n2, [
      'run',
      '-d',
      '--name',
      'ticker',
      '--label',
      `com.docker.swarm.task.id=${taskId}`,
      'busybox',
      'sh',
      '-c',
      'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done',
    ]);
    await etcdPut(`${prefix}tasks/${taskId}`, { ID: taskId, ServiceID: 'svc2', NodeID: n2Id, Spec: { ContainerSpec: {} } });
    const seen = await new Promise<string>((resolve, reject) => {
      let text = '';
      const req = http.request({ socketPath: n1.socket, method: 'GET', path: `/tasks/${taskId}/logs?stdout=1&follow=1` }, (res) => {
        res.on('data', (d: Buffer) => {
          text += demux(d)
            .map(([, p]) => p)
            .join('');
          if (/tick [3-9]/.test(text)) {
            req.destroy();
            resolve(text);
          }
        });
        res.on('error', () => undefined);
      });
      req.on('error', (err) => (text ? undefined : reject(err)));
      req.end();
    });
    assert.match(seen, /^tick 1\ntick 2\n/);
    const gone = await pollUntil(15_000, 200, async () => !(await etcdDump()).includes(`${prefix}logs/`));
    assert.ok(gone, 'the request and its chunks went with the client');
    await ok(n2, ['rm', '-f', 'ticker']);
  });
});
