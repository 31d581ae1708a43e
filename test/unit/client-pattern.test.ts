import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  compileClientPattern,
  MAX_PATTERN_LENGTH,
  PatternSyntaxError,
  PatternTooLong,
  tryCompileClientPattern,
} from '../../daemon/client-pattern';
import { InvalidParameter } from '../../lib/errors';
import { Filters } from '../../api/filters';
import { processWord } from '../../daemon/images/shell-lex';

// Each of these makes a backtracking engine take exponential (or high polynomial) time on the
// inputs below; with a JS RegExp these calls would not return within the test's lifetime.
const PATHOLOGICAL: Array<[string, string]> = [
  ['^([0-9a-f]+)+x$', '0123456789abcdef'.repeat(4) + '0'],
  ['(a+)+$', 'a'.repeat(50_000) + 'b'],
  ['(a|aa)+$', 'a'.repeat(50_000) + 'b'],
  ['(.*a){20}$', 'a'.repeat(20_000) + 'b'],
  ['^(\\w+\\s?)*$', 'word '.repeat(10_000) + '!'],
];

test('pathological patterns return (linear-time engine)', () => {
  for (const [p, input] of PATHOLOGICAL) {
    assert.equal(compileClientPattern(p).test(input), false, p);
  }
});

test('Go semantics: a match anywhere unless anchored; inline flags; Go syntax errors', () => {
  assert.equal(compileClientPattern('net').test('mynetwork'), true);
  assert.equal(compileClientPattern('^net').test('mynetwork'), false);
  assert.equal(compileClientPattern('(?i)NET').test('mynetwork'), true);
  assert.equal(compileClientPattern('^a.c$').test('abc'), true);
  // Perl lookahead and backreferences are not Go syntax
  assert.throws(() => compileClientPattern('(?=a)'), PatternSyntaxError);
  assert.throws(() => compileClientPattern('(a)\\1'), PatternSyntaxError);
  assert.throws(() => compileClientPattern('('), /error parsing regexp: missing closing \)/);
  assert.throws(() => compileClientPattern('a{1001}'), /invalid repeat count/);
  assert.equal(tryCompileClientPattern('('), null);
});

test('overlong pattern is an InvalidParameter (400)', () => {
  assert.doesNotThrow(() => compileClientPattern('a'.repeat(MAX_PATTERN_LENGTH)));
  assert.throws(
    () => compileClientPattern('a'.repeat(MAX_PATTERN_LENGTH + 1)),
    (e: unknown) => {
      assert.ok(e instanceof PatternTooLong && e instanceof InvalidParameter);
      return true;
    },
  );
  assert.throws(() => tryCompileClientPattern('('.repeat(MAX_PATTERN_LENGTH + 1)), PatternTooLong);
});

test('Filters.match: regexes with Go semantics, bad ones match nothing, overlong is a 400', () => {
  const f = Filters.fromJSON(JSON.stringify({ id: ['^([0-9a-f]+)+x$', '('], name: ['^br'] }));
  const id = '0123456789abcdef'.repeat(4);
  assert.equal(f.match('id', id), false);
  assert.equal(f.match('name', 'bridge'), true);
  assert.equal(f.match('name', 'host'), false);
  const long = Filters.fromJSON(JSON.stringify({ name: ['x'.repeat(MAX_PATTERN_LENGTH + 1)] }));
  assert.throws(() => long.match('name', 'bridge'), InvalidParameter);
});

test('fuzz: any short pattern over a small alphabet compiles or is refused, and always returns', () => {
  const atom = fc.constantFrom('a', 'b', '.', '(', ')', '+', '*', '?', '|', '^', '$', '[ab]', '{2,}', '\\w');
  fc.assert(
    fc.property(fc.array(atom, { maxLength: 24 }), fc.string({ maxLength: 2000 }), (parts, s) => {
      const re = tryCompileClientPattern(parts.join(''));
      if (re) assert.equal(typeof re.test(s + 'a'.repeat(2000)), 'boolean');
    }),
    { numRuns: 300 },
  );
});

test('shell-word patterns of --change (${X#…}, ${X/…/…}) are matched in linear time', () => {
  const x = 'a'.repeat(20_000);
  const env = (name: string): string | undefined => (name === 'X' ? x : undefined);
  // Each `*` was `.*` in a backtracking RegExp: polynomial in the input with one power per star.
  assert.equal(processWord('${X#*a*a*a*a*a*a*a*b}', env), x);
  assert.equal(processWord('${X//*a*a*a*a*a*a*b/Z}', env), x);
  assert.equal(processWord('${X%%a*}', env), '');
});
