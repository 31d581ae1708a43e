// POST /build with the classic builder: the context unpacked, the Dockerfile parsed, the stages
// dispatched (builder.ts), then dockerd's closing lines and the tags. Tags are checked before
// anything runs, so a bad one is a 400 with no output, as in dockerd.
import type { Readable } from 'node:stream';
import { InvalidParameter } from '../../lib/errors';
import { familiarString, parseNormalizedNamed, tagNameOnly } from '../images/reference';
import { Builder } from './builder';
import { openContext } from './context';
import { remoteContext } from './remote';
import type { BuildDeps, BuildOptions, BuildOutput } from './ports';
import { parseStages } from './stages';

export { BuildCancelled, StepError } from './builder';

/** Go's %q for a LABEL key, as moby's NodeFromLabels writes it. */
const q = (s: string): string => JSON.stringify(s);
/** A value kept as it is by the word processor (single quotes: no expansion, moby#26027). */
const literal = (s: string): string => `'${s.replace(/'/g, `'"'"'`)}'`;

export class BuildService {
  constructor(private readonly deps: BuildDeps) {}

  /** Checks the tags (sanitizeRepoAndTags); call before any output. */
  checkTags(tags: readonly string[]): void {
    for (const t of tags) {
      if (t === '') continue;
      const named = parseNormalizedNamed(t);
      if (named.digest !== undefined) throw new InvalidParameter('build tag cannot contain a digest');
    }
  }

  async build(body: Readable, opts: BuildOptions, out: BuildOutput): Promise<string> {
    this.checkTags(opts.tags);
    const source = opts.remote === '' ? body : await remoteContext(opts.remote, opts.dockerfile, opts.signal);
    const ctx = await openContext(this.deps.tmpDir, source, opts.dockerfile);
    try {
      const file = parseStages(ctx.dockerfile);
      const labels = Object.keys(opts.labels).sort();
      if (labels.length > 0) {
        const line = `LABEL ${labels.map((k) => `${q(k)}='${opts.labels[k]}'`).join(' ')}`;
        const last = file.stages[file.stages.length - 1];
        last.commands.push({
          kind: 'command',
          command: { kind: 'label', pairs: labels.map((k) => ({ key: q(k), value: literal(opts.labels[k]) })) },
          original: line,
          line: 0,
        });
      }
      const builder = new Builder(this.deps, opts, out, file, ctx.root);
      const imageId = await builder.run();
      const short = imageId.replace(/^sha256:/, '').slice(0, 12);
      if (opts.quiet) out.stream(`${imageId}\n`);
      else out.stream(`Successfully built ${short}\n`);
      for (const t of opts.tags) {
        if (t === '') continue;
        const name = this.deps.images.tag(imageId, familiarString(tagNameOnly(parseNormalizedNamed(t))));
        if (!opts.quiet) out.stream(`Successfully tagged ${name}\n`);
      }
      return imageId;
    } finally {
      ctx.dispose();
    }
  }
}
