// JSON request bodies decoded with the error texts of Go's encoding/json Decoder, because
// dockerd's clients (and their tests) see those texts in 400 responses: "invalid character 'x'
// looking for beginning of value", "unexpected EOF", ...
//
// The parser keeps an explicit stack (no recursion), so a hostile body nested a million deep
// cannot overflow the call stack; nesting is bounded as Go bounds it (10000 levels, then
// "invalid character '[' exceeded max depth"). In exact mode numbers stay as their text (GoNumber), so int64 fields
// can be decoded without the rounding of doubles.

export class JsonSyntaxError extends Error {}

/** Go's encoding/json maxNestingDepth. */
export const MAX_JSON_DEPTH = 10000;

/** A JSON number kept as its literal text (exact mode). */
export class GoNumber {
  constructor(readonly text: string) {}
}

/** Result of decoding the first JSON value of a body, like json.Decoder.Decode + More. */
export interface DecodedJson {
  value: unknown;
  /** True when non-space content other than ']' or '}' follows the value (Decoder.More). */
  trailing: boolean;
}

/**
 * Decodes the first value of `text`. Throws 'EOF' (empty) or a Go-worded JsonSyntaxError.
 * With `exact`, every number is a GoNumber holding its text instead of a double.
 */
export function decodeGoJson(text: string, opts: { exact?: boolean } = {}): DecodedJson | 'EOF' {
  const s = new Parser(text, opts.exact === true);
  s.skipSpace();
  if (s.pos >= text.length) return 'EOF';
  const value = s.parse();
  s.skipSpace();
  const next = text[s.pos];
  const trailing = next !== undefined && next !== ']' && next !== '}';
  return { value, trailing };
}

/** Go's quoteChar: how the offending character appears in the message. */
function quoteChar(c: string): string {
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f', '\v': '\\v', '\x07': '\\a' };
    return `'${named[c] ?? '\\x' + code.toString(16).padStart(2, '0')}'`;
  }
  return `'${c}'`;
}

type Frame = { obj: Record<string, unknown>; key: string } | { arr: unknown[] };

/** Sets a key as JSON.parse does: "__proto__" becomes an own property, never the prototype. */
function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

class Parser {
  pos = 0;
  constructor(
    private readonly text: string,
    private readonly exact: boolean,
  ) {}

  private fail(context: string): never {
    const c = this.text[this.pos];
    if (c === undefined) throw new JsonSyntaxError('unexpected EOF');
    throw new JsonSyntaxError(`invalid character ${quoteChar(c)} ${context}`);
  }

  skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') break;
      this.pos++;
    }
  }

  /** Reads `"key" :` after a '{' or ','; returns the key. */
  private key(): string {
    this.skipSpace();
    if (this.text[this.pos] !== '"') this.fail('looking for beginning of object key string');
    const k = this.string();
    this.skipSpace();
    if (this.text[this.pos] !== ':') this.fail('after object key');
    this.pos++;
    return k;
  }

  private open(stack: Frame[]): void {
    // Go pushes a parse state for every '{' or '[' and fails past maxNestingDepth.
    if (stack.length >= MAX_JSON_DEPTH) this.fail('exceeded max depth');
  }

  parse(): unknown {
    const stack: Frame[] = [];
    let context = 'looking for beginning of value';
    for (;;) {
      this.skipSpace();
      const c = this.text[this.pos];
      let v: unknown;
      switch (c) {
        case '{': {
          this.open(stack);
          this.pos++;
          this.skipSpace();
          if (this.text[this.pos] === '}') {
            this.pos++;
            v = {};
            break;
          }
          stack.push({ obj: {}, key: this.key() });
          context = 'looking for beginning of value';
          continue;
        }
        case '[': {
          this.open(stack);
          this.pos++;
          this.skipSpace();
          if (this.text[this.pos] === ']') {
            this.pos++;
            v = [];
            break;
          }
          stack.push({ arr: [] });
          context = 'looking for beginning of value';
          continue;
        }
        case '"':
          v = this.string();
          break;
        case 't':
          this.literal('true');
          v = true;
          break;
        case 'f':
          this.literal('false');
          v = false;
          break;
        case 'n':
          this.literal('null');
          v = null;
          break;
        default:
          if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) v = this.number();
          else this.fail(context);
      }
      // A value is complete: attach it to its container and close containers that end here.
      for (;;) {
        const top = stack[stack.length - 1];
        if (top === undefined) return v;
        this.skipSpace();
        const n = this.text[this.pos];
        if ('arr' in top) {
          top.arr.push(v);
          if (n === ',') {
            this.pos++;
            break;
          }
          if (n !== ']') this.fail('after array element');
          this.pos++;
          v = top.arr;
        } else {
          setKey(top.obj, top.key, v);
          if (n === ',') {
            this.pos++;
            top.key = this.key();
            break;
          }
          if (n !== '}') this.fail('after object key:value pair');
          this.pos++;
          v = top.obj;
        }
        stack.pop();
      }
      context = 'looking for beginning of value';
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++; // opening quote
    let plain = true;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('');
      if (c === '"') {
        this.pos++;
        break;
      }
      if (c === '\\') {
        plain = false;
        this.pos++;
        const e = this.text[this.pos];
        if (e === 'u') {
          this.pos++;
          for (let i = 0; i < 4; i++) {
            const h = this.text[this.pos];
            if (h === undefined || !/[0-9a-fA-F]/.test(h)) this.fail('in \\u hexadecimal character escape');
            this.pos++;
          }
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail('in string escape code');
        this.pos++;
        continue;
      }
      if (c < ' ') this.fail('in string literal');
      this.pos++;
    }
    // The literal is validated; JSON.parse of one flat string cannot recurse.
    return plain ? this.text.slice(start + 1, this.pos - 1) : (JSON.parse(this.text.slice(start, this.pos)) as string);
  }

  private literal(word: string): void {
    this.pos++;
    for (let i = 1; i < word.length; i++) {
      if (this.text[this.pos] !== word[i]) this.fail(`in literal ${word} (expecting ${quoteChar(word[i])})`);
      this.pos++;
    }
  }

  private digits(): number {
    const start = this.pos;
    while (this.pos < this.text.length && this.text[this.pos] >= '0' && this.text[this.pos] <= '9') this.pos++;
    return this.pos - start;
  }

  private number(): number | GoNumber {
    const start = this.pos;
    if (this.text[this.pos] === '-') {
      this.pos++;
      const c = this.text[this.pos];
      if (c === undefined || c < '0' || c > '9') this.fail('in numeric literal');
    }
    if (this.text[this.pos] === '0') this.pos++;
    else this.digits();
    if (this.text[this.pos] === '.') {
      this.pos++;
      if (this.digits() === 0) this.fail('after decimal point in numeric literal');
    }
    const e = this.text[this.pos];
    if (e === 'e' || e === 'E') {
      this.pos++;
      const sign = this.text[this.pos];
      if (sign === '+' || sign === '-') this.pos++;
      if (this.digits() === 0) this.fail('in exponent of numeric literal');
    }
    const literal = this.text.slice(start, this.pos);
    return this.exact ? new GoNumber(literal) : Number(literal);
  }
}

/** Go mime.ParseMediaType's checks; returns the lower-cased media type or an error text. */
export function parseMediaType(contentType: string): { mediaType: string } | { error: string } {
  const semi = contentType.indexOf(';');
  const base = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  const tokenRe = /^[!#$%&'*+\-.^_`|~0-9a-z]+/;
  const typ = tokenRe.exec(base)?.[0] ?? '';
  if (typ === '') return { error: 'mime: no media type' };
  let rest = base.slice(typ.length);
  if (rest !== '') {
    if (!rest.startsWith('/')) return { error: 'mime: expected slash after first token' };
    const sub = tokenRe.exec(rest.slice(1))?.[0] ?? '';
    if (sub === '') return { error: 'mime: expected token after slash' };
    rest = rest.slice(1 + sub.length);
    if (rest !== '') return { error: 'mime: unexpected content after media subtype' };
  }
  if (semi !== -1) {
    const seen = new Set<string>();
    for (const part of contentType.slice(semi + 1).split(';')) {
      const p = part.trim();
      if (p === '') continue;
      const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)=("(?:[^"\\]|\\.)*"|[!#$%&'*+\-.^_`|~0-9A-Za-z]+)$/.exec(p);
      if (!m) return { error: 'mime: invalid media parameter' };
      const key = m[1].toLowerCase();
      if (seen.has(key)) return { error: 'mime: duplicate parameter name' };
      seen.add(key);
    }
  }
  return { mediaType: base };
}
