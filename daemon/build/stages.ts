// A Dockerfile as the classic builder reads it: the parser's nodes (images/dockerfile-parser.ts)
// grouped into the ARGs before the first FROM and the stages, each instruction typed. The
// instructions `--change` also knows go through images/dockerfile-instructions.ts; FROM, RUN,
// COPY, ADD, ARG, SHELL and MAINTAINER are typed here. Errors are dockerd's texts, 400s.
import { InvalidParameter } from '../../lib/errors';
import { goQuote } from '../../lib/go-quote';
import { type Command, parseCommand } from '../images/dockerfile-instructions';
import { type Node, ParseError, parseDockerfile } from '../images/dockerfile-parser';

interface Base {
  original: string;
  line: number;
}

export interface ArgPair {
  key: string;
  value: string | null;
}

export type Instruction = Base &
  (
    | { kind: 'run'; cmdLine: string[]; prependShell: boolean }
    | { kind: 'copy' | 'add'; sources: string[]; dest: string; from: string; chown: string; chmod: string }
    | { kind: 'arg'; args: ArgPair[] }
    | { kind: 'shell'; shell: string[] }
    | { kind: 'maintainer'; maintainer: string }
    | { kind: 'command'; command: Command }
  );

export interface Stage extends Base {
  image: string;
  name: string;
  platform: string;
  commands: Instruction[];
}

export interface Dockerfile {
  metaArgs: (Base & { args: ArgPair[] })[];
  stages: Stage[];
  escapeToken: string;
}

function flagsOf(n: Node, defined: Record<string, 'string' | 'bool'>): Map<string, string> {
  const values = new Map<string, string>();
  for (const a of n.flags) {
    if (a === '--') break;
    if (!a.startsWith('--')) throw new ParseError(`arg should start with -- : ${a}`);
    const eq = a.indexOf('=');
    const flagName = eq < 0 ? a : a.slice(0, eq);
    const name = flagName.slice(2);
    const kind = defined[name];
    if (kind === undefined) throw new ParseError(`unknown flag: ${flagName}`);
    if (values.has(name)) throw new ParseError(`duplicate flag specified: ${flagName}`);
    if (eq < 0) {
      if (kind === 'string') throw new ParseError(`missing a value on flag: ${flagName}`);
      values.set(name, 'true');
    } else {
      values.set(name, a.slice(eq + 1));
    }
  }
  return values;
}

