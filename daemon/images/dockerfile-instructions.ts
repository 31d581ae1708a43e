// Parsed Dockerfile nodes turned into typed instructions, as buildkit's
// frontend/dockerfile/instructions does (flags, key=value pairs, HEALTHCHECK options, durations).

import { DurationError, parseGoDuration } from '../go-duration';
import type { HealthConfig } from './image-config';
import { goQuote } from '../../lib/go-quote';
import { parseGoInt } from '../../lib/go-strconv';
import { type Node, ParseError } from './dockerfile-parser';

export type Command =
  | { kind: 'env' | 'label'; pairs: { key: string; value: string }[] }
  | { kind: 'onbuild'; expression: string }
  | { kind: 'workdir'; path: string }
  | { kind: 'cmd' | 'entrypoint'; cmdLine: string[] | null; prependShell: boolean }
  | { kind: 'healthcheck'; health: HealthConfig }
  | { kind: 'expose'; ports: string[] }
  | { kind: 'user'; user: string }
  | { kind: 'volume'; volumes: string[] }
  | { kind: 'stopsignal'; signal: string };

/** BFlags.Parse with the given string flags defined. */
function parseFlags(flags: string[], defined: readonly string[] = []): Map<string, string> {
  const values = new Map<string, string>();
  for (const a of flags) {
    if (a === '--') break;
    if (!a.startsWith('--')) throw new ParseError(`arg should start with -- : ${a}`);
    const eq = a.indexOf('=');
    const flagName = eq < 0 ? a : a.slice(0, eq);
    const name = flagName.slice(2);
    if (!defined.includes(name)) throw new ParseError(`unknown flag: ${flagName}`);
    if (values.has(name)) throw new ParseError(`duplicate flag specified: ${flagName}`);
    if (eq < 0) throw new ParseError(`missing a value on flag: ${flagName}`);
    values.set(name, a.slice(eq + 1));
  }
  return values;
}

function kvps(args: string[], cmdName: string): { key: string; value: string }[] {
  if (args.length === 0) throw new ParseError(`${cmdName} requires at least one argument`);
  if (args.length % 3 !== 0) throw new ParseError(`Bad input to ${cmdName}, too many arguments`);
  const out: { key: string; value: string }[] = [];
  for (let j = 0; j < args.length; j += 3) {
    if (args[j].length === 0) throw new ParseError(`${cmdName} names can not be blank`);
    out.push({ key: args[j], value: args[j + 1] });
  }
  return out;
}

function exactlyOne(n: Node, name: string): string {
  if (n.args.length !== 1) throw new ParseError(`${name} requires exactly one argument`);
  return n.args[0];
}

/** handleJSONArgs: exec form as is, shell form joined into one string. */
function cmdLine(n: Node): string[] {
  if (n.args.length === 0) return [];
  return n.json ? n.args : [n.args.join(' ')];
}

export function parseCommand(n: Node): Command {
  const name = n.cmd.toLowerCase();
  switch (name) {
    case 'env':
    case 'label':
      parseFlags(n.flags);
      return { kind: name, pairs: kvps(n.args, name.toUpperCase()) };
    case 'onbuild': {
      if (n.args.length === 0) throw new ParseError('ONBUILD requires at least one argument');
      parseFlags(n.flags);
      const trigger = n.args[0].trim().toUpperCase();
      if (trigger === 'ONBUILD') throw new ParseError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new ParseError(`${trigger} isn't allowed as an ONBUILD trigger`);
      return { kind: 'onbuild', expression: n.original.replace(/^\s*ONBUILD\s*/i, '') };
    }
    case 'workdir': {
      const path = exactlyOne(n, 'WORKDIR');
      parseFlags(n.flags);
      return { kind: 'workdir', path };
    }
    case 'cmd':
      parseFlags(n.flags);
      return { kind: 'cmd', cmdLine: cmdLine(n), prependShell: !n.json };
    case 'entrypoint': {
      parseFlags(n.flags);
      const line = cmdLine(n);
      return { kind: 'entrypoint', cmdLine: line.length === 0 ? null : line, prependShell: !n.json };
    }
    case 'healthcheck':
      return { kind: 'healthcheck', health: parseHealthcheck(n) };
    case 'expose':
      if (n.args.length === 0) throw new ParseError('EXPOSE requires at least one argument');
      parseFlags(n.flags);
      return { kind: 'expose', ports: [...n.args].sort(compareBytes) };
    case 'user': {
      const user = exactlyOne(n, 'USER');
      parseFlags(n.flags);
      return { kind: 'user', user };
    }
    case 'volume': {
      if (n.args.length === 0) throw new ParseError('VOLUME requires at least one argument');
      parseFlags(n.flags);
      const volumes = n.args.map((v) => v.trim());
      if (volumes.some((v) => v === '')) throw new ParseError('VOLUME specified can not be an empty string');
      return { kind: 'volume', volumes };
    }
    case 'stopsignal':
      return { kind: 'stopsignal', signal: exactlyOne(n, 'STOPSIGNAL') };
    default:
      throw new ParseError(`unknown instruction: ${n.cmd}`);
  }
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function parseHealthcheck(n: Node): HealthConfig {
  if (n.args.length === 0) throw new ParseError('HEALTHCHECK requires at least one argument');
  const typ = n.args[0].toUpperCase();
  const rest = n.args.slice(1);
  if (typ === 'NONE') {
    if (rest.length !== 0) throw new ParseError('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  const flags = parseFlags(n.flags, ['interval', 'timeout', 'start-period', 'start-interval', 'retries']);
  if (typ !== 'CMD') throw new ParseError(`Unknown type ${goQuote(typ)} in HEALTHCHECK (try CMD)`);
  const cmd = rest.length === 0 ? [] : n.json ? rest : [rest.join(' ')];
  if (cmd.length === 0) throw new ParseError('Missing command after HEALTHCHECK CMD');
  const health: HealthConfig = { Test: [n.json ? 'CMD' : 'CMD-SHELL', ...cmd] };
  const durations: [string, 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval'][] = [
    ['interval', 'Interval'],
    ['timeout', 'Timeout'],
    ['start-period', 'StartPeriod'],
    ['start-interval', 'StartInterval'],
  ];
  for (const [flag, field] of durations) {
    const d = parseOptInterval(flag, flags.get(flag) ?? '');
    if (d !== 0) health[field] = d;
  }
  const retries = flags.get('retries') ?? '';
  if (retries !== '') {
    const r = parseGoInt32(retries);
    if (r < 0) throw new ParseError(`--retries cannot be negative (${r})`);
    if (r !== 0) health.Retries = r;
  }
  return health;
}

function parseOptInterval(name: string, s: string): number {
  if (s === '') return 0;
  const d = parseDuration(s);
  if (d === 0) return 0;
  if (d < 1_000_000) throw new ParseError(`Interval ${goQuote(name)} cannot be less than 1ms`);
  return d;
}

/** Go's time.ParseDuration, in nanoseconds, with its errors as parse errors. */
export function parseDuration(s: string): number {
  try {
    return Number(parseGoDuration(s));
  } catch (err) {
    if (err instanceof DurationError) throw new ParseError(err.message);
    throw err;
  }
}

function parseGoInt32(s: string): number {
  try {
    return Number(parseGoInt(s, 10, 32));
  } catch (err) {
    throw new ParseError((err as Error).message);
  }
}
