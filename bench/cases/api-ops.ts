// The container operations of ops.ts through the raw API from the bench's own process: the
// daemon's share of each, without the docker CLI's start-up (~40–60 ms here, the same for both
// engines, and most of what `docker create` or `docker rm` takes). Each step is the requests the
// CLI makes for the operation, minus its version ping and name lookups.
import { httpRequest } from '../../test/integration/harness';
import { must, type Case } from '../case';
import type { Engine } from '../engines';

const STOPPABLE = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];
const JSON_HEADERS = { 'Content-Type': 'application/json' };

async function call(e: Engine, method: string, urlPath: string, expect: number, body?: unknown): Promise<string> {
  const r = await httpRequest(e.socket, method, urlPath, body === undefined ? {} : { body: JSON.stringify(body), headers: JSON_HEADERS });
  if (r.status !== expect) throw new Error(`${method} ${urlPath}: ${r.status} ${r.body}`);
  return r.body;
}

const createBody = (cmd: string[]): unknown => ({ Image: 'busybox', Cmd: cmd, HostConfig: { NetworkMode: 'none' } });
const create = (e: Engine, name: string, cmd: string[]): Promise<string> =>
  call(e, 'POST', `/containers/create?name=${name}`, 201, createBody(cmd));
const removeForced = (name: string) => (e: Engine) => call(e, 'DELETE', `/containers/${name}?force=1`, 204).then(() => undefined);

export function apiOpsCases(small: Buffer): Case[] {
  const load = (e: Engine): Promise<void> => must(e.docker(['load'], small));
  let runs = 0;
  return [
    {
      name: 'API create',
      runs: 30,
      setup: load,
      step: (e) => create(e, 'bench-api-create', ['true']).then(() => undefined),
      reset: removeForced('bench-api-create'),
    },
    {
      name: 'API rm (created container)',
      runs: 30,
      setup: async (e) => {
        await load(e);
        await create(e, 'bench-api-rm', ['true']);
      },
      step: (e) => call(e, 'DELETE', '/containers/bench-api-rm', 204).then(() => undefined),
      reset: (e) => create(e, 'bench-api-rm', ['true']).then(() => undefined),
      teardown: (e) =>
        call(e, 'DELETE', '/containers/bench-api-rm?force=1', 204).then(
          () => undefined,
          () => undefined,
        ),
    },
    {
      name: 'API start',
      runs: 30,
      setup: async (e) => {
        await load(e);
        await create(e, 'bench-api-start', STOPPABLE);
      },
      step: (e) => call(e, 'POST', '/containers/bench-api-start/start', 204).then(() => undefined),
      reset: (e) => call(e, 'POST', '/containers/bench-api-start/stop', 204).then(() => undefined),
      teardown: removeForced('bench-api-start'),
    },
    {
      name: 'API stop (SIGTERM, exits at once)',
      runs: 30,
      setup: async (e) => {
        await load(e);
        await create(e, 'bench-api-stop', STOPPABLE);
        await call(e, 'POST', '/containers/bench-api-stop/start', 204);
      },
      step: (e) => call(e, 'POST', '/containers/bench-api-stop/stop', 204).then(() => undefined),
      reset: (e) => call(e, 'POST', '/containers/bench-api-stop/start', 204).then(() => undefined),
      teardown: removeForced('bench-api-stop'),
    },
    {
      name: 'API exec true (create + start to the end)',
      runs: 30,
      setup: async (e) => {
        await load(e);
        await create(e, 'bench-api-exec', ['sleep', '3600']);
        await call(e, 'POST', '/containers/bench-api-exec/start', 204);
      },
      step: async (e) => {
        const { Id } = JSON.parse(
          await call(e, 'POST', '/containers/bench-api-exec/exec', 201, { Cmd: ['true'], AttachStdout: true, AttachStderr: true }),
        ) as {
          Id: string;
        };
        // Not detached: the answer is the exec's output, ended when the process is.
        await call(e, 'POST', `/exec/${Id}/start`, 200, { Detach: false, Tty: false });
        const inspected = JSON.parse(await call(e, 'GET', `/exec/${Id}/json`, 200)) as { ExitCode: number | null; Running: boolean };
        if (inspected.Running || inspected.ExitCode !== 0) throw new Error(`exec: ${JSON.stringify(inspected)}`);
      },
      teardown: removeForced('bench-api-exec'),
    },
    {
      name: 'API run --rm true (create, wait, start, wait ends, rm)',
      runs: 30,
      setup: load,
      step: async (e) => {
        const name = `bench-api-run-${runs++}`;
        await create(e, name, ['true']);
        // As the CLI: the wait is asked for before the start, so the exit cannot be missed.
        const waited = httpRequest(e.socket, 'POST', `/containers/${name}/wait?condition=next-exit`);
        await call(e, 'POST', `/containers/${name}/start`, 204);
        const w = await waited;
        if (w.status !== 200 || (JSON.parse(w.body) as { StatusCode: number }).StatusCode !== 0)
          throw new Error(`wait: ${w.status} ${w.body}`);
        await call(e, 'DELETE', `/containers/${name}`, 204);
      },
    },
  ];
}
