// The secret, config and log routes over a swarm backend: statuses as dockerd (201 create, 204
// delete, 200 update), list filters checked and applied, the version parsed with dockerd's text,
// log parameters (tail, since, streams) checked before the stream starts, and the relayed lines
// framed per stream (system errors on stream 3).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { createApiServer } from '../../api/server';
import type { SwarmBackend, SwarmLogsRequest, SwarmObjectFacts, SwarmObjectsBackend } from '../../api/routes/swarm';

function objects(calls: string[]): SwarmObjectsBackend {
  const all: SwarmObjectFacts[] = [
    { ID: 'aaa1', Name: 'db-pass', Labels: { team: 'blue' } },
    { ID: 'bbb2', Name: 'api-key', Labels: {} },
  ];
  return {
    create: async (spec) => {
      calls.push(`create ${JSON.stringify(spec)}`);
      return 'new1';
    },
    list: async (match) => all.filter(match).map((o) => ({ ID: o.ID })),
    inspect: async (ref) => ({ ID: ref }),
    update: async (ref, version) => {
      calls.push(`update ${ref} ${version}`);
    },
    remove: async (ref) => {
      calls.push(`rm ${ref}`);
    },
  };
}

function backend(calls: string[], seen: SwarmLogsRequest[]): SwarmBackend {
  const fail = async (): Promise<never> => {
    throw new Error('not used');
  };
  return {
    active: true,
    init: fail,
    join: fail,
    leave: fail,
    inspect: fail,
    update: fail,
    unlock: () => {
      throw new Error('not used');
    },
    nodes: { list: fail, inspect: fail, update: fail, remove: fail },
    secrets: objects(calls),
    configs: objects(calls),
    logs: async (kind, ref, opts) => {
      seen.push(opts);
      calls.push(`logs ${kind} ${ref}`);
      return {
        tty: false,
        lines: (async function* () {
          yield { stream: 'stdout' as const, payload: Buffer.from('out\n') };
          yield { stream: 'system' as const, payload: Buffer.from('Error grabbing logs: x\n') };
        })(),
      };
    },
  };
}

test('secret and config routes: statuses, filters, version', async () => {
  const calls: string[] = [];
  const app = createApiServer({ logger: pino({ level: 'silent' }), backends: { swarm: backend(calls, []) } });
  const json = { 'content-type': 'application/json' };
  let res = await app.inject({ method: 'POST', url: '/secrets/create', headers: json, payload: '{"Name":"s","Data":"eA=="}' });
  assert.equal(res.statusCode, 201);
  assert.deepEqual(res.json(), { ID: 'new1' });
  res = await app.inject({ method: 'GET', url: `/secrets?filters=${encodeURIComponent('{"label":["team=blue"]}')}` });
  assert.deepEqual(res.json(), [{ ID: 'aaa1' }]);
  res = await app.inject({ method: 'GET', url: `/configs?filters=${encodeURIComponent('{"name":["api"],"id":["bbb"]}')}` });
  assert.deepEqual(res.json(), [{ ID: 'bbb2' }]);
  res = await app.inject({ method: 'GET', url: `/configs?filters=${encodeURIComponent('{"names":["api"]}')}` });
  assert.deepEqual(res.json(), [], 'names is exact');
  res = await app.inject({ method: 'GET', url: `/secrets?filters=${encodeURIComponent('{"foo":["x"]}')}` });
  assert.equal(res.statusCode, 400);
  assert.match(res.json().message as string, /invalid filter 'foo'/);
  res = await app.inject({ method: 'POST', url: '/configs/c1/update?version=abc', headers: json, payload: '{}' });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().message, 'invalid config version');
  res = await app.inject({ method: 'POST', url: '/configs/c1/update?version=12', headers: json, payload: '{"Name":"c1"}' });
  assert.equal(res.statusCode, 200);
  res = await app.inject({ method: 'DELETE', url: '/secrets/s1' });
  assert.equal(res.statusCode, 204);
  assert.deepEqual(calls.slice(1), ['update c1 12', 'rm s1']);
  await app.close();
});

test('log routes: parameters checked before the stream, lines framed per stream', async () => {
  const calls: string[] = [];
  const seen: SwarmLogsRequest[] = [];
  const app = createApiServer({ logger: pino({ level: 'silent' }), backends: { swarm: backend(calls, seen) } });
  let res = await app.inject({ method: 'GET', url: '/services/web/logs?stdout=1&tail=-1' });
  assert.equal(res.statusCode, 500);
  assert.equal(res.json().message, 'negative tail values not supported');
  res = await app.inject({ method: 'GET', url: '/services/web/logs?stdout=1&tail=x' });
  assert.equal(res.json().message, 'tail value must be a positive integer or "all"');
  res = await app.inject({ method: 'GET', url: '/services/web/logs?stdout=1&since=nonsense' });
  assert.match(res.json().message as string, /^could not parse since timestamp: /);
  assert.deepEqual(calls, [], 'nothing asked of the cluster yet');
  res = await app.inject({ method: 'GET', url: '/tasks/t1/logs?stdout=1&stderr=1&tail=5&since=10.5&details=1&follow=1' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
  const body = res.rawPayload;
  assert.equal(body[0], 1);
  assert.equal(body.subarray(8, 12).toString(), 'out\n');
  assert.equal(body[12], 3);
  assert.equal(body.subarray(20).toString(), 'Error grabbing logs: x\n');
  assert.deepEqual(calls, ['logs task t1']);
  const { signal: _signal, ...opts } = seen[0];
  assert.deepEqual(opts, {
    stdout: true,
    stderr: true,
    follow: true,
    timestamps: false,
    details: true,
    tail: 5,
    since: { sec: 10, nsec: 500_000_000 },
  });
  await app.close();
});
