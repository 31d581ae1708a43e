// .dockerignore: the file's lines as moby/buildkit's ignorefile.ReadAll reads them, and the
// patterns matched as moby/patternmatcher does (`*` and `?` within one path element, `**` across
// any number, `[...]` classes, `\` escapes, `!` exceptions, the last matching pattern deciding, a
// file excluded when it or one of its parent directories matches). Patterns become RE2
// expressions, matched in linear time whatever a client writes.
import * as path from 'node:path';
import { re2, type RE2JS } from '../../lib/re2';
import { InvalidParameter } from '../../lib/errors';

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** ignorefile.ReadAll: comments and blanks dropped, patterns cleaned and made relative. */
export function readIgnoreFile(text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let pattern = lines[i].replace(/\r$/, '');
    if (i === 0 && pattern.startsWith('\ufeff')) pattern = pattern.slice(1);
    if (pattern.startsWith('#')) continue;
    pattern = pattern.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push(invert ? `!${pattern}` : pattern);
  }
  return out;
}

interface Pattern {
  exclusion: boolean;
  re: RE2JS;
}

const SHOULD_ESCAPE = '.+()|{}$';

/** patternmatcher's Pattern.compile: the pattern as an anchored regular expression. */
function compilePattern(pattern: string): RE2JS {
  let re = '^';
  const chars = Array.from(pattern);
  let i = 0;
  while (i < chars.length) {
    const ch = chars[i++];
    if (ch === '*') {
      if (chars[i] === '*') {
        i++;
        if (chars[i] === '/') i++; // "**/" is "**"
        re += i >= chars.length ? '.*' : '(.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if (SHOULD_ESCAPE.includes(ch)) {
      re += `\\${ch}`;
    } else if (ch === '\\') {
      if (i < chars.length) re += `\\${chars[i++]}`;
      else re += '\\\\';
    } else {
      re += ch;
    }
  }
  re += '$';
  return re2().compile(re, re2().DOTALL);
}

/** A compiled .dockerignore (patternmatcher.New). */
export class PatternMatcher {
  private readonly patterns: Pattern[] = [];

  constructor(patterns: readonly string[]) {
    for (const raw of patterns) {
      let p = raw.trim();
      if (p === '') continue;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) throw new InvalidParameter('illegal exclusion pattern: "!"');
        exclusion = true;
        p = p.slice(1);
      }
      let re: RE2JS;
      try {
        re = compilePattern(p);
      } catch {
        throw new InvalidParameter('syntax error in pattern');
      }
      this.patterns.push({ exclusion, re });
    }
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether some pattern is an exception (`!`): an excluded directory may then hold kept files. */
  get hasExclusions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /** MatchesOrParentMatches: `file` is a clean relative path with `/` separators. */
  matchesOrParentMatches(file: string): boolean {
    let matched = false;
    const parent = path.posix.dirname(file);
    const parentDirs = parent.split('/');
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue;
      let match = p.re.matches(file);
      if (!match && parent !== '.') {
        for (let i = 0; i < parentDirs.length && !match; i++) match = p.re.matches(parentDirs.slice(0, i + 1).join('/'));
      }
      if (match) matched = !p.exclusion;
    }
    return matched;
  }
}
