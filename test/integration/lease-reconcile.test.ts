// Start-up reconciliation of containerd leases (issue 13), through a real berthd and containerd:
// what a killed berthd's operations left under their leases is handed to containerd's GC at the
// next start, and nothing else is. The leftovers are made by hand under lease IDs of the shapes
// berthd gives (runtime/leases.ts), so the test does not depend on where a kill lands: a cut
// load's lease with an extraction snapshot, a cut pull's lease with a committed layer, its blob
// and a cut extraction, and another client's lease with a snapshot of its own.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { containerdNamespaceFor } from '../../daemon/config';
import { Containerd } from '../../runtime/containerd';
import { formatRFC3339 } from '../../lib/time';
import { Kit, lines } from './container-kit';
import { startBerth } from './harness';

const leaseId = (kind: string): string => `berth-${kind}${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;

test('start-up releases the leases of cut operations, drops cut extractions from kept pull leases, keeps the rest', async () => {
  let kit = await Kit.start();
  const ctd = new Containerd({
    address: path.join(kit.b.execRoot, 'containerd', 'containerd.sock'),
    namespace: containerdNamespaceFor(kit.b.dataRoot),
    logger: pino({ level: 'silent' }),
  });
  try {
    await ctd.waitReady(10_000);
    const chain = (await kit.ok(['image', 'inspect', '-f', '{{index .RootFS.Layers 0}}', 'busybox'])).trim();
    const layer = (await kit.ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim();
    const expire = { 'containerd.io/gc.expire': formatRFC3339(new Date(Date.now() + 3600_000)) };
    const prepare = async (key: string, lease: string): Promise<void> => {
      await ctd.snapshots.prepare({ snapshotter: 'overlayfs', key, parent: chain, labels: {} }, { lease });
    };
    const load = leaseId('');
    const pull = leaseId('pull-');
    const other = 'someone-elses-lease';
    for (const id of [load, pull, other]) await ctd.leases.create({ id, labels: expire });
    const loadExtract = `extract-${randomBytes(6).toString('hex')} sha256:${'1'.repeat(64)}`;
    const pullExtract = `extract-${randomBytes(6).toString('hex')} sha256:${'2'.repeat(64)}`;
    const othersSnapshot = `extract-${randomBytes(6).toString('hex')} sha256:${'3'.repeat(64)}`;
    await prepare(loadExtract, load);
    await prepare(pullExtract, pull);
    await prepare(othersSnapshot, other);
    // The pull's complete layer: the committed snapshot and a blob (the image config's, here).
    await ctd.leases.addResource({ id: pull, resource: { id: chain, type: 'snapshots/overlayfs' } });
    await ctd.leases.addResource({ id: pull, resource: { id: layer, type: 'content' } });

    ctd.close();
    process.kill(kit.b.pid, 'SIGKILL');
    await kit.b.stop();
    kit = new Kit(await startBerth({ dir: kit.b.dir }));

    const leases = lines(kit.ctr(['leases', 'ls', '-q']));
    assert.ok(!leases.includes(load), 'the cut load lease is still there');
    assert.ok(leases.includes(pull) && leases.includes(other), `kept leases gone: ${leases.join(' ')}`);
    const snapshots = (): string[] => lines(kit.ctr(['snapshots', 'ls']));
    const has = (key: string): boolean => snapshots().some((l) => l.startsWith(`${key} `) || l.startsWith(`${key}\t`));
    // The start waits for a GC after its last drop: what was released is gone once berthd answers.
    assert.ok(!has(loadExtract), "the cut load lease's extraction is still there");
    assert.ok(!has(pullExtract), "the cut pull's extraction is still there");
    assert.ok(has(othersSnapshot), "another client's snapshot was collected");
    assert.ok(has(chain), "the pull's committed layer was collected");
    assert.equal(await kit.ok(['run', '--rm', 'busybox', 'echo', 'whole']), 'whole\n');
  } finally {
    ctd.close();
    await kit.destroy();
  }
});
