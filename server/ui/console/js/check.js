// Check: ask authorize, actions, list or a query, with context facts, and
// show the answer with its explanation (?explain=true): the facts used,
// stored or context, and the rule at file:line of each step; for a denial,
// the rules tried and where each failed.

import { $, el, factText, setStatus } from "./dom.js";
import { post } from "./api.js";
import { parseFact, parseFacts } from "./parse.js";
import { renderTree } from "./tree.js";

export function init() {
  $("check-kind").addEventListener("change", showFields);
  $("check-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    ask();
  });
  showFields();
}

export function show() {}

function showFields() {
  const kind = $("check-kind").value;
  for (const node of document.querySelectorAll("#check-form [data-kinds]")) {
    node.hidden = !node.dataset.kinds.split(" ").includes(kind);
  }
}

const v = (id) => $(id).value.trim();

async function ask() {
  const out = $("check-answer");
  const kind = $("check-kind").value;
  const status = el("p", { className: "status" });
  out.replaceChildren(status);
  try {
    const context_facts = parseFacts($("check-context").value);
    const actor = { actor_type: v("check-actor-type"), actor_id: v("check-actor-id") };
    if (kind === "authorize") {
      const q = { ...actor, action: v("check-action"), resource_type: v("check-resource-type"), resource_id: v("check-resource-id"), context_facts };
      const { body } = await post("/api/authorize?explain=true", q);
      out.replaceChildren(verdict(body.allowed, q), body.explanation ? renderTree(body.explanation) : null);
    } else if (kind === "actions") {
      const q = { ...actor, resource_type: v("check-resource-type"), resource_id: v("check-resource-id"), context_facts };
      const { body } = await post("/api/actions?explain=true", q);
      out.replaceChildren(results("actions allowed", body.results, body.explanation));
    } else if (kind === "list") {
      const q = { ...actor, action: v("check-action"), resource_type: v("check-resource-type"), context_facts };
      const { body } = await post("/api/list?explain=true", q);
      out.replaceChildren(results(q.resource_type + " resources allowed", body.results, body.explanation));
    } else {
      const fact = parseFact(v("check-query"), { wildcards: true });
      const { body } = await post("/api/query", { fact, context_facts });
      out.replaceChildren(queryResults(body.results, context_facts));
    }
  } catch (e) {
    setStatus(status, e.message, "error");
  }
}

function verdict(allowed, q) {
  return el(
    "div",
    { className: "verdict " + (allowed ? "allowed" : "denied"), id: "check-verdict" },
    el("span", { className: "badge" }, allowed ? "allowed" : "denied"),
    " ",
    el("code", {}, q.actor_type + '{"' + q.actor_id + '"} ' + q.action + " " + q.resource_type + '{"' + q.resource_id + '"}'),
  );
}

// results lists the ids or actions of an answer, each opening its derivation.
function results(what, ids, explanation) {
  const box = el("div", {}, el("p", { className: "verdict-count" }, ids.length + " " + what));
  if (!ids.length) return box;
  box.append(
    el(
      "ul",
      { className: "results" },
      ids.map((id) => {
        const x = explanation && explanation[id];
        return el("li", {}, x ? el("details", {}, el("summary", {}, el("code", {}, id)), renderTree(x)) : el("code", {}, id));
      }),
    ),
  );
  return box;
}

function queryResults(facts, context_facts) {
  const box = el("div", {}, el("p", { className: "verdict-count" }, facts.length + " matching facts"));
  box.append(
    el(
      "ul",
      { className: "results" },
      facts.map((f) => {
        const li = el("li", {}, el("code", {}, factText(f)));
        if (f.predicate === "allow" && f.args.length === 3 && f.args.every((a) => a.type !== null && a.id !== null)) {
          const slot = el("div");
          li.append(
            " ",
            el("button", {
              type: "button",
              className: "link",
              onclick: async () => {
                const [a, act, r] = f.args;
                const { body } = await post("/api/authorize?explain=true", {
                  actor_type: a.type, actor_id: a.id, action: act.id, resource_type: r.type, resource_id: r.id, context_facts,
                });
                slot.replaceChildren(renderTree(body.explanation));
              },
            }, "why?"),
            slot,
          );
        }
        return li;
      }),
    ),
  );
  return box;
}
