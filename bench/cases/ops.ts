// One container operation at a time on an existing container: exec, start, stop, create, rm, each
// timed alone (the setup and the step that undoes it are untimed), and the floor of containerd's
// own client: `ctr run --rm` of the same image on Berth's embedded containerd.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DOCKER, run } from '../../test/integration/harness';
import { must, type Case } from '../case';
import type { Engine } from '../engines';
import { startReplay, type Replay } from '../replay';

/**
 * PID 1 of the start/stop cases ends on SIGTERM at once (busybox sleep as PID 1 would ignore it
 * and sit out the 10 s timeout); the trap runs during `wait`, so the stop is the signal path only.
 */
const STOPPABLE = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];
const CTR = '/usr/bin/ctr';
/** The containerd namespace the floor case imports its image into (not Berth's own). */
const FLOOR_NS = 'berth-bench-floor';

const create = (e: Engine, name: string, cmd: string[]): Promise<void> =>
  must(e.docker(['create', '--network', 'none', '--name', name, 'busybox', ...cmd]));
const remove = (name: string) => (e: Engine) => must(e.docker(['rm', '-f', name]));

/**
 * Berth only: the CLI command against a replaying server (startReplay): the first request of each
 * path goes to Berth, every later one is answered from memory, so the figure is the docker CLI's
 * own time for the command, the floor no daemon can take it under.
 */
function cliFloor(name: string, args: string[], setup: (e: Engine) => Promise<void>, teardown: (e: Engine) => Promise<void>): Case {
  let replay: Replay | undefined;
  return {
    name,
    runs: 30,
    engines: ['berth'],
    setup,
    step: async (e) => {
      replay ??= await startReplay(e.socket);
      await must(run(DOCKER, args, { env: replay.env }));
    },
    teardown: async (e) => {
      await replay?.close();
      replay = undefined;
      await teardown(e);
    },
  };
}

export function opsCases(small: Buffer, dir: string): Case[] {
  const load = (e: Engine): Promise<void> => must(e.docker(['load'], small));
  const ctr = (e: Engine, args: string[], input?: Buffer): Promise<void> => {
    if (e.containerd === undefined) throw new Error(`${e.name} has no containerd socket to measure`);
    return must(run(CTR, ['--address', e.containerd, '--namespace', FLOOR_NS, ...args], { input }));
  };
  let floorRuns = 0;
  return [
    {
      name: 'docker exec c true',
      runs: 30,
      setup: async (e) => {
        await load(e);
        await must(e.docker(['run', '-d', '--network', 'none', '--name', 'bench-exec', 'busybox', 'sleep', '3600']));
      },
      step: (e) => must(e.docker(['exec', 'bench-exec', 'true'])),
      teardown: remove('bench-exec'),
    },
    {
      name: 'docker create',
      runs: 30,
      setup: load,
      step: (e) => create(e, 'bench-create', ['true']),
      reset: (e) => must(e.docker(['rm', 'bench-create'])),
    },
    {
      name: 'docker rm (created container)',
      runs: 30,
      setup: async (e) => {
        await load(e);
        await create(e, 'bench-rm', ['true']);
      },
      step: (e) => must(e.docker(['rm', 'bench-rm'])),
      reset: (e) => create(e, 'bench-rm', ['true']),
      teardown: remove('bench-rm'),
    },
    cliFloor(
      'docker create, CLI floor',
      ['create', '--network', 'none', '--name', 'bench-create-floor', 'busybox', 'true'],
      load,
      remove('bench-create-floor'),
    ),
    cliFloor(
      'docker rm, CLI floor',
      ['rm', 'bench-rm-floor'],
      async (e) => {
        await load(e);
        await create(e, 'bench-rm-floor', ['true']);
      },
      // The first (forwarded) rm removed it; a failed run may have left it.
      (e) => e.docker(['rm', '-f', 'bench-rm-floor']).then(() => undefined),
    ),
    {
      name: 'docker start (created/stopped)',
      runs: 30,
      setup: async (e) => {
        await load(e);
        await create(e, 'bench-start', STOPPABLE);
      },
      step: (e) => must(e.docker(['start', 'bench-start'])),
      reset: (e) => must(e.docker(['stop', 'bench-start'])),
      teardown: remove('bench-start'),
    },
    {
      name: 'docker stop (SIGTERM, exits at once)',
      runs: 30,
      setup: async (e) => {
        await load(e);
        await create(e, 'bench-stop', STOPPABLE);
        await must(e.docker(['start', 'bench-stop']));
      },
      step: (e) => must(e.docker(['stop', 'bench-stop'])),
      reset: (e) => must(e.docker(['start', 'bench-stop'])),
      teardown: remove('bench-stop'),
    },
    {
      name: 'ctr run --rm (floor, Berth containerd)',
      runs: 30,
      engines: ['berth'],
      setup: async (e) => {
        const tar = path.join(dir, 'floor-busybox.tar');
        fs.writeFileSync(tar, small);
        await ctr(e, ['images', 'import', '--snapshotter', 'overlayfs', tar]);
      },
      step: (e) =>
        ctr(e, ['run', '--rm', '--snapshotter', 'overlayfs', 'docker.io/library/busybox:latest', `bench-floor-${floorRuns++}`, 'true']),
      teardown: (e) => ctr(e, ['images', 'rm', 'docker.io/library/busybox:latest']),
    },
    {
      // The floor measured alongside, in one step, so that the three figures share the load:
      // `docker run --rm` through Berth, then containerd's own client without and with a seccomp
      // profile (ctr's default spec has none; Docker's default profile, which Berth and dockerd
      // apply, costs runc ~15 ms per container here).
      name: 'run --rm: docker on Berth vs ctr on its containerd (interleaved)',
      runs: 30,
      engines: ['berth'],
      timed: false,
      setup: async (e) => {
        await load(e);
        const tar = path.join(dir, 'floor-busybox.tar');
        fs.writeFileSync(tar, small);
        await ctr(e, ['images', 'import', '--snapshotter', 'overlayfs', tar]);
      },
      step: async (e) => {
        const image = 'docker.io/library/busybox:latest';
        const timed = async (p: () => Promise<void>): Promise<number> => {
          const t0 = process.hrtime.bigint();
          await p();
          return Number(process.hrtime.bigint() - t0) / 1e6;
        };
        return {
          'docker run --rm ms': await timed(() => must(e.docker(['run', '--rm', '--network', 'none', 'busybox', 'true']))),
          'ctr run --rm ms': await timed(() =>
            ctr(e, ['run', '--rm', '--snapshotter', 'overlayfs', image, `bench-floor-${floorRuns++}`, 'true']),
          ),
          'ctr run --rm --seccomp ms': await timed(() =>
            ctr(e, ['run', '--rm', '--seccomp', '--snapshotter', 'overlayfs', image, `bench-floor-${floorRuns++}`, 'true']),
          ),
        };
      },
      teardown: (e) => ctr(e, ['images', 'rm', 'docker.io/library/busybox:latest']),
    },
  ];
}
