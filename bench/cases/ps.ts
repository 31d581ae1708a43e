// Listing many containers: `docker ps -a` and the raw `GET /containers/json?all=1` it makes, with
// 1,000 created (never started) containers on each engine. The containers are made once for both
// cases (one group), with `docker create` in parallel batches, untimed, and removed after them.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { DOCKER, httpRequest, run } from '../../test/integration/harness';
import { inBatches, must, output, type Case } from '../case';
import type { Engine } from '../engines';

const COUNT = 1000;
/** CLI processes in flight while the fleet is made and removed (two cores: more only queues). */
const BATCH = 16;
const LABEL = 'berth.bench=ps';

async function createFleet(e: Engine, small: Buffer): Promise<void> {
  await must(e.docker(['load'], small));
  const have = await output(e.docker(['ps', '-aq', '--filter', `label=${LABEL}`]));
  const missing = COUNT - (have === '' ? 0 : have.split('\n').length);
  const slots = Array.from({ length: Math.max(0, missing) }, (_, i) => i);
  await inBatches(slots, BATCH, () => must(e.docker(['create', '--network', 'none', '--label', LABEL, 'busybox', 'true'])));
}

async function removeFleet(e: Engine): Promise<void> {
  const ids = (await output(e.docker(['ps', '-aq', '--filter', `label=${LABEL}`]))).split('\n').filter((s) => s !== '');
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += 50) chunks.push(ids.slice(i, i + 50));
  await inBatches(chunks, BATCH, (chunk) => must(e.docker(['rm', ...chunk])));
}

/**
 * The CLI's own floor: a server that forwards each path's first request to the engine and
 * answers every later one from memory, so a timed `docker ps -a` against it is the CLI alone
 * (start-up, decoding and formatting 1,000 rows) with an answer that costs nothing to make.
 */
interface Replay {
  socket: string;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

async function startReplay(engineSocket: string): Promise<Replay> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-replay-'));
  const socket = path.join(dir, 'replay.sock');
  const saved = new Map<string, { status: number; headers: http.OutgoingHttpHeaders; body: Buffer }>();
  const server = http.createServer((req, res) => {
    const key = `${req.method ?? ''} ${req.url ?? ''}`;
    const answer = (a: { status: number; headers: http.OutgoingHttpHeaders; body: Buffer }): void => {
      res.writeHead(a.status, a.headers);
      res.end(req.method === 'HEAD' ? undefined : a.body);
    };
    const hit = saved.get(key);
    if (hit) return answer(hit);
    const fwd = http.request({ socketPath: engineSocket, method: req.method, path: req.url, headers: req.headers }, (up) => {
      const chunks: Buffer[] = [];
      up.on('data', (d: Buffer) => chunks.push(d));
      up.on('end', () => {
        const headers = { ...up.headers };
        delete headers['transfer-encoding'];
        const a = { status: up.statusCode ?? 500, headers, body: Buffer.concat(chunks) };
        saved.set(key, a);
        answer(a);
      });
    });
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  const config = path.join(dir, 'docker-config');
  fs.mkdirSync(config);
  return {
    socket,
    env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: config },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        fs.rmSync(dir, { recursive: true, force: true });
      }),
  };
}

/** Fails unless the listing holds the whole fleet (a listing that errors or is cut short would time as fast). */
function checkCount(n: number): void {
  if (n < COUNT) throw new Error(`listed ${n} containers, expected at least ${COUNT}`);
}

export function psCases(small: Buffer): Case[] {
  let replay: Replay | undefined;
  const shared: Pick<Case, 'group' | 'setup' | 'teardown'> = {
    group: 'ps-fleet',
    setup: (e) => createFleet(e, small),
    teardown: async (e) => {
      await replay?.close();
      replay = undefined;
      await removeFleet(e);
    },
  };
  return [
    {
      name: `docker ps -a (${COUNT} containers)`,
      ...shared,
      step: async (e) => {
        const out = await output(e.docker(['ps', '-a']));
        checkCount(out.split('\n').length - 1);
      },
    },
    {
      // Berth's answer replayed: what `docker ps -a` would take with a daemon that costs nothing.
      name: `docker ps -a (${COUNT}), CLI floor`,
      ...shared,
      engines: ['berth'],
      step: async (e) => {
        replay ??= await startReplay(e.socket);
        const out = await output(run(DOCKER, ['ps', '-a'], { env: replay.env }));
        checkCount(out.split('\n').length - 1);
      },
    },
    {
      name: `GET /containers/json (${COUNT} containers)`,
      ...shared,
      step: async (e) => {
        const res = await httpRequest(e.socket, 'GET', '/containers/json?all=1');
        if (res.status !== 200) throw new Error(`GET /containers/json: ${res.status} ${res.body}`);
        checkCount((JSON.parse(res.body) as unknown[]).length);
      },
    },
  ];
}
