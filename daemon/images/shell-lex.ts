// Dockerfile word processing: quote removal, escapes and $VAR / ${VAR...} substitution, with the
// semantics of buildkit's frontend/dockerfile/shell lexer (the one dockerd uses for `changes`).
// Error texts follow buildkit's, since dockerd returns them verbatim.

import { re2, type RE2JS } from '../../lib/re2';
import { goQuote } from '../../lib/go-quote';

const EOF = '';

function isSpace(ch: string): boolean {
  // Go's unicode.IsSpace.
  return /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u.test(ch);
}

function isLetterOrDigit(ch: string): boolean {
  return /^[\p{L}\p{Nd}]$/u.test(ch);
}

function isDigit(ch: string): boolean {
  return /^\p{Nd}$/u.test(ch);
}

function isSpecialParam(ch: string): boolean {
  return '@*#?-$!0'.includes(ch) && ch !== '';
}

/** Collects the words of ProcessWords: unquoted whitespace (also inside variable values) splits. */
class Words {
  private buf = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buf.length > 0) {
        this.words.push(this.buf);
        this.buf = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }
  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  finish(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

export class ShellLexError extends Error {}

export type EnvLookup = (name: string) => string | undefined;

/** Builds a lookup over "KEY=value" entries (later entries win, as in a Go map built in order). */
export function envLookupFromList(env: readonly string[] | null | undefined): EnvLookup {
  const map = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf('=');
    if (i < 0) map.set(e, '');
    else map.set(e.slice(0, i), e.slice(i + 1));
  }
  return (name) => map.get(name);
}

class Scanner {
  private readonly chars: string[];
  private pos = 0;
  constructor(text: string) {
    this.chars = Array.from(text);
  }
  peek(): string {
    return this.pos < this.chars.length ? this.chars[this.pos] : EOF;
  }
  next(): string {
    return this.pos < this.chars.length ? this.chars[this.pos++] : EOF;
  }
}

class ShellWord {
  private rawEscapes = false;
  constructor(
    private readonly sc: Scanner,
    private readonly escapeToken: string,
    private readonly env: EnvLookup,
  ) {}

