// The network repository answers reads from its in-memory mirror. Whatever sequence of writes
// it is given (including ones SQLite refuses), every read must equal what the tables hold, and a
// repository opened afresh on the same database must answer the same.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { openDatabase, type Db } from '../../store/db';
import { NetworkNameTakenError, NetworkRepo } from '../../store/network-repo';

/** The tables as SQL reads them (the queries the repository ran before it had a mirror). */
function fromSql(db: Db, ids: string[], containers: string[], names: string[], bridgeNames: string[]): unknown {
  const net = (r: { id: string; name: string; created: string; record_json: string } | undefined) =>
    r && { id: r.id, name: r.name, created: r.created, recordJson: r.record_json };
  const ep = (r: { id: string; network_id: string; container_id: string; record_json: string }) => ({
    id: r.id,
    networkId: r.network_id,
    containerId: r.container_id,
    recordJson: r.record_json,
  });
  const q = (sql: string, ...args: string[]) => db.prepare(sql).all(...args) as never[];
  return {
    list: q('SELECT id, name, created, record_json FROM networks ORDER BY seq').map(net),
    get: ids.map((id) => net(q('SELECT id, name, created, record_json FROM networks WHERE id = ?', id)[0])),
    byName: names.map((n) => net(q('SELECT id, name, created, record_json FROM networks WHERE name = ?', n)[0])),
    prefix: ['a', 'b', 'ab'].map((p) =>
      q("SELECT id FROM networks WHERE id LIKE ? || '%' ORDER BY seq", p).map((r: { id: string }) => r.id),
    ),
    sandboxes: q('SELECT container_id, netns FROM sandboxes ORDER BY container_id').map((r: { container_id: string; netns: string }) => ({
      containerId: r.container_id,
      netns: r.netns,
    })),
    sandbox: containers.map(
      (c) => q('SELECT container_id, netns FROM sandboxes WHERE container_id = ?', c).map((r: { netns: string }) => r.netns)[0],
    ),
    endpoints: q('SELECT id, network_id, container_id, record_json FROM endpoints ORDER BY rowid').map(ep),
    ofContainer: containers.map((c) =>
      q('SELECT id, network_id, container_id, record_json FROM endpoints WHERE container_id = ? ORDER BY rowid', c).map(ep),
    ),
    ofNetwork: ids.map((n) =>
      q('SELECT id, network_id, container_id, record_json FROM endpoints WHERE network_id = ? ORDER BY rowid', n).map(ep),
    ),
    bridge: bridgeNames.map(
      (b) =>
        q('SELECT name, network_id, created, address FROM bridges WHERE name = ?', b).map(
          (r: { name: string; network_id: string; created: number; address: string | null }) => ({
            name: r.name,
            networkId: r.network_id,
            created: r.created === 1,
            address: r.address,
          }),
        )[0],
    ),
  };
}

function fromRepo(repo: NetworkRepo, ids: string[], containers: string[], names: string[], bridgeNames: string[]): unknown {
  return {
    list: repo.list().map((r) => ({ ...r })),
    get: ids.map((id) => {
      const r = repo.get(id);
      return r && { ...r };
    }),
    byName: names.map((n) => {
      const r = repo.byName(n);
      return r && { ...r };
    }),
    prefix: ['a', 'b', 'ab'].map((p) => repo.idsWithPrefix(p)),
    sandboxes: repo
      .sandboxes()
      .map((r) => ({ ...r }))
      .sort((a, b) => (a.containerId < b.containerId ? -1 : 1)),
    sandbox: containers.map((c) => repo.sandbox(c)?.netns),
    endpoints: repo.endpoints().map((r) => ({ ...r })),
    ofContainer: containers.map((c) => repo.endpointsOfContainer(c).map((r) => ({ ...r }))),
    ofNetwork: ids.map((n) => repo.endpointsOfNetwork(n).map((r) => ({ ...r }))),
    bridge: bridgeNames.map((b) => {
      const r = repo.bridge(b);
      return r && { ...r };
    }),
  };
}

const IDS = ['a1', 'a2', 'ab3', 'b4'];
const NAMES = ['x', 'y', 'z'];
const CONTAINERS = ['c1', 'c2', 'c3'];
const BRIDGES = ['br0', 'br1'];
const EP_IDS = ['e1', 'e2', 'e3', 'e4', 'e5'];

