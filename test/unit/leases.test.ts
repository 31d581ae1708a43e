// Start-up reconciliation of containerd leases: the leases of operations a killed berthd cut are
// released (their content, ingests and snapshots become collectable); pull leases are kept for a
// retried pull, minus their cut layer extractions; nothing else in the namespace is touched.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Containerd } from '../../runtime/containerd';
import { releaseLeftoverLeases, withLease } from '../../runtime/leases';

interface Res {
  id: string;
  type: string;
}

/** containerd's lease service, in memory. */
class FakeLeases {
  readonly leases = new Map<string, Res[]>();
  readonly deleted: string[] = [];
  /** Deletions that asked for a GC and waited for it. */
  readonly synced: string[] = [];
  create(req: { id?: string }): Promise<object> {
    this.leases.set(req.id ?? '', []);
    return Promise.resolve({});
  }
  delete(req: { id?: string; sync?: boolean }): Promise<object> {
    this.leases.delete(req.id ?? '');
    this.deleted.push(req.id ?? '');
    if (req.sync) this.synced.push(req.id ?? '');
    return Promise.resolve({});
  }
  list(): Promise<{ leases: { id: string }[] }> {
    return Promise.resolve({ leases: [...this.leases.keys()].map((id) => ({ id })) });
  }
  addResource(req: { id?: string; resource?: Res }): Promise<object> {
    this.leases.get(req.id ?? '')?.push(req.resource as Res);
    return Promise.resolve({});
  }
  listResources(req: { id?: string }): Promise<{ resources: Res[] }> {
    return Promise.resolve({ resources: [...(this.leases.get(req.id ?? '') ?? [])] });
  }
  deleteResource(req: { id?: string; resource?: Res }): Promise<object> {
    const list = this.leases.get(req.id ?? '') ?? [];
    const i = list.findIndex((r) => r.id === req.resource?.id && r.type === req.resource?.type);
    if (i >= 0) list.splice(i, 1);
    return Promise.resolve({});
  }
}

function fakeCtd(): { ctd: Containerd; leases: FakeLeases } {
  const leases = new FakeLeases();
  const logger = { warn: () => undefined };
  return { ctd: { leases, logger } as unknown as Containerd, leases };
}

/** The lease withLease made, left as a crash leaves it (the operation never returns). */
async function cutLease(ctd: Containerd, kind?: string): Promise<string> {
  let id = '';
  void withLease(
    ctd,
    (lease) => {
      id = lease;
      return new Promise<never>(() => undefined);
    },
    kind !== undefined ? { kind } : {},
  );
  while (id === '') await new Promise((r) => setImmediate(r));
  return id;
}

const CHAIN = `sha256:${'c'.repeat(64)}`;
const EXTRACT = `extract-0a1b2c3d4e5f ${CHAIN}`;

test('leases of cut operations are released; pull leases are kept without their extractions; others untouched', async () => {
  const { ctd, leases } = fakeCtd();
  const load = await cutLease(ctd);
  const create = await cutLease(ctd);
  const pull = await cutLease(ctd, 'pull');
  const content = { id: `sha256:${'d'.repeat(64)}`, type: 'content' };
  const ingest = { id: `berth-pull-sha256:${'d'.repeat(64)}`, type: 'ingests' };
  const committed = { id: CHAIN, type: 'snapshots/overlayfs' };
  const extract = { id: EXTRACT, type: 'snapshots/overlayfs' };
  for (const r of [content, ingest, committed, extract]) await leases.addResource({ id: pull, resource: r });
  await leases.addResource({ id: load, resource: extract });
  // Not withLease's: another client's, containerd's own, a name that only looks alike.
  for (const id of ['moby-lease', 'berth-', 'berth-pull', 'berth-x-y-z', `berth-${'1'.repeat(13)}`]) {
    await leases.create({ id });
    await leases.addResource({ id, resource: extract });
  }

  const out = await releaseLeftoverLeases(ctd);
  assert.deepEqual(out.released.sort(), [load, create].sort());
  assert.deepEqual(out.extracts, [EXTRACT]);
  // Then one GC, waited for, after the last drop (containerd runs none for a dropped resource):
  // an empty lease of its own deleted synchronously.
  const gc = leases.deleted.at(-1) ?? '';
  assert.deepEqual(leases.synced, [gc]);
  assert.ok(![load, create].includes(gc) && !leases.leases.has(gc));
  assert.deepEqual(leases.deleted.slice(0, -1).sort(), [load, create].sort());
  assert.deepEqual(leases.leases.get(pull), [content, ingest, committed]);
  for (const id of ['moby-lease', 'berth-', 'berth-pull', 'berth-x-y-z', `berth-${'1'.repeat(13)}`]) {
    assert.deepEqual(leases.leases.get(id), [extract], id);
  }

  // A second start finds nothing more to do, and asks for no GC.
  assert.deepEqual(await releaseLeftoverLeases(ctd), { released: [], extracts: [] });
  assert.deepEqual(leases.synced, [gc]);
});

test('a finished operation leaves no lease to release', async () => {
  const { ctd, leases } = fakeCtd();
  assert.equal(await withLease(ctd, () => Promise.resolve(7)), 7);
  await assert.rejects(
    withLease(ctd, () => Promise.reject(new Error('cut')), { kind: 'pull' }),
    /cut/,
  );
  assert.equal(leases.leases.size, 0);
  assert.deepEqual(await releaseLeftoverLeases(ctd), { released: [], extracts: [] });
});
