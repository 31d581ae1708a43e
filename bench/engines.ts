// The two engines the benchmarks compare: Berth through the test harness, and the reference
// dockerd started on its own socket and roots (--bridge=none --iptables=false).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DOCKER, httpRequest, run, destroyBerth, type Berth } from '../test/integration/harness';

export interface Engine {
  /** The daemon's process (berthd or dockerd). */
  pid: number;
  socket: string;
  name: string;
  docker(args: string[], input?: Buffer): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export async function startReference(dir: string): Promise<Engine> {
  const sock = path.join(dir, 'ref.sock');
  const cfg = path.join(dir, 'ref-config');
  fs.mkdirSync(cfg, { recursive: true });
  fs.writeFileSync(path.join(dir, 'ref.json'), '{}');
  const log = fs.openSync(path.join(dir, 'ref.log'), 'a');
  const child = spawn(
    '/usr/sbin/dockerd',
    ['-H', `unix://${sock}`, '--data-root', path.join(dir, 'ref-data'), '--exec-root', path.join(dir, 'ref-exec'),
      '--pidfile', path.join(dir, 'ref.pid'), '--bridge=none', '--iptables=false', '--config-file', path.join(dir, 'ref.json')],
    { stdio: ['ignore', log, log] },
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await httpRequest(sock, 'GET', '/_ping')).status === 200) break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`reference dockerd did not start; see ${path.join(dir, 'ref.log')}`);
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: cfg };
  return {
    name: 'dockerd',
    pid: child.pid ?? -1,
    socket: sock,
    docker: (args, input) => run(DOCKER, args, { env, input }),
    stop: async () => {
      const done = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}

export function berthEngine(b: Berth): Engine {
  return { name: 'berth', pid: b.pid, socket: b.socket, docker: (args, input) => b.docker(args, { input }), stop: () => destroyBerth(b) };
}
