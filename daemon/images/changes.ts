// The `changes` parameter of POST /commit and POST /images/create?fromSrc= (docker commit/import
// --change): Dockerfile instructions applied to an image's runtime config. Mirrors moby's
// builder/dockerfile BuildFromConfig: the text is parsed with the Dockerfile grammar (buildkit's
// parser: line continuations, comments, the escape directive, JSON and shell forms), only the
// instructions dockerd allows are accepted, and each is applied with the builder's semantics
// (variable expansion against the config's Env, ENTRYPOINT resetting CMD, ...). Error texts are
// dockerd's, every error is InvalidParameter.
//
// Allowed, as in current moby: CMD ENTRYPOINT ENV EXPOSE HEALTHCHECK LABEL ONBUILD STOPSIGNAL USER
// VOLUME WORKDIR. (dockerd 20.10 rejected STOPSIGNAL.) Heredocs are not recognised: they only
// matter for RUN/ADD/COPY, which are rejected anyway.

import { posix } from 'node:path';
import { isIP } from '../../lib/addresses';
import { tryParsePortRange } from '../../lib/ports';
import { InvalidParameter } from '../../lib/errors';
import { goQuote } from '../../lib/go-quote';
import { isValidSignal } from '../signals';
import type { ContainerConfig } from './image-config';
import { type EnvLookup, envLookupFromList, processWord, processWords, ShellLexError } from './shell-lex';
import { ParseError, parseDockerfile } from './dockerfile-parser';
import { type Command, parseCommand } from './dockerfile-instructions';
export { parseDuration } from './dockerfile-instructions';

const VALID_CHANGE_COMMANDS: ReadonlySet<string> = new Set([
  'cmd',
  'entrypoint',
  'healthcheck',
  'env',
  'expose',
  'label',
  'onbuild',
  'stopsignal',
  'user',
  'volume',
  'workdir',
]);

const DEFAULT_SHELL = ['/bin/sh', '-c'];

// ---------------------------------------------------------------------------------------------
// Dispatch (moby daemon/builder/dockerfile dispatchers)

/** EXPOSE port specs ([ip:][hostPort:]containerPort[/proto]) to "port/proto" keys. */
function exposedPortKeys(raw: string): string[] {
  const parts = raw.split(':');
  let ip = '';
  let hostPort = '';
  let containerPort: string;
  if (parts.length === 1) containerPort = parts[0];
  else if (parts.length === 2) [hostPort, containerPort] = parts;
  else {
    containerPort = parts[parts.length - 1];
    hostPort = parts[parts.length - 2];
    ip = parts.slice(0, -2).join(':');
  }
  const slash = containerPort.indexOf('/');
  let port = slash < 0 ? containerPort : containerPort.slice(0, slash);
  let proto = slash < 0 ? '' : containerPort.slice(slash + 1);
  if (port === '') {
    proto = '';
    port = '';
  } else if (proto === '') {
    proto = 'tcp';
  }
  if (port === '') throw new ParseError(`no port specified: ${raw}<empty>`);
  proto = proto.toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new ParseError(`invalid proto: ${proto}`);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (ip !== '' && !isIP(ip, { zone: true })) throw new ParseError(`invalid IP address: ParseAddr(${goQuote(ip)}): unable to parse IP`);
  const range = tryParsePortRange(port);
  if (range === undefined) throw new ParseError(`invalid containerPort: ${port}`);
  if (hostPort !== '') {
    const h = tryParsePortRange(hostPort);
    if (h === undefined) throw new ParseError(`invalid hostPort: ${hostPort}`);
    if (range.end - range.start !== h.end - h.start && range.end !== range.start) {
      throw new ParseError(`invalid ranges specified for container and host Ports: ${port} and ${hostPort}`);
    }
  }
  const keys: string[] = [];
  for (let p = range.start; p <= range.end; p++) keys.push(`${p}/${proto}`);
  return keys;
}

/** Go's path.Clean for absolute paths (no trailing slash except for the root). */
function cleanPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function normalizeWorkdir(current: string, requested: string): string {
  if (requested === '') throw new ParseError('cannot normalize nothing');
  if (!requested.startsWith('/')) return cleanPath(posix.join('/', current, requested));
  return cleanPath(requested);
}

function cloneConfig(c: ContainerConfig): ContainerConfig {
  return structuredClone(c);
}

