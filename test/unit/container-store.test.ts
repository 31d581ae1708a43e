// The in-memory container store: lookups as dockerd's (ID, name, unique prefix), the usage
// indexes kept in step with records, and every change written through to SQLite.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { ContainerStore } from '../../daemon/containers/store';
import { initialState, type ContainerRecord } from '../../daemon/containers/model';
import { ContainerRepo, NameTakenError } from '../../store/container-repo';
import { migrate } from '../../store/db';

function record(id: string, name: string, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id,
    name,
    created: '2026-01-01T00:00:00Z',
    path: 'sh',
    args: [],
    config: { Image: 'busybox' },
    hostConfig: {},
    networkingConfig: null,
    imageId: 'sha256:img',
    snapshotParent: '',
    logPath: '',
    resolvConfPath: '',
    hostnamePath: '',
    hostsPath: '',
    mounts: [],
    networks: [],
    ...extra,
  } as ContainerRecord;
}

function fresh(): { db: Database.Database; store: ContainerStore } {
  const db = new Database(':memory:');
  migrate(db);
  return { db, store: new ContainerStore(new ContainerRepo(db)) };
}

const A = 'ab'.repeat(32);
const B = 'ac'.repeat(32);

test('lookups: full ID, name with or without the slash, unique prefix; ambiguity and absence', () => {
  const { store } = fresh();
  store.insert(record(A, 'web'), initialState());
  store.insert(record(B, 'db'), initialState());
  assert.equal(store.get(A).record.name, 'web');
  assert.equal(store.get('/db').id, B);
  assert.equal(store.get('db').id, B);
  assert.equal(store.get('abab').id, A);
  assert.throws(() => store.get('a'), /multiple IDs found with provided prefix: a/);
  assert.throws(() => store.get('ff'), /No such container: ff/);
  assert.throws(() => store.get(''), /No such container: $/);
  assert.equal(store.tryGet('nope'), undefined);
  assert.deepEqual(
    store.all().map((c) => c.id),
    [A, B],
  );
});

test('the same object for every lookup, and changes survive a reload from SQLite', () => {
  const { db, store } = fresh();
  const c = store.insert(record(A, 'web'), initialState());
  assert.equal(store.get('web'), c);
  c.state.exitCode = 7;
  store.saveState(c);
  c.record.config.Labels = { k: 'v' };
  store.saveRecord(c);
  store.rename(c, 'site');
  const again = new ContainerStore(new ContainerRepo(db));
  const r = again.get('site');
  assert.equal(r.state.exitCode, 7);
  assert.deepEqual(r.record.config.Labels, { k: 'v' });
  assert.equal(again.tryGet('web'), undefined);
});

test('names are unique: insert and rename refuse a taken one and change nothing', () => {
  const { store } = fresh();
  store.insert(record(A, 'web'), initialState());
  const b = store.insert(record(B, 'db'), initialState());
  assert.throws(() => store.insert(record('cd'.repeat(32), 'web'), initialState()), NameTakenError);
  assert.throws(() => store.rename(b, 'web'), NameTakenError);
  assert.equal(b.record.name, 'db');
  assert.equal(store.get('web').id, A);
  assert.equal(store.nameTaken('db'), true);
});

test('usage indexes follow records: image, image mounts, volumes, networks; removal clears them', () => {
  const { store } = fresh();
  const c = store.insert(
    record(A, 'web', {
      mounts: [
        { type: 'volume', source: 'data', destination: '/data', rw: true },
        { type: 'image', source: 'other', imageId: 'sha256:other', destination: '/img', rw: false },
      ] as ContainerRecord['mounts'],
      networks: [
        { networkId: 'n1', networkName: 'front', aliases: [], links: [], ipv4Address: '', macAddress: '', driverOpts: null, gwPriority: 0 },
      ],
    }),
    initialState(),
  );
  store.insert(record(B, 'db'), { ...initialState(), running: true });
  assert.deepEqual(
    store.containersUsingImage('sha256:img').sort((x, y) => x.id.localeCompare(y.id)),
    [
      { id: A, running: false },
      { id: B, running: true },
    ],
  );
  assert.deepEqual(store.containersUsingImage('sha256:other'), [{ id: A, running: false }]);
  assert.deepEqual(store.volumeUsers('data'), [A]);
  assert.deepEqual(store.networkUsers('n1'), [A]);
  assert.equal(store.containerName(A), 'web');
  // `docker network disconnect` rewrites the record: the index follows.
  c.record.networks = [];
  store.saveRecord(c);
  assert.deepEqual(store.networkUsers('n1'), []);
  store.delete(A);
  assert.deepEqual(store.volumeUsers('data'), []);
  assert.deepEqual(store.containersUsingImage('sha256:other'), []);
  assert.equal(store.tryGet('web'), undefined);
  assert.equal(store.get('a').id, B);
  assert.deepEqual(store.counts(), { running: 1, paused: 0, stopped: 0 });
});

test('a removal that leaves the containerd side to delete: the record and its name go at once; the pending deletion survives a reload until it succeeds', async () => {
  const { db, store } = fresh();
  const C = 'cd'.repeat(32);
  store.insert(record(A, 'web'), initialState());
  store.insert(record(B, 'db'), initialState());
  store.insert(record(C, 'cache'), initialState());
  let finishA: (deleted: boolean) => void = () => undefined;
  store.delete(A, new Promise<boolean>((r) => (finishA = r)));
  store.delete(B);
  store.delete(C, Promise.resolve(false)); // containerd refused: stays recorded
  assert.equal(store.tryGet('web'), undefined);
  store.insert(record('ef'.repeat(32), 'web'), initialState());
  assert.deepEqual(new ContainerStore(new ContainerRepo(db)).leftovers().sort(), [A, C].sort());

  let settled = false;
  const waiting = store.removalsSettled().then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'waits for the deletion still running');
  finishA(true);
  await waiting;
  assert.deepEqual(new ContainerStore(new ContainerRepo(db)).leftovers(), [C]);
});

test('a finished containerd deletion leaves its row until the next write (no commit of its own); a crash before then only repeats the deletion', async () => {
  const { db, store } = fresh();
  store.insert(record(A, 'web'), initialState());
  store.delete(A, Promise.resolve(true));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(store.leftovers(), [], 'this daemon knows it is done');
  // Not written yet: a daemon reading the database now (after a crash) deletes it again.
  assert.deepEqual(new ContainerStore(new ContainerRepo(db)).leftovers(), [A]);
  // The next write takes it along, in its own commit.
  store.insert(record(B, 'db'), initialState());
  assert.deepEqual(new ContainerStore(new ContainerRepo(db)).leftovers(), []);
});
