// Starts a real berthd (embedded containerd) on a temporary socket and data root, and drives
// it with the real docker CLI or raw HTTP. Every integration test goes through this.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
export const BERTHD = path.join(ROOT, 'daemon', 'main.js');
export const DOCKER = process.env.BERTH_TEST_DOCKER ?? '/usr/local/bin/docker';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Berth {
  socket: string;
  dataRoot: string;
  execRoot: string;
  dir: string;
  pid: number;
  log(): string;
  docker(args: string[], opts?: { input?: Buffer | string; timeoutMs?: number }): Promise<RunResult>;
  request(method: string, urlPath: string, opts?: { body?: Buffer | string; headers?: Record<string, string> }): Promise<HttpResult>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function run(
  cmd: string,
  args: string[],
  opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

export function httpRequest(
  socket: string,
  method: string,
  urlPath: string,
  opts: { body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method, path: urlPath, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function waitForPing(socket: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`berthd exited with ${child.exitCode}:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    try {
      const res = await httpRequest(socket, 'GET', '/_ping');
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`berthd did not answer within ${timeoutMs} ms:\n${fs.readFileSync(logFile, 'utf8')}`);
}

export async function startBerth(opts: { args?: string[]; dir?: string } = {}): Promise<Berth> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'berth-it-'));
  const socket = path.join(dir, 'berth.sock');
  const dataRoot = path.join(dir, 'data');
  const execRoot = path.join(dir, 'exec');
  const logFile = path.join(dir, 'berthd.log');
  const dockerConfig = path.join(dir, 'docker-config');
  fs.mkdirSync(dockerConfig, { recursive: true });
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [
      BERTHD,
      '-H',
      `unix://${socket}`,
      '--data-root',
      dataRoot,
      '--exec-root',
      execRoot,
      '--pidfile',
      path.join(dir, 'berthd.pid'),
      '--config-file',
      path.join(dir, 'daemon.json'),
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  fs.closeSync(logFd);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitForPing(socket, child, logFile, 60_000);
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: 'false' };
  return {
    socket,
    dataRoot,
    execRoot,
    dir,
    pid: child.pid ?? -1,
    log: () => fs.readFileSync(logFile, 'utf8'),
    docker: (args, o = {}) => run(DOCKER, args, { env, input: o.input, timeoutMs: o.timeoutMs }),
    request: (method, urlPath, o) => httpRequest(socket, method, urlPath, o),
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Stops berthd and removes its directory (containerd's state included). */
export async function destroyBerth(b: Berth): Promise<void> {
  await b.stop();
  fs.rmSync(b.dir, { recursive: true, force: true });
}
