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
import { InvalidParameter } from '../../lib/errors';
import { isValidSignal } from '../signals';
import { DurationError, parseGoDuration } from '../go-duration';
import type { ContainerConfig, HealthConfig } from './image-config';
import { envLookupFromList, goQuote, processWord, processWords, ShellLexError } from './shell-lex';

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
// Parser (buildkit frontend/dockerfile/parser)

interface Directives {
  escapeToken: string;
  continuation: RegExp;
  done: boolean;
  seen: Set<string>;
}

/** One parsed instruction. `args` is what buildkit calls nodeArgs. */
interface Node {
  cmd: string;
  flags: string[];
  args: string[];
  json: boolean;
  original: string;
}

class ParseError extends Error {}

function setEscapeToken(d: Directives, s: string): void {
  if (s !== '`' && s !== '\\') throw new ParseError(`invalid escape token '${s}' does not match \` or \\`);
  d.escapeToken = s;
  const e = s === '\\' ? '\\\\' : s;
  d.continuation = new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

const directiveRe = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

/** Parser directives ("# escape=`") are only recognised before anything else. */
function parseDirective(d: Directives, line: string): void {
  if (d.done) return;
  if (!line.startsWith('#')) {
    d.done = true;
    return;
  }
  const m = directiveRe.exec(line.slice(1).replace(/^\s+/u, ''));
  const key = m?.[1].toLowerCase();
  if (m === null || key === undefined || !['syntax', 'escape', 'check'].includes(key)) {
    d.done = true;
    return;
  }
  if (d.seen.has(key)) throw new ParseError(`only one ${key} parser directive can be used`);
  d.seen.add(key);
  if (key === 'escape') setEscapeToken(d, m[2]);
}

const isComment = (line: string): boolean => line.replace(/^\s+/u, '').startsWith('#');
const trimNewline = (line: string): string => line.replace(/[\r\n]+$/, '');

function processLine(d: Directives, token: string, stripLeft: boolean): string {
  let line = trimNewline(token);
  if (stripLeft) line = line.replace(/^\s+/u, '');
  parseDirective(d, line);
  return isComment(line) ? '' : line;
}

function trimContinuation(d: Directives, line: string): [string, boolean] {
  if (d.continuation.test(line)) return [line.replace(d.continuation, '$1'), false];
  return [line, true];
}

/** Splits the text into logical lines (continuations joined, comments and blanks dropped). */
function logicalLines(text: string, d: Directives): string[] {
  const raw = text.split('\n');
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  if (raw.length > 0 && raw[0].startsWith('\ufeff')) raw[0] = raw[0].slice(1);
  const out: string[] = [];
  let i = 0;
  while (i < raw.length) {
    let [line, end] = trimContinuation(d, processLine(d, raw[i++], true));
    if (end && line.length === 0) continue;
    let buf = line;
    while (!end && i < raw.length) {
      const next = raw[i++];
      line = processLine(d, next, false);
      if (isComment(next)) continue;
      if (line.replace(/^\s+/u, '').length === 0) continue; // empty continuation line
      [line, end] = trimContinuation(d, line);
      buf += line;
    }
    out.push(buf);
  }
  return out;
}

const reWhitespace = /[\t\v\f\r ]+/;
const isGoSpace = (ch: string): boolean => /^\s$/u.test(ch);

/** Leading "--flag" words of an instruction (buildkit extractBuilderFlags). */
function extractBuilderFlags(line: string, d: Directives): [string, string[]] {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    let ch = pos < line.length ? line[pos] : '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (isGoSpace(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return [line.slice(pos), words];
      phase = 'word';
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return [line.slice(pos), words];
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === d.escapeToken) {
        if (pos + 1 === line.length) continue;
        ch = line[++pos];
      }
      word += ch;
      continue;
    }
    // phase === 'quote'
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === d.escapeToken) {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      ch = line[++pos];
    }
    word += ch;
  }
  return ['', words];
}

/** Splits on whitespace keeping quotes (they are removed later by variable expansion). */
function parseWords(rest: string, d: Directives): string[] {
  const chars = Array.from(rest);
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  let word = '';
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = pos < chars.length ? chars[pos] : '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (isGoSpace(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === d.escapeToken) {
        if (pos + 1 === chars.length) continue;
        // An unquoted escape keeps both characters, even before a quote.
        word += ch;
        ch = chars[++pos];
      }
      word += ch;
      continue;
    }
    // phase === 'quote'
    if (ch === quote) phase = 'word';
    if (ch === d.escapeToken && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      ch = chars[++pos];
    }
    word += ch;
  }
  return words;
}

/** ENV/LABEL: "k=v k2=v2" or the legacy "k value with spaces". Args come in (key, value, sep) triples. */
function parseNameVal(rest: string, key: string, d: Directives): string[] {
  const words = parseWords(rest, d);
  if (words.length === 0) return [];
  if (!words[0].includes('=')) {
    const m = reWhitespace.exec(rest);
    if (m === null) throw new ParseError(`${key} must have two arguments`);
    return [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ''];
  }
  const args: string[] = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq < 0) throw new ParseError(`Syntax error - can't find = in ${goQuote(w)}. Must be of the form: name=value`);
    args.push(w.slice(0, eq), w.slice(eq + 1), '=');
  }
  return args;
}

const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

