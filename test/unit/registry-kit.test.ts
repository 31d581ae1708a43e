// The registry kit's pure helpers: challenge and scope parsing, deterministic random data.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChallenge } from '../fixtures/registry-http';
import { randomStream, sha256 } from '../fixtures/registry-seed';
import { parseScope } from '../fixtures/registry-token-server';

test('parseChallenge reads scheme and quoted parameters', () => {
  assert.deepEqual(parseChallenge('Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:pull"'), {
    scheme: 'bearer',
    params: { realm: 'http://127.0.0.1:1/token', service: 'reg', scope: 'repository:a/b:pull' },
  });
  assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: 'basic', params: { realm: 'x' } });
  assert.equal(parseChallenge(undefined), undefined);
});

test('parseScope splits type, name (which may hold a port) and actions', () => {
  assert.deepEqual(parseScope('repository:library/busybox:pull,push'), {
    type: 'repository',
    name: 'library/busybox',
    actions: ['pull', 'push'],
  });
  assert.deepEqual(parseScope('repository:host:5000/x:pull'), { type: 'repository', name: 'host:5000/x', actions: ['pull'] });
  assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
  assert.equal(parseScope('nonsense'), undefined);
});

async function collect(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c);
  return Buffer.concat(parts);
}

test('randomStream is deterministic per seed and sized exactly', async () => {
  const a = await collect(randomStream(300_000, 's1'));
  const b = await collect(randomStream(300_000, 's1'));
  const c = await collect(randomStream(300_000, 's2'));
  assert.equal(a.length, 300_000);
  assert.equal(sha256(a), sha256(b));
  assert.notEqual(sha256(a), sha256(c));
  assert.equal((await collect(randomStream(0, 's1'))).length, 0);
});
