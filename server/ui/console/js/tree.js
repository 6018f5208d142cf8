// The explanation tree of a decision, as the API sends it with
// ?explain=true: each step is a goal that holds or fails, proved by a rule
// (its source and file:line:col) from premises, or by a fact (stored or
// context); for a denial, the rules tried and what failed.

import { el } from "./dom.js";

// renderTree returns a tree of nested lists for an explanation.
export function renderTree(x) {
  return el("ul", { className: "tree" }, node(x, 0));
}

// node renders one step; a rule tried for its parent's goal (the API
// repeats the goal in each entry of "tried") shows the rule alone.
function node(x, depth, parentGoal) {
  if (!x) return null;
  const mark = el("span", { className: x.holds ? "holds" : "fails" }, x.holds ? "✓" : "✗");
  const line = el("div", { className: "step" }, mark);
  if (x.goal !== parentGoal || !x.rule) line.append(" ", el("code", {}, x.goal));
  if (x.fact) {
    line.append(" ", el("span", { className: "origin origin-" + x.fact.origin }, x.fact.origin + " fact"));
  }
  if (x.rule) {
    const by = x.goal === parentGoal ? "rule " : "by ";
    line.append(" ", el("span", { className: "by" }, by), el("code", { className: "rule" }, x.rule.source));
    if (x.rule.position) line.append(" ", el("span", { className: "pos" }, "at " + x.rule.position));
  }
  if (x.failed) line.append(" ", el("span", { className: "failed" }, "failed: " + x.failed));
  const li = el("li", {}, line);
  const kids = [];
  for (const p of x.premises || []) kids.push(node(p, depth + 1));
  if (kids.length) li.append(el("ul", {}, kids));
  if ((x.tried || []).length) {
    li.append(
      el("div", { className: "tried-label" }, "tried:"),
      el("ul", { className: "tried" }, x.tried.map((t) => node(t, depth + 1, x.goal))),
    );
  }
  return li;
}
