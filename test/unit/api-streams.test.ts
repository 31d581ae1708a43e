import assert from 'node:assert/strict';
import { test } from 'node:test';
import fastify from 'fastify';
import { NotFound } from '../../lib/errors';
import { STDERR, STDOUT, SYSTEMERR, decodeFrames, encodeFrame, encodeJsonMessage, withJsonMessageStream } from '../../api/streams';

test('encodeFrame writes the 8-byte header: stream, 3 zero bytes, big-endian size', () => {
  const f = encodeFrame(STDOUT, 'hello');
  assert.deepEqual([...f.subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0, 5]);
  assert.equal(f.subarray(8).toString(), 'hello');
  const big = encodeFrame(STDERR, Buffer.alloc(0x010203));
  assert.deepEqual([...big.subarray(0, 8)], [2, 0, 0, 0, 0, 1, 2, 3]);
  assert.equal(big.length, 8 + 0x010203);
  assert.deepEqual([...encodeFrame(SYSTEMERR, '')], [3, 0, 0, 0, 0, 0, 0, 0]);
});

test('decodeFrames splits whole frames and keeps the tail', () => {
  const all = Buffer.concat([encodeFrame(STDOUT, 'out'), encodeFrame(STDERR, 'err!'), encodeFrame(STDOUT, 'partial')]);
  const cut = all.subarray(0, all.length - 3);
  const { frames, rest } = decodeFrames(cut);
  assert.deepEqual(
    frames.map((f) => [f.type, f.payload.toString()]),
    [
      [STDOUT, 'out'],
      [STDERR, 'err!'],
    ],
  );
  const next = decodeFrames(Buffer.concat([rest, all.subarray(all.length - 3)]));
  assert.deepEqual(
    next.frames.map((f) => f.payload.toString()),
    ['partial'],
  );
  assert.equal(next.rest.length, 0);
  assert.throws(() => decodeFrames(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0])), /unrecognized stream type 9/);
});

test('JSON messages: omitempty fields, CRLF, error shape', () => {
  assert.equal(encodeJsonMessage({ status: 'Pulling fs layer', id: 'abc' }), '{"status":"Pulling fs layer","id":"abc"}\r\n');
  assert.equal(encodeJsonMessage({ stream: 'Step 1/2\n' }), '{"stream":"Step 1/2\\n"}\r\n');
  assert.equal(
    encodeJsonMessage({ status: 'Downloading', id: 'l1', progressDetail: { current: 1, total: 2 }, progress: '[=>  ]' }),
    '{"status":"Downloading","progressDetail":{"current":1,"total":2},"progress":"[=>  ]","id":"l1"}\r\n',
  );
  assert.equal(
    encodeJsonMessage({ error: 'boom', errorDetail: { message: 'boom' } }),
    '{"error":"boom","errorDetail":{"message":"boom"}}\r\n',
  );
  assert.equal(encodeJsonMessage({ aux: { ID: 'sha256:1' } }), '{"aux":{"ID":"sha256:1"}}\r\n');
});

test('withJsonMessageStream: errors before output are HTTP errors, after output an error line', async () => {
  const app = fastify();
  app.setErrorHandler((err, _req, reply) => reply.code(err instanceof NotFound ? 404 : 500).send({ message: (err as Error).message }));
  app.get('/early', async (_req, reply) =>
    withJsonMessageStream(reply, async () => {
      throw new NotFound('no such image');
    }),
  );
  app.get('/late', async (_req, reply) =>
    withJsonMessageStream(reply, async (out) => {
      out.status('Loading layer', 'abc');
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('disk full');
    }),
  );
  app.get('/ok', async (_req, reply) =>
    withJsonMessageStream(reply, async (out) => {
      out.stream('Loaded image: x:latest\n');
    }),
  );
  app.get('/empty', async (_req, reply) => withJsonMessageStream(reply, async () => undefined));

  const early = await app.inject({ url: '/early' });
  assert.equal(early.statusCode, 404);
  assert.deepEqual(early.json(), { message: 'no such image' });

  const late = await app.inject({ url: '/late' });
  assert.equal(late.statusCode, 200);
  assert.equal(late.headers['content-type'], 'application/json');
  assert.equal(late.body, '{"status":"Loading layer","id":"abc"}\r\n{"error":"disk full","errorDetail":{"message":"disk full"}}\r\n');

  const ok = await app.inject({ url: '/ok' });
  assert.equal(ok.body, '{"stream":"Loaded image: x:latest\\n"}\r\n');

  const empty = await app.inject({ url: '/empty' });
  assert.equal(empty.statusCode, 200);
  assert.equal(empty.body, '');
  await app.close();
});
