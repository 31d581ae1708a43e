import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ROUTES } from '../../api/routes/table';

const METHODS = ['get', 'head', 'post', 'put', 'delete', 'patch', 'options'];

/** The spec lives in api/spec (the repository is self-contained). */
function specPath(): string {
  // dist/test/unit -> repository root; the yaml is not copied by tsc.
  return path.resolve(__dirname, '..', '..', '..', 'api', 'spec', 'engine-api-v1.53.yaml');
}

test('the route table is exactly the spec: every path+method with its operationId, nothing extra', () => {
  const spec = parse(fs.readFileSync(specPath(), 'utf8')) as { paths: Record<string, Record<string, { operationId?: string }>> };
  const expected = new Map<string, string>();
  for (const [p, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!METHODS.includes(method)) continue;
      assert.ok(op.operationId, `${method} ${p} has no operationId`);
      expected.set(`${method.toUpperCase()} ${p}`, op.operationId);
    }
  }
  const actual = new Map<string, string>();
  for (const r of ROUTES) {
    const key = `${r.method} ${r.path}`;
    assert.ok(!actual.has(key), `duplicate route ${key}`);
    actual.set(key, r.operationId);
  }
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const extra = [...actual.keys()].filter((k) => !expected.has(k));
  assert.deepEqual(missing, [], 'routes in the spec but not in the table');
  assert.deepEqual(extra, [], 'routes in the table but not in the spec');
  for (const [key, id] of expected) assert.equal(actual.get(key), id, `operationId of ${key}`);
  assert.equal(new Set(ROUTES.map((r) => r.operationId)).size, ROUTES.length, 'operationIds are unique');
});
