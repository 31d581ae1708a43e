// Secrets and configs over the in-memory cluster store: the stored shape (payload sealed, never in
// clear), name uniqueness with dockerd's 409, lookups by ID/name/prefix, the labels-only update as
// a CAS on the version, removal refused while a service references the object.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterKeys } from '../../daemon/swarm/keys';
import { generateClusterKey, openData } from '../../daemon/swarm/seal';
import type { StoredObject } from '../../daemon/swarm/secret-config';
import { configStore, secretStore, type SwarmObjectsDeps } from '../../daemon/swarm/secrets';
import { Conflict, InvalidParameter, NotFound, SystemError } from '../../lib/errors';
import { MemoryKv } from '../../store/cluster/memory-kv';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const all = (): boolean => true;

function setup(manager = true): { kv: MemoryKv; deps: SwarmObjectsDeps; key: Buffer } {
  const kv = new MemoryKv();
  const key = generateClusterKey();
  const deps: SwarmObjectsDeps = {
    kv,
    cluster: () => ({ keys: clusterKeys('c1'), clusterKey: key }),
    requireManager: async () => {
      if (!manager) throw new InvalidParameter('not a manager');
    },
    now: () => '2026-12-07T00:00:00Z',
  };
  return { kv, deps, key };
}

test('secret create stores the spec without data and the payload sealed under the cluster key', async () => {
  const { kv, deps, key } = setup();
  const secrets = secretStore(deps);
  const id = await secrets.create({ Name: 'pw', Labels: { a: '1' }, Data: b64('hunter2-plaintext') });
  const entry = await kv.get(clusterKeys('c1').secret(id));
  assert.ok(entry);
  assert.ok(!entry.value.includes('hunter2-plaintext') && !entry.value.includes(b64('hunter2-plaintext')), entry.value);
  const stored = JSON.parse(entry.value) as StoredObject & { Spec: { Data?: string } };
  assert.deepEqual(Object.keys(stored).sort(), ['CreatedAt', 'ID', 'Sealed', 'Spec', 'UpdatedAt', 'Version']);
  assert.equal(stored.Spec.Data, undefined);
  assert.equal(openData(key, id, stored.Sealed).toString(), 'hunter2-plaintext');
  assert.equal((await kv.get(clusterKeys('c1').name('secrets', 'pw')))?.value, id);
  const view = await secrets.inspect(id);
  assert.deepEqual(view, {
    ID: id,
    Version: { Index: entry.modRevision },
    CreatedAt: '2026-12-07T00:00:00Z',
    UpdatedAt: '2026-12-07T00:00:00Z',
    Spec: { Name: 'pw', Labels: { a: '1' } },
  });
});

test('a taken name is dockerd 409 text; lookups by name and prefix; ambiguous prefix is 400', async () => {
  const { deps } = setup();
  const secrets = secretStore(deps);
  const id = await secrets.create({ Name: 'pw', Data: b64('x') });
  await assert.rejects(
    secrets.create({ Name: 'pw', Data: b64('y') }),
    (e: unknown) => e instanceof Conflict && e.message === 'rpc error: code = AlreadyExists desc = secret pw already exists',
  );
  assert.equal(((await secrets.inspect('pw')) as { ID: string }).ID, id);
  assert.equal(((await secrets.inspect(id.slice(0, 5))) as { ID: string }).ID, id);
  await assert.rejects(secrets.inspect('nope'), (e: unknown) => e instanceof NotFound && e.message === 'secret nope not found');
  await secrets.create({ Name: 'other', Data: b64('y') });
  await assert.rejects(secrets.inspect(''), NotFound);
  assert.equal((await secrets.list(all)).length, 2);
  assert.deepEqual(
    (await secrets.list((o) => o.Name === 'other')).map((s) => (s as { Spec: { Name: string } }).Spec.Name),
    ['other'],
  );
});

test('update: labels only, CAS on the version; a stale version is "update out of sequence"', async () => {
  const { deps } = setup();
  const secrets = secretStore(deps);
  const id = await secrets.create({ Name: 'pw', Data: b64('x') });
  const v1 = ((await secrets.inspect(id)) as { Version: { Index: number } }).Version.Index;
  await secrets.update(id, v1, { Name: 'pw', Labels: { l: 'v' } });
  const after = (await secrets.inspect(id)) as { Version: { Index: number }; Spec: { Labels: Record<string, string> } };
  assert.deepEqual(after.Spec.Labels, { l: 'v' });
  assert.ok(after.Version.Index > v1);
  await assert.rejects(
    secrets.update(id, v1, { Name: 'pw', Labels: {} }),
    (e: unknown) => e instanceof SystemError && /update out of sequence/.test(e.message),
  );
  await assert.rejects(secrets.update(id, after.Version.Index, { Name: 'pw', Data: b64('changed') }), /only updates to Labels are allowed/);
  await assert.rejects(secrets.update(id, after.Version.Index, { Name: 'renamed' }), /only updates to Labels are allowed/);
});

test('remove is refused while a service references it (swarmkit text), then frees the name', async () => {
  const { kv, deps } = setup();
  const secrets = secretStore(deps);
  const id = await secrets.create({ Name: 'pw', Data: b64('x') });
  const svc = { ID: 's1', Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Secrets: [{ SecretID: id, SecretName: 'pw' }] } } } };
  await kv.txn([], [{ op: 'put', key: clusterKeys('c1').service('s1'), value: JSON.stringify(svc) }]);
  await assert.rejects(
    secrets.remove('pw'),
    (e: unknown) =>
      e instanceof InvalidParameter &&
      e.message === "rpc error: code = InvalidArgument desc = secret 'pw' is in use by the following service: web",
  );
  await kv.txn([], [{ op: 'delete', key: clusterKeys('c1').service('s1') }]);
  await secrets.remove(id);
  await assert.rejects(secrets.inspect(id), NotFound);
  assert.ok(await secrets.create({ Name: 'pw', Data: b64('again') }), 'the name is free again');
});

test('configs: inspect returns the data (base64); a worker is refused', async () => {
  const { deps } = setup();
  const configs = configStore(deps);
  const id = await configs.create({ Name: 'conf', Data: b64('port=80\n') });
  const view = (await configs.inspect(id)) as { Spec: { Data: string } };
  assert.equal(view.Spec.Data, b64('port=80\n'));
  await assert.rejects(configs.create({ Name: 'conf', Data: b64('x') }), /config conf already exists/);
  const worker = configStore(setup(false).deps);
  await assert.rejects(worker.list(all), /not a manager/);
});
