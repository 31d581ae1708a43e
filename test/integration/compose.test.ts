// A three-service docker-compose project (Debian's docker-compose 1.29, a real compose client that
// speaks the API through docker-py) against berthd: a named volume, a user network with aliases,
// a published port and depends_on; up, ps, logs, exec, down and up again with the volume's data
// kept, then down -v leaving nothing behind.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Kit } from './container-kit';
import { freePorts } from './net-tools';
import { run, type RunResult } from './harness';

const COMPOSE = '/usr/bin/docker-compose';
const haveCompose = fs.existsSync(COMPOSE);
let k: Kit;
let dir: string;
let port: number;
const PROJECT = 'berthproj';

function compose(args: string[]): Promise<RunResult> {
  return run(COMPOSE, ['-p', PROJECT, '-f', path.join(dir, 'docker-compose.yml'), ...args], {
    env: { ...process.env, DOCKER_HOST: `unix://${k.b.socket}`, COMPOSE_INTERACTIVE_NO_CLI: '1' },
    timeoutMs: 120_000,
  });
}

async function composeOk(args: string[]): Promise<string> {
  const r = await compose(args);
  assert.equal(r.code, 0, `docker-compose ${args.join(' ')}: ${r.stderr}\n${k.b.log().slice(-2000)}`);
  return r.stdout;
}

function httpGet(p: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: p, path: '/index.html' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
  });
}

before(async () => {
  if (!haveCompose) return;
  k = await Kit.start();
  dir = fs.mkdtempSync(path.join(k.b.dir, 'compose-'));
  port = await freePorts();
  // db keeps a counter in its named volume (one line per start); web serves it over HTTP on the
  // published port, reaching db by its alias; worker waits for web by its service name.
  fs.writeFileSync(
    path.join(dir, 'docker-compose.yml'),
    `version: "2.4"
services:
  db:
    image: busybox
    command: ["sh", "-c", "mkdir -p /data/www && echo start >> /data/www/index.html && exec httpd -f -p 8080 -h /data/www"]
    volumes: ["dbdata:/data"]
    networks:
      backend:
        aliases: [database]
  web:
    image: busybox
    depends_on: [db]
    command: ["sh", "-c", "mkdir -p /www; (while true; do wget -qO /www/index.html.new http://database:8080/index.html && mv /www/index.html.new /www/index.html; sleep 0.2; done) & exec httpd -f -p 80 -h /www"]
    ports: ["127.0.0.1:${port}:80"]
    networks: [backend]
  worker:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", "until wget -qO- http://web/index.html; do sleep 0.2; done; echo worker saw web; exec sleep 600"]
    networks: [backend]
volumes:
  dbdata: {}
networks:
  backend: {}
`,
  );
});

after(async () => {
  if (!k) return;
  await compose(['down', '-v', '--timeout', '1']);
  await k.destroy();
});

test(
  'up starts the project in dependency order; services reach each other by name and alias',
  { skip: !haveCompose && 'docker-compose is not installed', timeout: 240_000 },
  async () => {
    await composeOk(['up', '-d']);
    const ps = await composeOk(['ps', '--services', '--filter', 'status=running']);
    assert.deepEqual(ps.split('\n').filter(Boolean).sort(), ['db', 'web', 'worker']);
    // The published port answers from the host with what web fetched from db through the alias.
    await k.until("the published port to serve db's page", async () => (await httpGet(port).catch(() => '')) === 'start\n', 30_000);
    await k.until(
      'worker to reach web',
      async () => (await compose(['logs', '--no-color', 'worker'])).stdout.includes('worker saw web'),
      30_000,
    );
    // Compose's own labels and names, as it finds its containers by them.
    const names = (await k.ok(['ps', '--format', '{{.Names}}', '--filter', `label=com.docker.compose.project=${PROJECT}`]))
      .split('\n')
      .filter(Boolean)
      .sort();
    assert.deepEqual(names, [`${PROJECT}_db_1`, `${PROJECT}_web_1`, `${PROJECT}_worker_1`]);
    assert.equal((await composeOk(['exec', '-T', 'web', 'sh', '-c', 'wget -qO- http://database:8080/index.html'])).trim(), 'start');
  },
);

test(
  'down keeps the named volume; up again finds its data; down -v removes everything',
  { skip: !haveCompose && 'docker-compose is not installed', timeout: 240_000 },
  async () => {
    await composeOk(['down', '--timeout', '1']);
    assert.equal((await k.ok(['ps', '-aq', '--filter', `label=com.docker.compose.project=${PROJECT}`])).trim(), '');
    assert.match(await k.ok(['volume', 'ls', '-q']), new RegExp(`${PROJECT}_dbdata`));
    await composeOk(['up', '-d']);
    await k.until('the second start to show in the volume', async () => (await httpGet(port).catch(() => '')) === 'start\nstart\n', 30_000);
    await composeOk(['down', '-v', '--timeout', '1']);
    assert.doesNotMatch(await k.ok(['volume', 'ls', '-q']), new RegExp(`${PROJECT}_dbdata`));
    assert.doesNotMatch(await k.ok(['network', 'ls', '--format', '{{.Name}}']), new RegExp(`${PROJECT}_backend`));
    // Nothing listens on the published port any more.
    await assert.rejects(httpGet(port));
  },
);
