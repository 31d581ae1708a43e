// The classic builder's dispatch loop (moby builder/dockerfile: build.go, evaluator.go,
// dispatchers.go, internals.go): ARGs before the first FROM, then each stage from its base image
// (pulled when missing, a previous stage, or scratch), each instruction committed as an image
// through a container of the step's image, with the cache probed first. The stream text is
// dockerd's: `Step i/n : …`, ` ---> Running in <id>`, ` ---> Using cache`, ` ---> <id>`.
import { InvalidParameter, SystemError } from '../../lib/errors';
import { goQuote } from '../../lib/go-quote';
import type { ContainerConfig, HostConfig } from '../containers/api-types';
import * as sfs from '../../runtime/safe-fs';
import { mkdirInScope, withRootFd, type ContainerRoot } from '../containers/rootfs-path';
import { formatGoDuration } from '../go-duration';
import { applyCommand } from '../images/changes';
import type { Command } from '../images/dockerfile-instructions';
import { ParseError } from '../images/dockerfile-parser';
import { type EnvLookup, envLookupFromList, processWord, ShellLexError } from '../images/shell-lex';
import { BuildArgs, prependEnvOnCmd } from './args';
import { HistoryCache, localCache, type StepCache } from './cache-from';
import { missingInitPaths, removeInitPaths } from './init-paths';
import { parseChmod, performCopy, resolveChown, resolveSources, sourceHash } from './copy';
import type { BuildDeps, BuildImage, BuildOptions, BuildOutput } from './ports';
import { parseTrigger, type Dockerfile, type Instruction, type Stage } from './stages';
import { credentialsFor } from './credentials';
import { platformMatches, platformMismatchError, stagePlatform } from './platform';
import type { Platform } from '../../registry/types';

const DEFAULT_SHELL = ['/bin/sh', '-c'];
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A failed RUN: the JSON stream's errorDetail carries its exit code. */
export class StepError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export class BuildCancelled extends Error {
  constructor() {
    super('Build cancelled');
  }
}

interface State {
  imageId: string;
  scratch: boolean;
  runConfig: ContainerConfig;
  args: BuildArgs;
  cmdSet: boolean;
  maintainer: string;
}

const short = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

/** Go's %q of a []string: `["a" "b"]`. */
const quoteList = (l: readonly string[] | null | undefined): string => `[${(l ?? []).map(goQuote).join(' ')}]`;

export class Builder {
  private step = 0;
  private total = 0;
  private cacheBusted = false;
  private readonly stageImages = new Map<string, string>();
  private readonly stageOrder: string[] = [];
  private readonly globalArgs: BuildArgs;
  /** Containers of the current step, removed when it ends (rm, forcerm). */
  private pending: string[] = [];
  /** Step containers dockerd has none for (COPY/ADD use a bare layer): removed without a line. */
  private readonly silent = new Set<string>();
  private readonly cache: StepCache;

  constructor(
    private readonly deps: BuildDeps,
    private readonly opts: BuildOptions,
    private readonly out: BuildOutput,
    private readonly file: Dockerfile,
    private readonly context: ContainerRoot,
  ) {
    this.globalArgs = new BuildArgs(opts.buildArgs);
    // moby's MakeImageCache: cache-from images that are not stored are skipped.
    const sources = opts.cacheFrom.map((ref) => findQuietly(deps, ref)).filter((i): i is BuildImage => i !== undefined);
    this.cache = opts.cacheFrom.length === 0 ? localCache(deps.images) : new HistoryCache(deps.images, sources);
  }

  private print(text: string): void {
    if (!this.opts.quiet) this.out.stream(text);
  }

  private checkCancelled(): void {
    if (this.opts.signal?.aborted) throw new BuildCancelled();
  }

  private printStep(original: string): void {
    this.step++;
    this.print(`Step ${this.step}/${this.total} : ${original}`);
    this.print('\n');
  }

