// Decisions: the decision log (GET /admin/v1/decisions, admin scope),
// filtered and paged newest first; each entry opens its record and its
// explanation (the one recorded, or asked again under the live policy).

import { $, el, setStatus, valueText } from "./dom.js";
import { get, post } from "./api.js";
import { parseFacts } from "./parse.js";
import { renderTree } from "./tree.js";

let pageTokens = [""];
let next = "";
let records = [];

export function init() {
  $("decisions-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    pageTokens = [""];
    load();
  });
  $("dec-next").addEventListener("click", () => {
    pageTokens.push(next);
    load();
  });
  $("dec-first").addEventListener("click", () => {
    pageTokens = [""];
    load();
  });
}

export function show() {
  load();
}

const val = (id) => $(id).value.trim();

async function load() {
  const status = $("dec-status");
  const tbody = $("dec-table").tBodies[0];
  $("dec-detail").replaceChildren();
  const params = {
    actor: val("dec-actor"), action: val("dec-action"), resource: val("dec-resource"), result: val("dec-result"),
    caller: val("dec-caller"), since: val("dec-since"), limit: val("dec-limit"), page_token: pageTokens[pageTokens.length - 1],
  };
  try {
    const { body } = await get("/admin/v1/decisions", params);
    records = body.decisions;
    next = body.next_page_token || "";
    tbody.replaceChildren(...records.map(row));
    if (!records.length) tbody.replaceChildren(el("tr", {}, el("td", { colSpan: 8, className: "none" }, "No decision matches.")));
    setStatus(status, "");
  } catch (e) {
    records = [];
    next = "";
    tbody.replaceChildren();
    setStatus(status, e.message, "error");
  }
  $("dec-next").disabled = !next;
  $("dec-first").disabled = pageTokens.length <= 1;
}

function result(r) {
  if (r.error) return el("span", { className: "fails" }, "error");
  if (r.allowed === true) return el("span", { className: "holds" }, "allowed");
  if (r.allowed === false) return el("span", { className: "fails" }, "denied");
  if (r.count !== undefined) return r.count + " results";
  return "";
}

// shortTime prints an RFC 3339 time as "2026-12-05 13:46:16.958" (UTC).
function shortTime(t) {
  return (t || "").replace("T", " ").replace(/(\.\d{1,3})\d*/, "$1").replace("Z", "");
}

function row(r) {
  const tr = el(
    "tr",
    { className: "clickable", tabIndex: 0, "data-seq": r.seq },
    el("td", { className: "time" }, shortTime(r.time)),
    el("td", {}, r.endpoint || ""),
    el("td", {}, r.caller || ""),
    el("td", {}, r.actor ? valueText(r.actor) : ""),
    el("td", {}, r.action || ""),
    el("td", {}, r.resource ? valueText(r.resource) : r.resource_type || ""),
    el("td", {}, result(r)),
    el("td", {}, "v" + r.policy_version),
  );
  const open = () => detail(r, tr);
  tr.addEventListener("click", open);
  tr.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") open();
  });
  return tr;
}

function detail(r, tr) {
  for (const other of $("dec-table").querySelectorAll("tr.selected")) other.classList.remove("selected");
  tr.classList.add("selected");
  const box = $("dec-detail");
  const parts = [el("h2", {}, "Decision " + r.seq + (r.request_id ? " · request " + r.request_id : ""))];
  if (r.explanation) {
    parts.push(el("h3", {}, "Explanation (recorded)"), renderTree(r.explanation));
  } else if (r.endpoint === "authorize" && r.actor && r.resource && r.action) {
    const slot = el("div");
    parts.push(
      el("p", {}, "The request did not ask for an explanation, so none was recorded. ",
        el("button", { type: "button", onclick: () => explainNow(r, slot) }, "Explain under the live policy"),
        " (facts and policy may have changed since v" + r.policy_version + ", revision " + r.revision + ")."),
      slot,
    );
  }
  parts.push(el("h3", {}, "Record"), el("pre", { className: "record" }, JSON.stringify(r, null, 2)));
  box.replaceChildren(...parts);
  box.scrollIntoView({ block: "nearest" });
}

async function explainNow(r, slot) {
  try {
    // The record keeps the context facts sent (when the log keeps them).
    const context_facts = r.context_facts ? parseFacts(r.context_facts.join("\n")) : [];
    const { body } = await post("/api/authorize?explain=true", {
      actor_type: r.actor.type, actor_id: r.actor.id, action: r.action, resource_type: r.resource.type, resource_id: r.resource.id, context_facts,
    });
    slot.replaceChildren(el("p", {}, "Now: ", el("strong", {}, body.allowed ? "allowed" : "denied")), renderTree(body.explanation));
  } catch (e) {
    slot.replaceChildren(el("p", { className: "status error" }, e.message));
  }
}
