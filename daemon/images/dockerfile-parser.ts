// The Dockerfile grammar, as buildkit's frontend/dockerfile/parser reads it: line continuations,
// comments, the escape directive, builder flags, JSON and shell forms. Used by `--change`
// (changes.ts); error texts are buildkit's.

import { goQuote } from '../../lib/go-quote';

interface Directives {
  escapeToken: string;
  continuation: RegExp;
  done: boolean;
  seen: Set<string>;
}

/** One parsed instruction. `args` is what buildkit calls nodeArgs. */
export interface Node {
  cmd: string;
  flags: string[];
  args: string[];
  json: boolean;
  original: string;
  /** 1-based line of the instruction's first line (0 for ONBUILD's inner node). */
  startLine: number;
}

export class ParseError extends Error {}

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
function logicalLines(text: string, d: Directives): { text: string; line: number }[] {
  const raw = text.split('\n');
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  if (raw.length > 0 && raw[0].startsWith('\ufeff')) raw[0] = raw[0].slice(1);
  const out: { text: string; line: number }[] = [];
  let i = 0;
  while (i < raw.length) {
    const start = i + 1;
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
    out.push({ text: buf, line: start });
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

function newNodeFromLine(line: string, d: Directives, startLine = 0): Node {
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
  return { cmd, flags, args, json, original: line, startLine };
}

/** Parses the joined changes into instruction nodes (parser.Parse), and the escape token. */
export function parseDockerfile(text: string): { nodes: Node[]; escapeToken: string } {
  const d: Directives = { escapeToken: '\\', continuation: /$^/, done: false, seen: new Set() };
  setEscapeToken(d, '\\');
  const nodes = logicalLines(text, d).map((l) => newNodeFromLine(l.text, d, l.line));
  if (nodes.length === 0) throw new ParseError('file with no instructions');
  return { nodes, escapeToken: d.escapeToken };
}
