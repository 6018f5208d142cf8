// Facts written as Polar writes them, for context facts and queries:
//   has_role(User{"bob"}, "member", Organization{"acme"})
// Arguments: Type{"id"}, "a string", 42, true/false; in a query, _ (any
// value) and Type{_} (any value of the type).

// parseFact parses one fact into the wire form {predicate, args: [{type,
// id}]}; wildcards are null. It throws an Error saying what is wrong.
export function parseFact(text, { wildcards = false } = {}) {
  const p = new Parser(text.trim());
  const predicate = p.ident("a predicate name");
  p.expect("(");
  const args = [];
  p.space();
  if (!p.peek(")")) {
    for (;;) {
      args.push(p.arg(wildcards));
      p.space();
      if (p.peek(")")) break;
      p.expect(",");
    }
  }
  p.expect(")");
  p.space();
  if (p.peek(";")) p.i++;
  p.space();
  if (p.i < p.s.length) p.fail("unexpected text after the fact");
  return { predicate, args };
}

// parseFacts parses one fact per non-empty line (lines starting with #
// are comments); errors name the line.
export function parseFacts(text, opts) {
  const out = [];
  text.split("\n").forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith("#")) return;
    try {
      out.push(parseFact(t, opts));
    } catch (e) {
      throw new Error("line " + (i + 1) + ": " + e.message);
    }
  });
  return out;
}

class Parser {
  constructor(s) {
    this.s = s;
    this.i = 0;
  }
  fail(msg) {
    throw new Error(msg + " at column " + (this.i + 1));
  }
  space() {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }
  peek(c) {
    return this.s.startsWith(c, this.i);
  }
  expect(c) {
    this.space();
    if (!this.peek(c)) this.fail("expected " + JSON.stringify(c));
    this.i += c.length;
  }
  ident(what) {
    this.space();
    const m = /^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*/.exec(this.s.slice(this.i));
    if (!m) this.fail("expected " + what);
    this.i += m[0].length;
    return m[0];
  }
  string() {
    // A JSON string literal: Polar's escapes are JSON's.
    const rest = this.s.slice(this.i);
    const m = /^"(?:[^"\\]|\\.)*"/.exec(rest);
    if (!m) this.fail("unterminated string");
    this.i += m[0].length;
    try {
      return JSON.parse(m[0]);
    } catch {
      this.fail("bad string escape");
    }
  }
  arg(wildcards) {
    this.space();
    if (this.peek('"')) return { type: "String", id: this.string() };
    const num = /^-?[0-9]+/.exec(this.s.slice(this.i));
    if (num) {
      this.i += num[0].length;
      return { type: "Integer", id: String(Number(num[0])) };
    }
    const name = this.ident("a value");
    if (name === "true" || name === "false") return { type: "Boolean", id: name };
    if (name === "_") {
      if (!wildcards) this.fail("_ (any value) is only for queries");
      return { type: null, id: null };
    }
    this.expect("{");
    this.space();
    let id;
    if (this.peek("_") && wildcards) {
      this.i++;
      id = null;
    } else if (this.peek('"')) {
      id = this.string();
    } else {
      this.fail('expected "id"' + (wildcards ? " or _" : ""));
    }
    this.expect("}");
    return { type: name, id };
  }
}
