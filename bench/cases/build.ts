// docker build with the classic builder (DOCKER_BUILDKIT=0 on both engines): a 10-step Dockerfile
// (metadata steps, WORKDIR, COPY, RUNs) built cold (--no-cache, every step a container and a
// commit) and warm (every step from the cache). busybox is loaded in setup; the built images are
// removed between cold rounds and after the cases, untimed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { must, type Case } from '../case';

const TAG = 'bench/built:latest';

const DOCKERFILE = [
  'FROM busybox',
  'ARG GREETING=hello',
  'ENV APP=/app MODE=bench',
  'WORKDIR /app',
  'COPY data.txt ./',
  'RUN wc -c data.txt > size.txt',
  'RUN echo "$GREETING" > greeting.txt',
  'LABEL bench=build',
  'EXPOSE 8080',
  'CMD ["cat", "/app/greeting.txt"]',
  '',
].join('\n');

export function buildCases(small: Buffer, dir: string): Case[] {
  const ctx = path.join(dir, 'build-context');
  fs.mkdirSync(ctx, { recursive: true });
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), DOCKERFILE);
  fs.writeFileSync(path.join(ctx, 'data.txt'), 'x'.repeat(64 * 1024));
  const shared: Pick<Case, 'group' | 'setup' | 'teardown'> = {
    group: 'build',
    setup: (e) => must(e.docker(['load'], small)),
    teardown: async (e) => {
      await e.docker(['rmi', TAG]);
      await e.docker(['image', 'prune', '-f']);
    },
  };
  return [
    {
      name: 'docker build (10 steps, cold)',
      ...shared,
      step: (e) => must(e.docker(['build', '-q', '--no-cache', '-t', TAG, ctx])),
      reset: (e) => must(e.docker(['rmi', TAG])),
    },
    {
      name: 'docker build (10 steps, warm)',
      ...shared,
      step: (e) => must(e.docker(['build', '-q', '-t', TAG, ctx])),
    },
  ];
}