/** One write, as fast-check shows it in a counterexample, and how to apply it. */
interface Op {
  show: string;
  apply(repo: NetworkRepo): void;
}

const write = <T extends object>(arb: fc.Arbitrary<T>, name: string, apply: (repo: NetworkRepo, o: T) => void): fc.Arbitrary<Op> =>
  arb.map((o) => ({ show: `${name} ${JSON.stringify(o)}`, apply: (repo) => apply(repo, o) }));

const id = fc.constantFrom(...IDS);
const container = fc.constantFrom(...CONTAINERS);
const json = fc.string({ maxLength: 3 });
const op = fc.oneof(
  write(fc.record({ id, name: fc.constantFrom(...NAMES), json }), 'insert', (repo, o) => {
    try {
      repo.insert({ id: o.id, name: o.name, created: 't', recordJson: o.json });
    } catch (err) {
      // a taken name, or a taken ID (the primary key): refused, and the mirror unchanged
      if (!(err instanceof NetworkNameTakenError) && !/UNIQUE constraint failed: networks.id/.test(String(err))) throw err;
    }
  }),
  write(fc.record({ id, json }), 'update', (repo, o) => repo.update(o.id, o.json)),
  write(fc.record({ id }), 'delete', (repo, o) => repo.delete(o.id)),
  write(fc.record({ c: container, netns: fc.constantFrom('n1', 'n2') }), 'putSandbox', (repo, o) =>
    repo.putSandbox({ containerId: o.c, netns: o.netns }),
  ),
  write(fc.record({ c: container }), 'deleteSandbox', (repo, o) => repo.deleteSandbox(o.c)),
  write(fc.record({ id: fc.constantFrom(...EP_IDS), net: id, c: container, json }), 'putEndpoint', (repo, o) =>
    repo.putEndpoint({ id: o.id, networkId: o.net, containerId: o.c, recordJson: o.json }),
  ),
  write(fc.record({ id: fc.constantFrom(...EP_IDS) }), 'deleteEndpoint', (repo, o) => repo.deleteEndpoint(o.id)),
  write(
    fc.record({
      name: fc.constantFrom(...BRIDGES),
      net: id,
      created: fc.boolean(),
      address: fc.option(fc.constantFrom('10.0.0.1/24'), { nil: null }),
    }),
    'putBridge',
    (repo, o) => repo.putBridge({ name: o.name, networkId: o.net, created: o.created, address: o.address }),
  ),
  write(fc.record({ name: fc.constantFrom(...BRIDGES) }), 'deleteBridge', (repo, o) => repo.deleteBridge(o.name)),
);

test('the mirror answers every read as the tables do, after any writes, and a fresh repository agrees', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-netrepo-'));
  let run = 0;
  try {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const root = path.join(dir, String(++run));
        const db = openDatabase(root);
        try {
          const repo = new NetworkRepo(db);
          for (const o of ops) {
            o.apply(repo);
            assert.deepEqual(fromRepo(repo, IDS, CONTAINERS, NAMES, BRIDGES), fromSql(db, IDS, CONTAINERS, NAMES, BRIDGES), o.show);
          }
          assert.deepEqual(fromRepo(new NetworkRepo(db), IDS, CONTAINERS, NAMES, BRIDGES), fromSql(db, IDS, CONTAINERS, NAMES, BRIDGES));
        } finally {
          db.close();
        }
      }),
      { numRuns: 150 },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('rows handed out are frozen: a caller cannot change the mirror behind the database', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-netrepo-'));
  const db = openDatabase(dir);
  try {
    const repo = new NetworkRepo(db);
    repo.insert({ id: 'n1', name: 'one', created: 't', recordJson: '{}' });
    repo.putEndpoint({ id: 'e1', networkId: 'n1', containerId: 'c1', recordJson: '{}' });
    assert.throws(() => {
      (repo.get('n1') as { recordJson: string }).recordJson = 'x';
    }, TypeError);
    assert.throws(() => {
      (repo.endpointsOfContainer('c1')[0] as { recordJson: string }).recordJson = 'x';
    }, TypeError);
    assert.equal(repo.get('n1')?.recordJson, '{}');
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
