// Attach over a websocket (GET /containers/{id}/attach/ws), as browser front ends use it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { Kit } from './container-kit';

let kit: Kit;
before(async () => {
  kit = await Kit.start();
});
after(async () => {
  await kit?.destroy();
});

function connect(path: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws+unix://${kit.b.socket}:${path}`);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

test('stdin goes in and output comes back as binary frames; the socket closes when the container exits', async () => {
  const id = (await kit.ok(['create', '-i', 'busybox', 'sh', '-c', 'read line; echo "got $line"; echo oops >&2'])).trim();
  const ws = await connect(`/containers/${id}/attach/ws?stream=1&stdin=1&stdout=1&stderr=1`);
  let out = '';
  let binary = true;
  ws.on('message', (data, isBinary) => {
    out += data.toString();
    binary &&= isBinary;
  });
  const closed = new Promise<void>((r) => ws.once('close', () => r()));
  await kit.ok(['start', id]);
  ws.send(Buffer.from('hello\n'));
  await closed;
  assert.match(out, /got hello\n/);
  assert.match(out, /oops\n/);
  assert.equal(binary, true);
  assert.equal((await kit.ok(['wait', id])).trim(), '0');
  await kit.ok(['rm', id]);
});

test('API versions before 1.42 get text frames', async () => {
  const id = (await kit.ok(['create', 'busybox', 'sh', '-c', 'sleep 0.3; echo text'])).trim();
  const ws = await connect(`/v1.41/containers/${id}/attach/ws?stream=1&stdout=1`);
  const frames: boolean[] = [];
  let out = '';
  ws.on('message', (data, isBinary) => {
    frames.push(isBinary);
    out += data.toString();
  });
  const closed = new Promise<void>((r) => ws.once('close', () => r()));
  await kit.ok(['start', id]);
  await closed;
  assert.equal(out, 'text\n');
  assert.ok(frames.every((b) => !b));
  await kit.ok(['rm', id]);
});

test('an unknown container is refused before the handshake', async () => {
  await assert.rejects(connect('/containers/nosuch/attach/ws?stream=1&stdout=1'), /status 404/);
});
