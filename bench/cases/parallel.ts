// Many starts at once: `docker start` of N created containers, N CLI processes at the same time,
// the batch timed as one measurement. The containers are killed (and waited for) between rounds,
// untimed, and started again.
import { inBatches, must, type Case } from '../case';
import type { Engine } from '../engines';

const COUNT = 50;

const names = Array.from({ length: COUNT }, (_, i) => `bench-par-${i}`);

export function parallelCases(small: Buffer): Case[] {
  return [
    {
      name: `docker start x${COUNT} parallel`,
      setup: async (e: Engine) => {
        await must(e.docker(['load'], small));
        await inBatches(names, 8, (n) => must(e.docker(['create', '--network', 'none', '--name', n, 'busybox', 'sleep', '3600'])));
      },
      step: async (e) => {
        const all = await Promise.allSettled(names.map((n) => must(e.docker(['start', n]))));
        const failed = all.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      },
      reset: async (e) => {
        // kill fails for a container that did not start; wait then sees it stopped already.
        await e.docker(['kill', ...names]);
        await must(e.docker(['wait', ...names]));
      },
      teardown: (e) => must(e.docker(['rm', '-f', ...names])),
    },
  ];
}