  /** Runs the build; the final image's ID. */
  async run(): Promise<string> {
    let stages = this.file.stages;
    if (this.opts.target !== '') {
      const ix = stages.findIndex((s) => s.name === this.opts.target.toLowerCase());
      if (ix < 0) throw new InvalidParameter(`failed to reach build target ${this.opts.target} in Dockerfile`);
      stages = stages.slice(0, ix + 1);
    }
    this.total = this.file.metaArgs.length + stages.reduce((n, s) => n + 1 + s.commands.length, 0);
    for (const meta of this.file.metaArgs) {
      this.printStep(meta.original);
      const lookup = mapLookup(this.globalArgs.metaValues());
      for (const a of meta.args) {
        const value = a.value === null ? null : this.expand(a.value, lookup);
        this.globalArgs.addMeta(a.key, value);
      }
    }
    let state: State | undefined;
    for (const stage of stages) {
      this.checkCancelled();
      this.printStep(stage.original);
      state = await this.initializeStage(stage);
      this.print(` ---> ${short(state.imageId)}\n`);
      for (const cmd of stage.commands) {
        this.checkCancelled();
        this.printStep(cmd.original);
        await this.dispatchStep(state, cmd);
        this.print(` ---> ${short(state.imageId)}\n`);
      }
      if (state.imageId !== '' && !this.opts.quiet) this.out.aux({ ID: state.imageId });
      const key = String(this.stageOrder.length);
      this.stageOrder.push(state.imageId);
      this.stageImages.set(key, state.imageId);
      if (stage.name !== '') this.stageImages.set(stage.name, state.imageId);
    }
    const unused = this.globalArgs.unused();
    if (unused.length > 0) this.print(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    if (!state || state.imageId === '') throw new SystemError('No image was generated. Is your Dockerfile empty?');
    return state.imageId;
  }

  private expand(word: string, env: EnvLookup): string {
    try {
      return processWord(word, env, this.file.escapeToken);
    } catch (err) {
      if (err instanceof ShellLexError) throw new InvalidParameter(err.message);
      throw err;
    }
  }

  /** The words' environment: the config's Env, then the build args it does not set. */
  private envOf(state: State): EnvLookup {
    const env = state.runConfig.Env ?? [];
    return envLookupFromList([...env, ...state.args.filterAllowed(env)]);
  }

  private async baseImage(stage: Stage): Promise<BuildImage | undefined> {
    const meta = mapLookup(this.globalArgs.metaValues());
    const name = this.expand(stage.image, meta);
    if (name === '') throw new InvalidParameter('base name (' + stage.image + ') should not be blank');
    const platform = stage.platform !== '' ? stagePlatform(this.expand(stage.platform, meta)) : this.opts.platform;
    const previous = this.stageImages.get(name.toLowerCase());
    // dockerd reuses a previous stage's image as it is, whatever the platform asked.
    if (previous !== undefined && !/^\d+$/.test(name)) return this.deps.images.byId(previous);
    if (name.toLowerCase() === 'scratch') return undefined;
    return this.imageFor(
      name,
      platform,
      () => new SystemError(`pull access denied for ${name}, repository does not exist or may require 'docker login'`),
    );
  }

  /** An image by reference: the stored one when it matches the platform, else pulled. */
  private async imageFor(name: string, platform: Platform | undefined, missing: () => Error): Promise<BuildImage> {
    let img = this.opts.pull ? undefined : this.deps.images.find(name);
    if (img !== undefined && platform !== undefined && !platformMatches(img.config, platform)) img = undefined;
    if (img === undefined) {
      const progress = this.opts.quiet ? () => undefined : this.out.progress;
      await this.deps.images.pull(name, credentialsFor(name, this.opts.authConfigs), progress, this.opts.signal, platform);
      img = this.deps.images.find(name);
      if (img === undefined) throw missing();
      if (platform !== undefined && !platformMatches(img.config, platform)) throw platformMismatchError(name, img.config, platform);
    }
    return img;
  }

  private async initializeStage(stage: Stage): Promise<State> {
    const img = await this.baseImage(stage);
    const runConfig: ContainerConfig = structuredClone(img?.config.config ?? {});
    const env = runConfig.Env ?? [];
    if (!env.some((e) => e.startsWith('PATH='))) runConfig.Env = [...env, DEFAULT_PATH];
    const state: State = {
      imageId: img?.id ?? '',
      scratch: img === undefined,
      runConfig,
      args: this.globalArgs.forStage(),
      cmdSet: false,
      maintainer: '',
    };
    this.cacheBusted = false;
    const triggers = runConfig.OnBuild ?? [];
    if (triggers.length > 0) {
      runConfig.OnBuild = null;
      this.print(`# Executing ${triggers.length} build trigger`);
      if (triggers.length > 1) this.print('s');
      this.print('\n');
      for (const t of triggers) {
        const cmd = parseTrigger(t);
        await this.dispatchStep(state, cmd);
      }
    }
    return state;
  }

  private async dispatchStep(state: State, cmd: Instruction): Promise<void> {
    let ok = false;
    try {
      await this.dispatch(state, cmd);
      ok = true;
    } catch (err) {
      if (err instanceof ParseError || err instanceof ShellLexError) throw new InvalidParameter(err.message);
      throw err;
    } finally {
      const cancelled = this.opts.signal?.aborted === true;
      const all = this.opts.forceRemove || (this.opts.remove && ok) || cancelled;
      await this.removeAll(!cancelled, !all);
    }
  }

  /** Removes the step's containers (only those dockerd has none for when `onlySilent`). */
  private async removeAll(say: boolean, onlySilent: boolean): Promise<void> {
    const ids = onlySilent ? this.pending.filter((id) => this.silent.has(id)) : this.pending;
    this.pending = [];
    for (const id of ids) {
      try {
        await this.deps.containers.remove(id);
        if (this.silent.delete(id)) continue;
        if (say) this.print(`Removing intermediate container ${short(id)}\n`);
      } catch (err) {
        if (say) this.print(`Failed to remove intermediate container ${short(id)}: ${(err as Error).message}\n`);
      }
    }
  }

  private async probe(state: State, config: ContainerConfig): Promise<boolean> {
    if (this.opts.noCache || this.cacheBusted) return false;
    const commitConfig = structuredClone(state.runConfig);
    delete commitConfig.Image;
    const hit = await this.cache.get(state.imageId, config, commitConfig);
    if (hit === undefined) {
      this.cacheBusted = true;
      return false;
    }
    this.print(' ---> Using cache\n');
    state.imageId = hit;
    return true;
  }

  private shell(state: State): string[] {
    const s = state.runConfig.Shell;
    return s && s.length > 0 ? s : DEFAULT_SHELL;
  }

  private withConfigImage(state: State, c: ContainerConfig): ContainerConfig {
    return { ...structuredClone(c), Image: state.imageId };
  }

  private hostConfig(): HostConfig {
    return {
      ...structuredClone(this.opts.hostConfig),
      NetworkMode: this.opts.networkMode || 'default',
      ExtraHosts: [...this.opts.extraHosts],
    };
  }

  private async createStepContainer(state: State, config: ContainerConfig, say: boolean): Promise<string> {
    const id = await this.deps.containers.create(config, this.hostConfig(), state.scratch && state.imageId === '');
    this.pending.push(id);
    if (say) this.print(` ---> Running in ${short(id)}\n`);
    else this.silent.add(id);
    return id;
  }

  private async commitContainer(state: State, id: string, containerConfig: ContainerConfig): Promise<void> {
    const config = structuredClone(state.runConfig);
    delete config.Image;
    state.imageId = await this.deps.containers.commit(id, config, containerConfig, state.maintainer);
    state.scratch = false;
  }

  /** moby's commit: a `#(nop) ` step through a created (never started) container. */
  private async commit(state: State, comment: string, single = false): Promise<void> {
    const cmd = single ? [...this.shell(state), `#(nop) ${comment}`] : [...this.shell(state), '#(nop) ', comment];
    const config = this.withConfigImage(state, { ...state.runConfig, Cmd: cmd });
    if (await this.probe(state, config)) return;
    const id = await this.createStepContainer(state, config, true);
    await this.commitContainer(state, id, config);
  }

  private async dispatch(state: State, cmd: Instruction): Promise<void> {
    switch (cmd.kind) {
      case 'run':
        return this.dispatchRun(state, cmd.cmdLine, cmd.prependShell);
      case 'copy':
      case 'add':
        return this.dispatchCopy(state, cmd);
      case 'arg': {
        const env = this.envOf(state);
        const parts: string[] = [];
        for (const a of cmd.args) {
          const value = a.value === null ? null : this.expand(a.value, env);
          state.args.add(a.key, value);
          parts.push(value === null ? a.key : `${a.key}=${value}`);
        }
        return this.commit(state, `ARG ${parts.join(' ')}`);
      }
      case 'shell':
        state.runConfig.Shell = [...cmd.shell];
        return this.commit(state, `SHELL [${cmd.shell.join(' ')}]`);
      case 'maintainer':
        state.maintainer = cmd.maintainer;
        return this.commit(state, `MAINTAINER ${cmd.maintainer}`);
      case 'command':
        return this.dispatchCommand(state, cmd.command);
    }
  }

  private async dispatchCommand(state: State, c: Command): Promise<void> {
    const env = this.envOf(state);
    const extra = (name: string): string | undefined => env(name);
    state.cmdSet = applyCommand(state.runConfig, c, state.cmdSet, this.file.escapeToken, extra);
    const rc = state.runConfig;
    const ex = (w: string): string => this.expand(w, env);
    switch (c.kind) {
      case 'env':
        return this.commit(state, `ENV ${c.pairs.map((p) => `${ex(p.key)}=${ex(p.value)}`).join(' ')}`);
      case 'label':
        return this.commit(state, `LABEL ${c.pairs.map((p) => `${ex(p.key)}=${ex(p.value)}`).join(' ')}`);
      case 'onbuild':
        return this.commit(state, `ONBUILD ${c.expression}`);
      case 'workdir':
        return this.dispatchWorkdir(state);
      case 'cmd':
        return this.commit(state, `CMD ${quoteList(rc.Cmd)}`);
      case 'entrypoint':
        return this.commit(state, `ENTRYPOINT ${quoteList(rc.Entrypoint)}`);
      case 'healthcheck': {
        const h = rc.Healthcheck ?? {};
        const d = (v: unknown): string => goQuote(formatGoDuration(BigInt(String(v ?? 0))));
        const retries = Number(h.Retries ?? 0);
        const r = retries === 0 ? `'\\x00'` : `'${String.fromCharCode(retries)}'`;
        return this.commit(
          state,
          `HEALTHCHECK &{${quoteList(h.Test)} ${d(h.Interval)} ${d(h.Timeout)} ${d(h.StartPeriod)} ${d(h.StartInterval)} ${r}}`,
        );
      }
      case 'expose':
        return this.commit(state, `EXPOSE ${c.ports.map(ex).join(' ')}`);
      case 'user':
        return this.commit(state, `USER ${rc.User ?? ''}`);
      case 'volume':
        return this.commit(state, `VOLUME [${c.volumes.map(ex).join(' ')}]`);
      case 'stopsignal':
        return this.commit(state, `STOPSIGNAL ${rc.StopSignal ?? ''}`);
    }
  }

  private async dispatchWorkdir(state: State): Promise<void> {
    const workdir = state.runConfig.WorkingDir ?? '/';
    const config = this.withConfigImage(state, { ...state.runConfig, Cmd: [...this.shell(state), `#(nop) WORKDIR ${workdir}`] });
    if (await this.probe(state, config)) return;
    const id = await this.createStepContainer(state, config, true);
    await this.deps.containers.withRoot(id, 'write', async (r) => {
      withRootFd(r, (fd) => sfs.closeFd(mkdirInScope(r, fd, workdir).fd));
    });
    await this.commitContainer(state, id, config);
  }

  private async dispatchRun(state: State, cmdLine: string[], prependShell: boolean): Promise<void> {
    const cmd = prependShell ? [...this.shell(state), ...cmdLine] : [...cmdLine];
    const env = state.runConfig.Env ?? [];
    const buildArgs = state.args.filterAllowed(env);
    const saveCmd = prependEnvOnCmd(buildArgs, cmd);
    const probeConfig = this.withConfigImage(state, { ...state.runConfig, Cmd: saveCmd, Entrypoint: null });
    if (await this.probe(state, probeConfig)) return;
    const runConfig = this.withConfigImage(state, {
      ...state.runConfig,
      Cmd: cmd,
      Env: [...env, ...buildArgs],
      Entrypoint: [''],
      Healthcheck: { Test: ['NONE'] },
    });
    const id = await this.createStepContainer(state, runConfig, true);
    const missing = await this.deps.containers.withRoot(id, 'read', async (r) => missingInitPaths(r));
    const code = await this.runContainer(id);
    if (code !== 0) throw new StepError(`The command '${cmd.join(' ')}' returned a non-zero code: ${code}`, code);
    if (missing.length > 0) await this.deps.containers.withRoot(id, 'write', async (r) => removeInitPaths(r, missing));
    await this.commitContainer(state, id, probeConfig);
  }

  private async runContainer(id: string): Promise<number> {
    const c = this.deps.containers;
    const exited = c.waitExit(id);
    const output = c.attachOutput(id, (stream, chunk) => {
      const text = chunk.toString('utf8');
      this.print(stream === 'stderr' ? `\u001b[91m${text}\u001b[0m` : text);
      return this.out.backpressure();
    });
    const signal = this.opts.signal;
    const onAbort = (): void => void c.kill(id).catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.checkCancelled();
      await c.start(id);
      const code = await exited;
      await output.catch(() => undefined);
      this.checkCancelled();
      return code;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      exited.catch(() => undefined);
      output.catch(() => undefined);
    }
  }

