// Services and tasks through SwarmService over the in-memory store: create with the name key in
// the same transaction (dockerd's 409 text), lookups by ID, name and prefix, the version compare
// and swap, rollback, registry credentials sealed and never answered, remove freeing the name,
// task filters and the status merge; and the leader's orchestrator creating the tasks.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { clusterKeys } from '../../daemon/swarm/keys';
import { SwarmService } from '../../daemon/swarm/service';
import type { Service, ServiceSpec, Task } from '../../daemon/swarm/orchestrator/types';
import { MemoryKv } from '../../store/cluster/memory-kv';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function swarmNode(kv: MemoryKv): SwarmService {
  const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-swarm-svc-'));
  dirs.push(dataRoot);
  return new SwarmService({
    kv,
    dataRoot,
    nodeTtlSeconds: 5,
    describe: () => ({ Hostname: 'h', Platform: { Architecture: 'x86_64', OS: 'linux' } }),
  });
}

const all = { status: false, match: () => true };
const noTaskFilter = { ids: [], names: [], services: [], nodes: [], desiredStates: [], match: () => true };
const spec = (name: string, replicas = 2): ServiceSpec => ({
  Name: name,
  Labels: { tier: 'front' },
  Mode: { Replicated: { Replicas: replicas } },
  TaskTemplate: { ContainerSpec: { Image: 'busybox:latest', Args: ['sleep', '1'] } },
  EndpointSpec: { Mode: 'vip', Ports: [{ TargetPort: 80, PublishedPort: 8080 }] },
});

async function until(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 1000; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

test('services API over the store: create, conflict, inspect, update CAS, rollback, auth, remove', async () => {
  const kv = new MemoryKv();
  const a = swarmNode(kv);
  await a.init({ AdvertiseAddr: '127.0.0.1' });
  const keys = clusterKeys((await a.inspect()).ID ?? '');
  const { ID: id } = await a.services.create(spec('web'), 'eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InNlY3JldCJ9');
  assert.match(id, /^[0-9a-z]{25}$/);
  assert.equal((await kv.get(keys.name('services', 'web')))?.value, id);
  await assert.rejects(a.services.create(spec('web'), ''), (err: Error) => {
    assert.equal(err.message, 'rpc error: code = AlreadyExists desc = name conflicts with an existing object: service web already exists');
    return true;
  });
  // an unnamed service gets a generated name
  const { ID: other } = await a.services.create({ TaskTemplate: { ContainerSpec: { Image: 'busybox' } } }, '');
  assert.match((await a.services.inspect(other, false)).Spec?.Name ?? '', /^[a-z]+_[a-z_]+\d?$/);
  // wrong JSON types are a 400, not a crash of the orchestrator later
  await assert.rejects(
    a.services.create({ Name: 'bad', TaskTemplate: { ContainerSpec: { Image: 'busybox', Mounts: 'x' } } } as unknown as ServiceSpec, ''),
    /json: cannot unmarshal string into Go struct field ServiceSpec.TaskTemplate.ContainerSpec.Mounts of type array/,
  );

  for (const [body, text] of [
    [
      { Name: 'b', Mode: { Replicated: { Replicas: '3' } } },
      'cannot unmarshal string into Go struct field ServiceSpec.Mode.Replicated.Replicas of type int64',
    ],
    [{ Name: 'b', Labels: { a: 1 } }, 'cannot unmarshal number into Go struct field ServiceSpec.Labels.a of type string'],
    [
      { Name: 'b', EndpointSpec: { Ports: {} } },
      'cannot unmarshal object into Go struct field ServiceSpec.EndpointSpec.Ports of type array',
    ],
    [{ Name: 'b', TaskTemplate: 'x' }, 'cannot unmarshal string into Go struct field ServiceSpec.TaskTemplate of type object'],
  ] as const) {
    await assert.rejects(a.services.create(body as unknown as ServiceSpec, ''), (err: Error) => err.message === `json: ${text}`);
  }
  const s = await a.services.inspect('web', false);
  assert.equal(s.ID, id);
  assert.deepEqual(await a.services.inspect(id.slice(0, 6), false), s);
  assert.equal(s.Version?.Index, (await kv.get(keys.service(id)))?.modRevision);
  assert.equal(s.Spec?.EndpointSpec?.Mode, 'vip');
  assert.deepEqual(s.Endpoint, {
    Spec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
    Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }],
  });
  assert.ok(!JSON.stringify(s).includes('registryAuth'), 'credentials are never answered');
  const stored = (await kv.get(keys.service(id)))?.value ?? '';
  assert.ok(stored.includes('registryAuth') && !stored.includes('eyJ1c2VybmFtZSI6'), 'stored sealed');
  const d = await a.services.inspect('web', true);
  assert.equal(d.Spec?.UpdateConfig?.FailureAction, 'pause');
  await assert.rejects(a.services.inspect('nosuch', false), /service nosuch not found/);

  // filters
  assert.deepEqual(
    (await a.services.list({ status: false, match: (x: Service) => x.Spec?.Name === 'web' })).map((x) => x.ID),
    [id],
  );

  // update: a stale version is swarmkit's out of sequence; a fresh one keeps the previous spec
  const v = s.Version?.Index ?? 0;
  const opts = { rollback: false, registryAuthFrom: '', registryAuth: '' };
  await assert.rejects(a.services.update('web', spec('web', 3), { ...opts, version: v - 1 }), /update out of sequence/);
  await a.services.update('web', spec('web', 3), { ...opts, version: v });
  const u = await a.services.inspect('web', false);
  assert.equal(u.Spec?.Mode?.Replicated?.Replicas, 3);
  assert.equal(u.PreviousSpec?.Mode?.Replicated?.Replicas, 2);
  assert.ok(((await kv.get(keys.service(id)))?.value ?? '').includes('registryAuth'), 'credentials kept from the spec');
  await assert.rejects(
    a.services.update('web', { ...spec('web'), Name: 'renamed' }, { ...opts, version: u.Version?.Index ?? 0 }),
    /renaming services is not supported/,
  );
  await a.services.update('web', u.Spec ?? {}, { ...opts, rollback: true, version: u.Version?.Index ?? 0 });
  const r = await a.services.inspect('web', false);
  assert.equal(r.Spec?.Mode?.Replicated?.Replicas, 2);
  assert.equal(r.UpdateStatus?.State, 'rollback_started');

  // the leader's orchestrator made the tasks; the node's status wins in the merge
  assert.ok(await until(async () => (await a.services.listTasks({ ...noTaskFilter, services: ['web'] })).length >= 2));
  const tasks = await a.services.listTasks({ ...noTaskFilter, services: ['web'], desiredStates: ['running'] });
  assert.ok(tasks.length >= 2);
  const t: Task = tasks[0];
  await kv.txn(
    [],
    [{ op: 'put', key: keys.taskStatus(t.ID ?? ''), value: JSON.stringify({ State: 'running', Timestamp: new Date().toISOString() }) }],
  );
  assert.equal((await a.services.inspectTask(t.ID ?? '')).Status?.State, 'running');
  assert.equal((await a.services.inspectTask(`web.${t.Slot}.${t.ID}`)).ID, t.ID);
  const withStatus = await a.services.list({ ...all, status: true });
  assert.equal(withStatus.find((x) => x.ID === id)?.ServiceStatus?.RunningTasks, 1);
  await assert.rejects(a.services.listTasks({ ...noTaskFilter, desiredStates: ['bogus'] }), /Invalid task desired state: bogus/);
  await assert.rejects(a.services.listTasks({ ...noTaskFilter, services: ['nosuch'] }), /service nosuch not found/);

  // remove: the name is free again; the tasks are marked for removal
  await a.services.remove('web');
  assert.equal(await kv.get(keys.name('services', 'web')), null);
  assert.ok(
    await until(async () => {
      const { entries } = await kv.list(keys.tasksPrefix);
      return entries.every(
        (e) => (JSON.parse(e.value) as Task).ServiceID !== id || (JSON.parse(e.value) as Task).DesiredState === 'remove',
      );
    }),
  );
  await a.services.create(spec('web'), '');
  await a.leave(true);
  await a.close();
});

