// JSON request bodies decoded with the error texts of Go's encoding/json Decoder, because
// dockerd's clients (and their tests) see those texts in 400 responses: "invalid character 'x'
// looking for beginning of value", "unexpected EOF", ...
//
// The scanner only validates and finds where the first value ends; JSON.parse builds it.

export class JsonSyntaxError extends Error {}

/** Result of decoding the first JSON value of a body, like json.Decoder.Decode + More. */
export interface DecodedJson {
  value: unknown;
  /** True when non-space content other than ']' or '}' follows the value (Decoder.More). */
  trailing: boolean;
}

/** Decodes the first value of `text`. Throws 'EOF' (empty) or a Go-worded JsonSyntaxError. */
export function decodeGoJson(text: string): DecodedJson | 'EOF' {
  const s = new Scanner(text);
  s.skipSpace();
  if (s.pos >= text.length) return 'EOF';
  const start = s.pos;
  s.value('looking for beginning of value');
  const end = s.pos;
  s.skipSpace();
  const next = text[s.pos];
  const trailing = next !== undefined && next !== ']' && next !== '}';
  return { value: JSON.parse(text.slice(start, end)), trailing };
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

class Scanner {
  pos = 0;
  constructor(private readonly text: string) {}

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

  value(context: string): void {
    this.skipSpace();
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object();
      case '[':
        return this.array();
      case '"':
        return this.string();
      case 't':
        return this.literal('true');
      case 'f':
        return this.literal('false');
      case 'n':
        return this.literal('null');
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        this.fail(context);
    }
  }

  private object(): void {
    this.pos++; // {
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail('looking for beginning of object key string');
      this.string();
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail('after object key');
      this.pos++;
      this.value('looking for beginning of value');
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return;
      }
      this.fail('after object key:value pair');
    }
  }

  private array(): void {
    this.pos++; // [
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (;;) {
      this.value('looking for beginning of value');
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === ']') {
        this.pos++;
        return;
      }
      this.fail('after array element');
    }
  }

  private string(): void {
    this.pos++; // opening quote
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('');
      if (c === '"') {
        this.pos++;
        return;
      }
      if (c === '\\') {
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

  private number(): void {
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