  private async dispatchCopy(state: State, cmd: Extract<Instruction, { kind: 'copy' | 'add' }>): Promise<void> {
    const env = this.envOf(state);
    const ex = (w: string): string => this.expand(w, env);
    const from = ex(cmd.from);
    const chown = ex(cmd.chown);
    const mode = parseChmod(ex(cmd.chmod));
    const sources = cmd.sources.map(ex);
    const written = ex(cmd.dest);
    let dest = written;
    if (!dest.startsWith('/')) {
      const wd = state.runConfig.WorkingDir || '/';
      const joined = `${wd.replace(/\/$/, '')}/${dest}`;
      dest = dest.endsWith('/') || dest === '.' || dest.endsWith('/.') ? `${joined.replace(/\/\.?$/, '')}/` : joined;
    }
    const name = cmd.kind.toUpperCase();
    return this.withCopySource(from, async (src, isContext) => {
      const items = await resolveSources(src, sources, { add: cmd.kind === 'add', context: isContext });
      const hash = await sourceHash(src, items);
      const chownComment = chown !== '' ? `--chown=${chown}` : '';
      const comment = `${name} ${chownComment}${hash} in ${written} `;
      const config = this.withConfigImage(state, { ...state.runConfig, Cmd: [...this.shell(state), `#(nop) ${comment}`] });
      if (await this.probe(state, config)) return;
      const id = await this.createStepContainer(state, config, false);
      await this.deps.containers.withRoot(id, 'write', async (target) => {
        const owner = chown !== '' ? resolveChown(target, chown) : undefined;
        await performCopy(src, target, { items, dest, owner, mode, chown }, name);
      });
      await this.commitContainer(state, id, config);
    });
  }

  /** The root COPY reads from: the context, a previous stage's image, or any image (--from). */
  private async withCopySource(from: string, fn: (r: ContainerRoot, isContext: boolean) => Promise<void>): Promise<void> {
    if (from === '') return fn(this.context, true);
    const byStage = this.stageImages.get(from.toLowerCase());
    const stageImage = byStage !== undefined ? this.deps.images.byId(byStage) : undefined;
    const img =
      stageImage ??
      (await this.imageFor(from, this.opts.platform, () => new SystemError(`invalid from flag value ${from}: No such image: ${from}`)));
    const helper = await this.deps.containers.create({ Image: img.id, Cmd: ['/'] }, {}, false);
    try {
      await this.deps.containers.withRoot(helper, 'read', (r) => fn(r, false));
    } finally {
      await this.deps.containers.remove(helper).catch(() => undefined);
    }
  }
}

/** An image by reference or ID; undefined when missing or not a valid reference. */
function findQuietly(deps: BuildDeps, ref: string): BuildImage | undefined {
  try {
    return deps.images.find(ref);
  } catch {
    return undefined;
  }
}

function mapLookup(m: Map<string, string>): EnvLookup {
  return (name) => m.get(name);
}
