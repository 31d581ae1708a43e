// The fuzzer's pure parts: the spec model covers every route, schemas resolve, generated cases
// are reproducible from the seed and serialize to the JSON they promise (big ints, deep nesting).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ROUTES } from '../../api/routes/table';
import { anyCaseArb, bigNumber, deepNest, serializeJson } from '../fuzz/generators';
import { bodySchema, loadSpec, pathParams, resolveSchema } from '../fuzz/spec-model';
import { encodeSegment, exitCause, labelsOf } from '../fuzz/runner';
import { normalizeMessage } from '../fuzz/findings';

const model = loadSpec();

test('the spec model has every route of the route table', () => {
  const ops = new Set(model.operations.map((o) => `${o.method} ${o.path}`));
  for (const r of ROUTES) assert.ok(ops.has(`${r.method} ${r.path}`), `${r.method} ${r.path}`);
  assert.equal(model.operations.length, ROUTES.length);
});

test('schemas resolve through $ref and allOf', () => {
  const create = model.operations.find((o) => o.operationId === 'ContainerCreate');
  assert.ok(create);
  const s = bodySchema(model, create);
  assert.ok(s?.properties?.Image, 'ContainerConfig properties merged');
  assert.ok(s?.properties?.HostConfig, 'HostConfig from the allOf');
  const hc = resolveSchema(model, s?.properties?.HostConfig);
  assert.ok(hc.properties?.Binds && hc.properties.Memory, 'HostConfig merges Resources');
  assert.deepEqual(pathParams({ ...create, path: '/containers/{id}/archive' }), ['id']);
});

test('cases are reproducible from the seed and cover many routes', () => {
  const a = fc.sample(anyCaseArb(model), { seed: 42, numRuns: 400 });
  const b = fc.sample(anyCaseArb(model), { seed: 42, numRuns: 400 });
  assert.deepEqual(a, b);
  const routes = new Set(a.map((c) => c.operationId));
  assert.ok(routes.size > 80, `only ${routes.size} routes in 400 cases`);
  for (const c of a) assert.equal(c.pathArgs.length, (c.template.match(/\{/g) ?? []).length);
});

test('serializeJson writes exact 64-bit integers and deep nesting', () => {
  assert.equal(serializeJson({ Memory: bigNumber('9223372036854775807') }), '{"Memory":9223372036854775807}');
  const deep = serializeJson({ a: deepNest(3) });
  assert.equal(deep, '{"a":{"a":[{"a":[{"a":[]}]}]}}');
  assert.doesNotThrow(() => JSON.parse(serializeJson(deepNest(100))));
});

test('path segments are percent-encoded byte by byte, lone surrogates included', () => {
  assert.equal(encodeSegment('../a b'), '..%2Fa%20b');
  assert.equal(encodeSegment('\ud800'), '%EF%BF%BD');
  assert.equal(encodeSegment('a\u0000'), 'a%00');
});

test('finding classes normalize ids and numbers', () => {
  assert.equal(normalizeMessage('No such container: 0123456789abcdef0123 at 12'), 'No such container: <id> at N');
});

test('exclusion labels name the hostile families of a case', () => {
  const base = { operationId: 'NetworkList', method: 'GET', template: '/networks', pathArgs: [], headers: {}, mode: 'normal' as const };
  assert.ok(labelsOf({ ...base, query: [['filters', '{"id":["^([0-9a-f]+)+x$"]}']], bodyKind: 'none' }).includes('redos'));
  assert.ok(labelsOf({ ...base, query: [], bodyKind: 'schema', body: { a: deepNest(10) } }).includes('deep'));
  assert.ok(labelsOf({ ...base, query: [], bodyKind: 'schema', body: { Memory: bigNumber('9223372036854775807') } }).includes('int64'));
  assert.deepEqual(labelsOf({ ...base, query: [['all', '1']], bodyKind: 'none' }), ['NetworkList', 'normal', 'body-none']);
});

test('an exit is classed by the error code (or first error line) of the last stack', () => {
  const log = [
    '{"level":30,"msg":"x"}',
    'node:events:497',
    '      throw er; // Unhandled',
    'Error: write EPIPE',
    "  code: 'EPIPE',",
    '}',
  ].join('\n');
  assert.equal(exitCause(log).cls, 'EPIPE');
  assert.equal(
    exitCause('x\nError [ERR_STREAM_DESTROYED]: Writable stream closed\n    at y').cls,
    'Error [ERR_STREAM_DESTROYED]: Writable stream closed',
  );
});