test('services API: secret and config references must name existing objects (swarmkit texts), on create and update', async () => {
  const kv = new MemoryKv();
  const a = swarmNode(kv);
  await a.init({ AdvertiseAddr: '127.0.0.1' });
  const pw = await a.secrets.create({ Name: 'pw', Data: Buffer.from('x').toString('base64') });
  const cf = await a.configs.create({ Name: 'cf', Data: Buffer.from('y').toString('base64') });
  const file = { Name: 't', UID: '0', GID: '0', Mode: 292 };
  const withRefs = (name: string, secrets: Array<[string, string]>, configs: Array<[string, string]> = []): ServiceSpec => ({
    ...spec(name, 1),
    TaskTemplate: {
      ContainerSpec: {
        Image: 'busybox',
        Secrets: secrets.map(([SecretID, SecretName]) => ({ SecretID, SecretName, File: { ...file, Name: `s-${SecretName}` } })),
        Configs: configs.map(([ConfigID, ConfigName]) => ({ ConfigID, ConfigName, File: { ...file, Name: `/c-${ConfigName}` } })),
      },
    },
  });
  const invalid = (text: string) => (err: Error & { statusCode?: number }) => {
    assert.equal(err.message, `rpc error: code = InvalidArgument desc = ${text}`);
    return true;
  };
  await assert.rejects(a.services.create(withRefs('a', [['nosuch', 'missing']]), ''), invalid('secret not found: missing'));
  await assert.rejects(
    a.services.create(
      withRefs('a', [
        [pw, 'other'],
        ['x', 'y'],
      ]),
      '',
    ),
    invalid('secrets not found: other, y'),
  );
  await assert.rejects(a.services.create(withRefs('a', [[pw, 'pw']], [['nosuch', 'gone']]), ''), invalid('config not found: gone'));
  assert.deepEqual(await a.services.list(all), []);
  const { ID } = await a.services.create(withRefs('a', [[pw, 'pw']], [[cf, 'cf']]), '');
  const version = (await a.services.inspect(ID, false)).Version?.Index ?? 0;
  const upd = { version, registryAuth: '', registryAuthFrom: '', rollback: false };
  await assert.rejects(a.services.update(ID, withRefs('a', [['nosuch', 'missing']]), upd), invalid('secret not found: missing'));
  await a.services.update(ID, withRefs('a', [[pw, 'pw']]), upd);
});
