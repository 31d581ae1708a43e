import assert from 'node:assert/strict';
import { test } from 'node:test';
import fastify from 'fastify';
import { JSON_BODY_LIMIT, bodyStream, readJsonBody, registerBodyParsers } from '../../api/body';
import { toHttpError } from '../../api/errors';
import { JsonSyntaxError, decodeGoJson, parseMediaType } from '../../api/json';

function syntaxError(text: string): string {
  try {
    decodeGoJson(text);
  } catch (e) {
    assert.ok(e instanceof JsonSyntaxError);
    return e.message;
  }
  assert.fail(`no error for ${text}`);
}

test('Go decoder error texts', () => {
  assert.equal(syntaxError('x'), "invalid character 'x' looking for beginning of value");
  assert.equal(syntaxError('{"a": x}'), "invalid character 'x' looking for beginning of value");
  assert.equal(syntaxError('{a:1}'), "invalid character 'a' looking for beginning of object key string");
  assert.equal(syntaxError('{"a" 1}'), "invalid character '1' after object key");
  assert.equal(syntaxError('{"a":1 "b":2}'), `invalid character '"' after object key:value pair`);
  assert.equal(syntaxError('[1 2]'), "invalid character '2' after array element");
  assert.equal(syntaxError('{"a":1,}'), "invalid character '}' looking for beginning of object key string");
  assert.equal(syntaxError('[1,]'), "invalid character ']' looking for beginning of value");
  assert.equal(syntaxError('tru'), 'unexpected EOF');
  assert.equal(syntaxError('trux'), "invalid character 'x' in literal true (expecting 'e')");
  assert.equal(syntaxError('nul'), 'unexpected EOF');
  assert.equal(syntaxError('{"a":'), 'unexpected EOF');
  assert.equal(syntaxError('"abc'), 'unexpected EOF');
  assert.equal(syntaxError('"a\\qb"'), "invalid character 'q' in string escape code");
  assert.equal(syntaxError('"a\\u12G4"'), "invalid character 'G' in \\u hexadecimal character escape");
  assert.equal(syntaxError('"a\nb"'), "invalid character '\\n' in string literal");
  assert.equal(syntaxError('-x'), "invalid character 'x' in numeric literal");
  assert.equal(syntaxError('1.x'), "invalid character 'x' after decimal point in numeric literal");
  assert.equal(syntaxError('1ex'), "invalid character 'x' in exponent of numeric literal");
  assert.equal(syntaxError("'a'"), "invalid character '\\'' looking for beginning of value");
});

test('decodeGoJson returns the first value, EOF, and trailing content', () => {
  assert.deepEqual(decodeGoJson(' {"a":[1,2.5e3,"x",true,null]} '), { value: { a: [1, 2500, 'x', true, null] }, trailing: false });
  assert.equal(decodeGoJson('   \n'), 'EOF');
  assert.deepEqual(decodeGoJson('{"a":1} {"b":2}'), { value: { a: 1 }, trailing: true });
  assert.deepEqual(decodeGoJson('{"a":1}}'), { value: { a: 1 }, trailing: false }); // Decoder.More ignores '}'
  assert.deepEqual(decodeGoJson('123abc'), { value: 123, trailing: true });
});

test('parseMediaType reports mime errors like Go', () => {
  assert.deepEqual(parseMediaType('application/json; charset=utf-8'), { mediaType: 'application/json' });
  assert.deepEqual(parseMediaType('Application/JSON'), { mediaType: 'application/json' });
  assert.deepEqual(parseMediaType(''), { error: 'mime: no media type' });
  assert.deepEqual(parseMediaType('application'), { mediaType: 'application' });
  assert.deepEqual(parseMediaType('application json'), { error: 'mime: expected slash after first token' });
  assert.deepEqual(parseMediaType('application/'), { error: 'mime: expected token after slash' });
  assert.deepEqual(parseMediaType('a/b c'), { error: 'mime: unexpected content after media subtype' });
  assert.deepEqual(parseMediaType('a/b; x'), { error: 'mime: invalid media parameter' });
  assert.deepEqual(parseMediaType('a/b; x=1; X=2'), { error: 'mime: duplicate parameter name' });
});

async function bodyApp() {
  const app = fastify();
  registerBodyParsers(app);
  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err, req.headers['content-type']);
    return reply.code(e.status).send({ message: e.message });
  });
  app.post('/json', async (req) => ({ value: readJsonBody(req) ?? 'none' }));
  app.post('/raw', async (req) => {
    const chunks: Buffer[] = [];
    for await (const c of bodyStream(req)) chunks.push(Buffer.from(c as Buffer));
    return { bytes: Buffer.concat(chunks).length, ct: req.headers['content-type'] ?? null };
  });
  await app.ready();
  return app;
}

test('readJsonBody follows httputils.ReadJSON', async () => {
  const app = await bodyApp();
  const post = (headers: Record<string, string>, payload?: string) => app.inject({ method: 'POST', url: '/json', headers, payload });
  assert.deepEqual((await post({ 'content-type': 'application/json' }, '{"a":1}')).json(), { value: { a: 1 } });
  assert.deepEqual((await post({ 'content-type': 'application/json; charset=utf-8' }, '[1]')).json(), { value: [1] });
  // No body at all is fine, with or without a JSON Content-Type.
  assert.deepEqual((await post({})).json(), { value: 'none' });
  assert.deepEqual((await post({ 'content-type': 'application/json' }, '')).json(), { value: 'none' });
  const bad = await post({ 'content-type': 'application/json' }, '{"a": x}');
  assert.equal(bad.statusCode, 400);
  assert.deepEqual(bad.json(), { message: "invalid JSON: invalid character 'x' looking for beginning of value" });
  const eof = await post({ 'content-type': 'application/json' }, '  ');
  assert.deepEqual(eof.json(), { message: 'invalid JSON: got EOF while reading request body' });
  const trailing = await post({ 'content-type': 'application/json' }, '{} []');
  assert.deepEqual(trailing.json(), { message: 'unexpected content after JSON' });
  const wrongType = await post({ 'content-type': 'text/plain' }, '{}');
  assert.equal(wrongType.statusCode, 400);
  assert.deepEqual(wrongType.json(), { message: "unsupported Content-Type header (text/plain): must be 'application/json'" });
  const malformed = await post({ 'content-type': 'bad//' }, '{}');
  assert.equal(malformed.statusCode, 400);
  assert.deepEqual(malformed.json(), { message: 'malformed Content-Type header (bad//): mime: expected token after slash' });
  await app.close();
});

test('non-JSON bodies stream through whole and unparsed', async () => {
  const app = await bodyApp();
  const big = Buffer.alloc(JSON_BODY_LIMIT + 1024 * 1024, 7); // beyond any buffered-body limit
  for (const headers of [
    { 'content-type': 'application/x-tar' },
    { 'content-type': 'application/octet-stream' },
    {} as Record<string, string>,
  ]) {
    const res = await app.inject({ method: 'POST', url: '/raw', headers, payload: big });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().bytes, big.length);
  }
  const json = await app.inject({ method: 'POST', url: '/raw', headers: { 'content-type': 'application/json' }, payload: '{"x":1}' });
  assert.equal(json.json().bytes, 7);
  // JSON, on the other hand, is buffered and so bounded.
  const tooBig = await app.inject({ method: 'POST', url: '/json', headers: { 'content-type': 'application/json' }, payload: big });
  assert.equal(tooBig.statusCode, 413);
  assert.deepEqual(tooBig.json(), { message: 'request body is too large' });
  await app.close();
});
