// Listing many containers: `docker ps -a` and the raw `GET /containers/json?all=1` it makes, with
// 1,000 created (never started) containers on each engine. The containers are made once for both
// cases (one group), with `docker create` in parallel batches, untimed, and removed after them.
import { DOCKER, httpRequest, run } from '../../test/integration/harness';
import { inBatches, must, output, type Case } from '../case';
import type { Engine } from '../engines';
import { startReplay, type Replay } from '../replay';

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
