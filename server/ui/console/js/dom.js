// DOM helpers. Everything that comes from the server or the user is put in
// the page as text (text nodes, textContent, input values), never parsed
// as HTML markup.

// el creates an element. attrs sets properties (className, type, value,
// onclick, ...) and data-* / aria-* attributes; children are nodes or
// strings (made text nodes); null and false children are skipped.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("data-") || k.startsWith("aria-") || k === "title" || k === "role" || k === "for") {
      node.setAttribute(k, String(v));
    } else {
      node[k] = v;
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// $ returns the element with the id.
export function $(id) {
  return document.getElementById(id);
}

// setStatus shows a message in a status line; kind is "", "ok" or "error".
export function setStatus(node, text, kind = "") {
  node.textContent = text;
  node.className = "status" + (kind ? " " + kind : "");
}

// debounce calls fn once no call came for ms milliseconds.
export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

// valueText prints a wire value as Polar does: User{"alice"}, "text", 7, true.
export function valueText(v) {
  if (v === null || v === undefined) return "_";
  if (v.type === null || v.type === undefined) return "_";
  if (v.id === null || v.id === undefined) return v.type + "{_}";
  switch (v.type) {
    case "String":
      return JSON.stringify(v.id);
    case "Integer":
    case "Boolean":
      return v.id;
    default:
      return v.type + "{" + JSON.stringify(v.id) + "}";
  }
}

// factText prints a wire fact: has_role(User{"alice"}, "owner", Organization{"acme"}).
export function factText(f) {
  return f.predicate + "(" + (f.args || []).map(valueText).join(", ") + ")";
}