/**
 * Applies `changes` (each element may hold several lines; they are joined with newlines) to a copy
 * of `base` and returns it. An empty list returns an unchanged copy. Throws InvalidParameter with
 * dockerd's message on any parse or validation error.
 */
export function applyChanges(base: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const config = cloneConfig(base);
  if (changes.length === 0) return config;
  try {
    const { nodes, escapeToken } = parseDockerfile(changes.join('\n'));
    const commands: Command[] = [];
    for (const n of nodes) {
      if (!VALID_CHANGE_COMMANDS.has(n.cmd.toLowerCase())) {
        // Current moby echoes the instruction as written (20.10 lowercased it).
        throw new ParseError(`${n.cmd} is not a valid change command`);
      }
      commands.push(parseCommand(n));
    }
    let cmdSet = false;
    for (const c of commands) cmdSet = dispatch(config, c, cmdSet, escapeToken);
    return config;
  } catch (err) {
    if (err instanceof ParseError || err instanceof ShellLexError) throw new InvalidParameter(err.message);
    throw err;
  }
}

/**
 * Applies one instruction to `config` in place (the builder's dispatchers); returns whether CMD
 * has been set so far. `extraEnv` (the build's arguments) is consulted for names the config's Env
 * does not set. Throws ParseError or ShellLexError.
 */
export function applyCommand(config: ContainerConfig, c: Command, cmdSet: boolean, escapeToken: string, extraEnv?: EnvLookup): boolean {
  return dispatch(config, c, cmdSet, escapeToken, extraEnv);
}

/** Applies one instruction; returns whether CMD has been set by the changes so far. */
function dispatch(config: ContainerConfig, c: Command, cmdSet: boolean, escapeToken: string, extraEnv?: EnvLookup): boolean {
  const own = envLookupFromList(config.Env);
  const env: EnvLookup = extraEnv ? (name) => own(name) ?? extraEnv(name) : own;
  const expand = (w: string): string => processWord(w, env, escapeToken);
  switch (c.kind) {
    case 'env': {
      const list = config.Env ? [...config.Env] : [];
      for (const p of c.pairs) {
        const entry = `${expand(p.key)}=${expand(p.value)}`;
        const key = entry.slice(0, entry.indexOf('='));
        const i = list.findIndex((e) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e) === key);
        if (i >= 0) list[i] = entry;
        else list.push(entry);
      }
      config.Env = list;
      return cmdSet;
    }
    case 'label': {
      const labels = { ...(config.Labels ?? {}) };
      for (const p of c.pairs) labels[expand(p.key)] = expand(p.value);
      config.Labels = labels;
      return cmdSet;
    }
    case 'onbuild':
      config.OnBuild = [...(config.OnBuild ?? []), c.expression];
      return cmdSet;
    case 'workdir':
      config.WorkingDir = normalizeWorkdir(config.WorkingDir ?? '', expand(c.path));
      return cmdSet;
    case 'cmd':
    case 'entrypoint': {
      const shell = config.Shell && config.Shell.length > 0 ? config.Shell : DEFAULT_SHELL;
      const line = c.prependShell && c.cmdLine !== null ? [...shell, ...c.cmdLine] : c.cmdLine;
      config.ArgsEscaped = false;
      if (c.kind === 'cmd') {
        config.Cmd = line;
        return cmdSet || (c.cmdLine !== null && c.cmdLine.length > 0);
      }
      config.Entrypoint = line;
      if (!cmdSet) config.Cmd = null;
      return cmdSet;
    }
    case 'healthcheck':
      config.Healthcheck = c.health;
      return cmdSet;
    case 'expose': {
      const ports = c.ports.flatMap((p) => processWords(p, env, escapeToken));
      const exposed = { ...(config.ExposedPorts ?? {}) };
      for (const p of ports) for (const k of exposedPortKeys(p)) exposed[k] = {};
      config.ExposedPorts = exposed;
      return cmdSet;
    }
    case 'user':
      config.User = expand(c.user);
      return cmdSet;
    case 'volume': {
      const vols = { ...(config.Volumes ?? {}) };
      for (const v of c.volumes) {
        const e = expand(v);
        if (e === '') throw new ParseError('VOLUME specified can not be an empty string');
        vols[e] = {};
      }
      config.Volumes = vols;
      return cmdSet;
    }
    case 'stopsignal': {
      const sig = expand(c.signal);
      if (!isValidSignal(sig)) throw new ParseError(`invalid signal: ${sig}`);
      config.StopSignal = sig;
      return cmdSet;
    }
  }
}