function refuseHeredoc(n: Node): void {
  if (n.json) return;
  if (n.args.some((a) => /^<<-?["']?[A-Za-z_]/.test(a.trimStart()))) {
    throw new ParseError('heredocs are not supported by the classic builder (Berth builds without BuildKit)');
  }
}

function parseArgPairs(n: Node): ArgPair[] {
  if (n.args.length === 0) throw new ParseError('ARG requires at least one argument');
  flagsOf(n, {});
  return n.args.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return { key: w, value: null };
    if (eq === 0) throw new ParseError(`ARG names can not be blank`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function parseFrom(n: Node): Stage {
  const flags = flagsOf(n, { platform: 'string' });
  const a = n.args;
  if (a.length !== 1 && !(a.length === 3 && a[1].toLowerCase() === 'as')) {
    throw new ParseError('FROM requires either one or three arguments');
  }
  const name = a.length === 3 ? a[2].toLowerCase() : '';
  if (name !== '' && !STAGE_NAME.test(name)) {
    throw new ParseError(`invalid name for build stage: ${goQuote(a[2])}, name can't start with a number or contain symbols`);
  }
  return { image: a[0], name, platform: flags.get('platform') ?? '', commands: [], original: n.original, line: n.startLine };
}

function parseInstruction(n: Node): Instruction {
  const base = { original: n.original, line: n.startLine };
  const cmd = n.cmd.toLowerCase();
  switch (cmd) {
    case 'run': {
      flagsOf(n, { network: 'string', security: 'string', mount: 'string' });
      if (n.flags.length > 0) throw new ParseError('RUN flags (--mount, --network, --security) require BuildKit');
      refuseHeredoc(n);
      if (n.args.length === 0) throw new ParseError('RUN requires at least one argument');
      return { ...base, kind: 'run', cmdLine: n.json ? n.args : [n.args.join(' ')], prependShell: !n.json };
    }
    case 'copy':
    case 'add': {
      const defined: Record<string, 'string' | 'bool'> =
        cmd === 'copy'
          ? { from: 'string', chown: 'string', chmod: 'string', link: 'bool' }
          : { chown: 'string', chmod: 'string', link: 'bool', checksum: 'string', 'keep-git-dir': 'bool' };
      const flags = flagsOf(n, defined);
      if ((flags.get('checksum') ?? '') !== '') throw new ParseError('ADD --checksum requires BuildKit');
      refuseHeredoc(n);
      if (n.args.length < 2)
        throw new ParseError(
          `${cmd.toUpperCase()} requires at least two arguments, but only one was provided. Destination could not be determined.`,
        );
      return {
        ...base,
        kind: cmd,
        sources: n.args.slice(0, -1),
        dest: n.args[n.args.length - 1],
        from: flags.get('from') ?? '',
        chown: flags.get('chown') ?? '',
        chmod: flags.get('chmod') ?? '',
      };
    }
    case 'arg':
      return { ...base, kind: 'arg', args: parseArgPairs(n) };
    case 'shell':
      flagsOf(n, {});
      if (!n.json) throw new ParseError('SHELL requires the arguments to be in JSON form');
      if (n.args.length === 0) throw new ParseError('SHELL requires at least one argument');
      return { ...base, kind: 'shell', shell: n.args };
    case 'maintainer':
      flagsOf(n, {});
      if (n.args.length !== 1) throw new ParseError('MAINTAINER requires exactly one argument');
      return { ...base, kind: 'maintainer', maintainer: n.args[0] };
    default:
      return { ...base, kind: 'command', command: parseCommand(n) };
  }
}

function lineError(n: Node, err: ParseError): InvalidParameter {
  return new InvalidParameter(`dockerfile parse error line ${n.startLine}: ${err.message}`);
}

/** Parses a Dockerfile; every syntax error is a 400 naming the line, as dockerd's. */
export function parseStages(text: string): Dockerfile {
  let parsed: ReturnType<typeof parseDockerfile>;
  try {
    parsed = parseDockerfile(text);
  } catch (err) {
    if (err instanceof ParseError) throw new InvalidParameter(`failed to parse dockerfile: ${err.message}`);
    throw err;
  }
  const out: Dockerfile = { metaArgs: [], stages: [], escapeToken: parsed.escapeToken };
  for (const n of parsed.nodes) {
    try {
      const cmd = n.cmd.toLowerCase();
      if (cmd === 'from') {
        out.stages.push(parseFrom(n));
        continue;
      }
      if (out.stages.length === 0) {
        if (cmd !== 'arg') throw new ParseError('no build stage in current context');
        out.metaArgs.push({ original: n.original, line: n.startLine, args: parseArgPairs(n) });
        continue;
      }
      out.stages[out.stages.length - 1].commands.push(parseInstruction(n));
    } catch (err) {
      if (err instanceof ParseError) throw lineError(n, err);
      throw err;
    }
  }
  if (out.stages.length === 0) throw new InvalidParameter('dockerfile contains no stages to build');
  return out;
}

/** A single ONBUILD trigger, parsed as its own Dockerfile line. */
export function parseTrigger(expression: string): Instruction {
  let parsed: ReturnType<typeof parseDockerfile>;
  try {
    parsed = parseDockerfile(expression);
    if (parsed.nodes.length !== 1) throw new ParseError('onbuild trigger should be a single expression');
    return parseInstruction(parsed.nodes[0]);
  } catch (err) {
    if (err instanceof ParseError) throw new InvalidParameter(err.message);
    throw err;
  }
}
