// The shaping of list bodies for older API versions copies each body before a rule changes it
// (api/version-shapes.ts jsonCopy): the daemon's objects stay as they were, whatever they share.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shapes } from '../../api/version-shapes';

test('a list shaped for 1.41 leaves the bodies it was given untouched', () => {
  // Two summaries sharing a nested object, as views may share parts of the daemon's records.
  const shared = { Annotations: { a: 'b' }, NetworkMode: 'none' };
  const endpoint = { DNSNames: ['c1'], GwPriority: 0, IPAddress: '' };
  const at = new Date(0);
  const list = [1, 2].map((i) => ({
    Id: `c${i}`,
    Created: 1n << 60n,
    HostConfig: shared,
    NetworkSettings: { Networks: { bench: endpoint } },
    Health: { Status: 'healthy' },
    At: at,
  }));
  const before = JSON.stringify(list, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  const old = shapes.containerList(list, '1.41') as unknown as (typeof list)[number][];
  assert.equal(
    JSON.stringify(list, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    before,
  );
  assert.equal(list[0].HostConfig.Annotations.a, 'b');
  for (const [i, c] of old.entries()) {
    assert.equal(c.Id, `c${i + 1}`);
    assert.equal('Health' in c, false, 'Health came at 1.52');
    assert.equal('Annotations' in c.HostConfig, false, 'HostConfig.Annotations came at 1.46');
    assert.equal(c.HostConfig.NetworkMode, 'none');
    assert.equal('DNSNames' in c.NetworkSettings.Networks.bench, false, 'DNSNames came at 1.44');
    assert.equal(c.Created, 1n << 60n);
    assert.equal(c.At, at, 'objects of other classes are shared, not rebuilt');
    assert.notEqual(c.HostConfig, shared);
  }
  // The newest version asks for no change: the bodies themselves come back.
  assert.equal(shapes.containerList(list, '1.53')[0], list[0]);
});