/** JSON exec form; undefined when `rest` is not a JSON array (then it is shell form). */
function parseJSON(rest: string): string[] | undefined {
  const t = rest.replace(/^\s+/u, '');
  if (!t.startsWith('[')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  if (v.some((x) => typeof x !== 'string')) throw new ParseError(NOT_STRING_ARRAY);
  return v as string[];
}

function splitWhitespace(rest: string): string[] {
  return rest === '' ? [] : rest.split(new RegExp(reWhitespace.source, 'g'));
}

function newNodeFromLine(line: string, d: Directives): Node {
  const trimmed = line.trim();
  const m = reWhitespace.exec(trimmed);
  const cmd = m ? trimmed.slice(0, m.index) : trimmed;
  let flags: string[] = [];
  let rest = '';
  if (m) {
    const [args, f] = extractBuilderFlags(trimmed.slice(m.index + m[0].length), d);
    flags = f;
    rest = args.trim();
  }
  let args: string[] = [];
  let json = false;
  switch (cmd.toLowerCase()) {
    case 'cmd':
    case 'entrypoint':
    case 'run':
    case 'shell': {
      if (rest === '') break;
      const j = parseJSON(rest);
      if (j !== undefined) [args, json] = [j, true];
      else args = [rest];
      break;
    }
    case 'add':
    case 'copy':
    case 'volume': {
      const j = parseJSON(rest);
      if (j !== undefined) [args, json] = [j, true];
      else args = splitWhitespace(rest);
      break;
    }
    case 'env':
      args = parseNameVal(rest, 'ENV', d);
      break;
    case 'label':
      args = parseNameVal(rest, 'LABEL', d);
      break;
    case 'arg':
      args = parseWords(rest, d);
      break;
    case 'expose':
    case 'from':
      args = splitWhitespace(rest);
      break;
    case 'healthcheck': {
      const sep = rest.search(/\s/u);
      const typ = sep < 0 ? rest : rest.slice(0, sep);
      if (typ === '') break;
      const cmdPart = sep < 0 ? '' : rest.slice(sep).replace(/^\s+/u, '');
      args = [typ];
      if (cmdPart !== '') {
        const j = parseJSON(cmdPart);
        if (j !== undefined) {
          args.push(...j);
          json = true;
        } else {
          args.push(cmdPart);
        }
      }
      break;
    }
    case 'maintainer':
    case 'stopsignal':
    case 'user':
    case 'workdir':
      if (rest !== '') args = [rest];
      break;
    case 'onbuild':
      if (rest !== '') {
        const sub = newNodeFromLine(rest, d);
        args = [sub.cmd, ...sub.args];
      }
      break;
    default:
      break; // unknown instructions parse to nothing; they are rejected below
  }
  return { cmd, flags, args, json, original: line };
}

/** Parses the joined changes into instruction nodes (parser.Parse), and the escape token. */
function parseDockerfile(text: string): { nodes: Node[]; escapeToken: string } {
  const d: Directives = { escapeToken: '\\', continuation: /$^/, done: false, seen: new Set() };
  setEscapeToken(d, '\\');
  const nodes = logicalLines(text, d).map((l) => newNodeFromLine(l, d));
  if (nodes.length === 0) throw new ParseError('file with no instructions');
  return { nodes, escapeToken: d.escapeToken };
}

// ---------------------------------------------------------------------------------------------
// Instructions (buildkit frontend/dockerfile/instructions)

type Command =
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

function parseCommand(n: Node): Command {
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
  if (!/^[+-]?[0-9]+$/.test(s)) throw new ParseError(`strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax`);
  const v = Number(s);
  if (v > 2147483647 || v < -2147483648) throw new ParseError(`strconv.ParseInt: parsing ${goQuote(s)}: value out of range`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Dispatch (moby daemon/builder/dockerfile dispatchers)

function parsePortNumber(s: string): boolean {
  return /^[0-9]+$/.test(s) && Number(s) <= 65535;
}

/** [start, end] of "80" or "80-90", or undefined (network.ParsePortRange). */
function parsePortRange(s: string): [number, number] | undefined {
  if (s === '') return undefined;
  const range = s.split('/')[0];
  const dash = range.indexOf('-');
  const start = dash < 0 ? range : range.slice(0, dash);
  const end = dash < 0 ? start : range.slice(dash + 1);
  if (!parsePortNumber(start)) return undefined;
  if (dash < 0 || start === end) return [Number(start), Number(start)];
  if (!parsePortNumber(end) || Number(end) < Number(start)) return undefined;
  return [Number(start), Number(end)];
}

function isIPAddress(s: string): boolean {
  return /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/.test(s) || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s));
}

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
  if (ip !== '' && !isIPAddress(ip)) throw new ParseError(`invalid IP address: ParseAddr(${goQuote(ip)}): unable to parse IP`);
  const range = parsePortRange(port);
  if (range === undefined) throw new ParseError(`invalid containerPort: ${port}`);
  if (hostPort !== '') {
    const h = parsePortRange(hostPort);
    if (h === undefined) throw new ParseError(`invalid hostPort: ${hostPort}`);
    if (range[1] - range[0] !== h[1] - h[0] && range[1] !== range[0]) {
      throw new ParseError(`invalid ranges specified for container and host Ports: ${port} and ${hostPort}`);
    }
  }
  const keys: string[] = [];
  for (let p = range[0]; p <= range[1]; p++) keys.push(`${p}/${proto}`);
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

/** Applies one instruction; returns whether CMD has been set by the changes so far. */
function dispatch(config: ContainerConfig, c: Command, cmdSet: boolean, escapeToken: string): boolean {
  const env = envLookupFromList(config.Env);
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