  process(stopChar: string, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      return this.processStopOn(stopChar);
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processStopOn(stopChar: string): { result: string; words: string[] } {
    let result = '';
    const words = new Words();
    while (this.sc.peek() !== EOF) {
      const ch = this.sc.peek();
      if (stopChar !== EOF && ch === stopChar) {
        this.sc.next();
        return { result, words: words.finish() };
      }
      if (ch === '$') {
        const tmp = this.processDollar();
        result += tmp;
        words.addString(tmp);
      } else if (ch === '<') {
        const tmp = this.processPossibleHeredoc();
        result += tmp;
        words.addRawString(tmp);
      } else if (ch === "'") {
        const tmp = this.processSingleQuote();
        result += tmp;
        words.addRawString(tmp);
      } else if (ch === '"') {
        const tmp = this.processDoubleQuote();
        result += tmp;
        words.addRawString(tmp);
      } else {
        let c = this.sc.next();
        if (c === this.escapeToken) {
          if (this.rawEscapes) {
            words.addRawChar(c);
            result += c;
          }
          c = this.sc.next();
          if (c === EOF) break;
          words.addRawChar(c);
        } else {
          words.addChar(c);
        }
        result += c;
      }
    }
    if (stopChar !== EOF) {
      throw new ShellLexError(`unexpected end of statement while looking for matching ${stopChar}`);
    }
    return { result, words: words.finish() };
  }

  private processSingleQuote(): string {
    this.sc.next();
    let result = '';
    for (;;) {
      const ch = this.sc.next();
      if (ch === EOF) throw new ShellLexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return result;
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    this.sc.next();
    let result = '';
    for (;;) {
      const p = this.sc.peek();
      if (p === EOF) throw new ShellLexError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        this.sc.next();
        return result;
      }
      if (p === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.sc.next();
      if (ch === this.escapeToken) {
        if (this.rawEscapes) result += ch;
        const q = this.sc.peek();
        if (q === EOF) continue;
        if (q === '"' || q === '$' || q === this.escapeToken) ch = this.sc.next();
      }
      result += ch;
    }
  }

  private processPossibleHeredoc(): string {
    this.sc.next();
    if (this.sc.peek() !== '<') return '<';
    this.sc.next();
    let space = '';
    while (this.sc.peek() === ' ' || this.sc.peek() === '\t') space += this.sc.next();
    return '<<' + space;
  }

  private processName(): string {
    let name = '';
    while (this.sc.peek() !== EOF) {
      const ch = this.sc.peek();
      if (name.length === 0 && isDigit(ch)) {
        while (this.sc.peek() !== EOF && isDigit(this.sc.peek())) name += this.sc.next();
        return name;
      }
      if (name.length === 0 && isSpecialParam(ch)) return this.sc.next();
      if (!isLetterOrDigit(ch) && ch !== '_') break;
      name += this.sc.next();
    }
    return name;
  }

  private processDollar(): string {
    this.sc.next();
    if (this.sc.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      return this.env(name) ?? '';
    }
    this.sc.next();
    const first = this.sc.peek();
    if (first === EOF) throw new ShellLexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ShellLexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.sc.next();
    // Go prints the EOF rune as U+FFFD in its messages.
    let chs = ch === EOF ? '\ufffd' : ch;
    let nullIsUnset = false;
    if (ch === '}') return this.env(name) ?? '';
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.sc.next();
      chs += ch === EOF ? '\ufffd' : ch;
    }
    // After ':' any character takes this branch (Go's fallthrough); unknown ones fail below.
    if (nullIsUnset || ch === '+' || ch === '-' || ch === '?' || ch === '#' || ch === '%') {
      const raw = ch === '#' || ch === '%';
      if (nullIsUnset && raw) throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
      let word: string;
      try {
        word = this.process('}', raw).result;
      } catch (err) {
        if (this.sc.peek() === EOF) throw new ShellLexError("syntax error: missing '}'");
        throw err;
      }
      const value = this.env(name);
      const set = value !== undefined;
      switch (ch) {
        case '-':
          return !set || (nullIsUnset && value === '') ? word : value;
        case '+':
          return !set || (nullIsUnset && value === '') ? '' : word;
        case '?':
          if (!set) throw new ShellLexError(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
          if (nullIsUnset && value === '') throw new ShellLexError(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
          return value;
        case '#':
        case '%': {
          let greedy = false;
          if (word.length > 0 && word[0] === ch) {
            greedy = true;
            word = word.slice(1);
          }
          return ch === '%' ? trimSuffix(word, value ?? '', greedy) : trimPrefix(word, value ?? '', greedy);
        }
        default:
          throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
      }
    }
    if (ch === '/') {
      const replaceAll = this.sc.peek() === '/';
      if (replaceAll) this.sc.next();
      let pattern: string;
      try {
        pattern = this.process('/', true).result;
      } catch (err) {
        if (this.sc.peek() === EOF) throw new ShellLexError("syntax error: missing '/' in ${}");
        throw err;
      }
      let replacement: string;
      try {
        replacement = this.process('}', true).result;
      } catch (err) {
        if (this.sc.peek() === EOF) throw new ShellLexError("syntax error: missing '}'");
        throw err;
      }
      const value = this.env(name) ?? '';
      const m = shellPatternToRegex(pattern, true, false).matcher(value);
      const repl = re2().quoteReplacement(replacement);
      return replaceAll ? m.replaceAll(repl) : m.replaceFirst(repl);
    }
    throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
  }
}

// Compiled with re2js (linear time): `*a*a*a*b`-style patterns come from clients (--change) and
// would backtrack polynomially in a JS RegExp.
function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean): RE2JS {
  const toks = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < toks.length; i++) {
    let tok = toks[i];
    if (tok === '*') {
      out += greedy ? '.*' : '.*?';
      continue;
    }
    if (tok === '?') {
      out += '.';
      continue;
    }
    if (tok === '\\') {
      const nx = toks[i + 1];
      if (nx === '}' || nx === '/') continue;
      out += '\\';
      i++;
      tok = toks[i] ?? '';
      if (tok !== '*' && tok !== '?' && tok !== '\\') {
        throw new ShellLexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${tok}'`);
      }
    } else if ('[]{}.+()|^$'.includes(tok)) {
      out += '\\';
    }
    out += tok;
  }
  return re2().compile(out);
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegex(pattern, greedy, true).matcher(value);
  return m.find() ? value.slice(m.end()) : value;
}

function reversePattern(pattern: string): string {
  const p = Array.from(pattern);
  const out: string[] = new Array<string>(p.length);
  const last = p.length - 1;
  for (let i = 0; i <= last;) {
    const outIdx = last - i;
    if (p[i] === '\\' && i !== last) {
      out[outIdx - 1] = p[i];
      out[outIdx] = p[i + 1];
      i += 2;
    } else {
      out[outIdx] = p[i];
      i++;
    }
  }
  return out.join('');
}

function reverseString(s: string): string {
  return Array.from(s).reverse().join('');
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

function wrap(source: string, fn: () => { result: string; words: string[] }): { result: string; words: string[] } {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ShellLexError) throw new ShellLexError(`failed to process ${goQuote(source)}: ${err.message}`);
    throw err;
  }
}

/** ProcessWord: the single expanded string (quotes removed, no word splitting). */
export function processWord(word: string, env: EnvLookup, escapeToken = '\\'): string {
  return wrap(word, () => new ShellWord(new Scanner(word), escapeToken, env).process(EOF, false)).result;
}

/** ProcessWords: expanded and split into words (EXPOSE "$PORTS" -> ["80", "443"]). */
export function processWords(word: string, env: EnvLookup, escapeToken = '\\'): string[] {
  return wrap(word, () => new ShellWord(new Scanner(word), escapeToken, env).process(EOF, false)).words;
}
