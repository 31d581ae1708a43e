// A replaying server in front of an engine: the docker CLI's own share of a command, measured.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The CLI's own floor: a server that forwards each path's first request to the engine and
 * answers every later one from memory, so a timed CLI command against it is the CLI alone
 * (start-up, its requests, decoding and printing) with answers that cost nothing to make.
 */
export interface Replay {
  socket: string;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export async function startReplay(engineSocket: string): Promise<Replay> {
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
