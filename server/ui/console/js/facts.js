// Facts: browse the stored facts by predicate and argument pattern, page by
// page (GET /api/facts with page_size and the Castellan-Next-Page-Token
// header), tell and delete (POST /api/batch, write scope), and the rules
// of the live policy that use a predicate (GET
// /api/policy_metadata?predicates=true).

import { $, el, factText, setStatus } from "./dom.js";
import { get, post } from "./api.js";

let uses = {}; // predicate -> [{arity, source, position}]
let tokens = [""]; // page tokens of the pages seen; the last is the current page's
let nextToken = "";

export function init() {
  addArg($("facts-pattern"), true);
  for (let i = 0; i < 3; i++) addArg($("tell-args"), false);
  $("facts-add-arg").addEventListener("click", () => addArg($("facts-pattern"), true));
  $("tell-add-arg").addEventListener("click", () => addArg($("tell-args"), false));
  $("facts-search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    tokens = [""];
    setStatus($("facts-status"), "");
    search();
  });
  $("facts-next").addEventListener("click", () => {
    tokens.push(nextToken);
    setStatus($("facts-status"), "");
    search();
  });
  $("facts-prev").addEventListener("click", () => {
    if (tokens.length > 1) tokens.pop();
    setStatus($("facts-status"), "");
    search();
  });
  $("facts-predicate").addEventListener("change", () => showUses($("facts-predicate").value.trim()));
  $("tell-predicate").addEventListener("change", () => showUses($("tell-predicate").value.trim()));
  $("facts-tell").addEventListener("submit", (ev) => {
    ev.preventDefault();
    tell();
  });
}

export function show() {
  loadPredicates();
  search();
}

// addArg adds a (type, id) row; a pattern row's empty fields match anything.
function addArg(box, pattern) {
  const n = box.children.length;
  const hint = pattern ? "any" : "";
  box.append(
    el(
      "div",
      { className: "arg" },
      el("span", { className: "argn" }, "arg " + n),
      el("input", { className: "arg-type", placeholder: pattern ? "type: any" : "Type", size: 14, "aria-label": "argument " + n + " type" }),
      el("input", { className: "arg-id", placeholder: pattern ? "id: " + hint : "id", size: 22, "aria-label": "argument " + n + " id" }),
    ),
  );
}

function argRows(box) {
  return [...box.querySelectorAll(".arg")].map((row) => ({
    type: row.querySelector(".arg-type").value.trim(),
    id: row.querySelector(".arg-id").value,
  }));
}

async function loadPredicates() {
  try {
    const { body } = await get("/api/policy_metadata", { predicates: "true" });
    uses = body.metadata.predicates || {};
  } catch {
    uses = {};
  }
  $("facts-predicates").replaceChildren(...Object.keys(uses).sort().map((p) => el("option", { value: p })));
  showUses($("facts-predicate").value.trim() || $("tell-predicate").value.trim());
}

function showUses(pred) {
  const list = $("facts-uses");
  $("uses-name").textContent = pred || "the predicate";
  if (!pred) {
    list.replaceChildren(el("li", { className: "none" }, "Pick a predicate to see the rules of the live policy that use it."));
    return;
  }
  const us = uses[pred];
  if (!us) {
    list.replaceChildren(el("li", { className: "none" }, "The live policy cannot use facts of " + pred + "."));
    return;
  }
  if (!us.length) {
    list.replaceChildren(el("li", { className: "none" }, "No rule uses " + pred + "."));
    return;
  }
  list.replaceChildren(
    ...us.map((u) =>
      el("li", {}, el("span", { className: "pos" }, u.position || "built in"), " ", el("code", {}, u.source), el("span", { className: "argn" }, " (" + pred + "/" + u.arity + ")")),
    ),
  );
}

// search shows the page of tokens' last token; a status already shown
// (what a delete did) stays.
async function search() {
  const status = $("facts-status");
  const params = { predicate: $("facts-predicate").value.trim(), page_size: $("facts-page-size").value || 25 };
  argRows($("facts-pattern")).forEach((a, i) => {
    if (a.type) params["args." + i + ".type"] = a.type;
    if (a.id) params["args." + i + ".id"] = a.id;
  });
  const token = tokens[tokens.length - 1];
  if (token) params.page_token = token;
  const tbody = $("facts-table").tBodies[0];
  try {
    const { body, headers } = await get("/api/facts", params);
    nextToken = headers.get("Castellan-Next-Page-Token") || "";
    tbody.replaceChildren(
      ...body.map((f) =>
        el(
          "tr",
          {},
          el("td", {}, el("code", { className: "fact" }, factText(f))),
          el("td", { className: "actions" }, el("button", { type: "button", className: "delete", onclick: () => remove(f) }, "Delete")),
        ),
      ),
    );
    if (!body.length) tbody.replaceChildren(el("tr", {}, el("td", { colSpan: 2, className: "none" }, "No fact matches.")));
    $("facts-page").textContent = "page " + tokens.length;
    $("facts-prev").disabled = tokens.length <= 1;
    $("facts-next").disabled = !nextToken;
  } catch (e) {
    setStatus(status, e.message, "error");
  }
  showUses(params.predicate);
}

function valueOf(a, i) {
  if (!a.type) throw new Error("argument " + i + ": a type is required (User, String, Integer, Boolean, ...)");
  return { type: a.type, id: a.id };
}

async function tell() {
  const status = $("tell-status");
  try {
    const predicate = $("tell-predicate").value.trim();
    if (!predicate) throw new Error("a predicate is required");
    const args = argRows($("tell-args"))
      .filter((a) => a.type || a.id)
      .map(valueOf);
    const fact = { predicate, args };
    const { body } = await post("/api/batch", [{ inserts: [fact] }]);
    setStatus(status, "Told " + factText(fact) + " — " + body.message, "ok");
    showUses(predicate);
    search();
  } catch (e) {
    setStatus(status, e.message, "error");
  }
}

async function remove(f) {
  const status = $("facts-status");
  try {
    const { body } = await post("/api/batch", [{ deletes: [f] }]);
    setStatus(status, "Deleted " + factText(f) + " — " + body.message, "ok");
    search();
  } catch (e) {
    setStatus(status, e.message, "error");
  }
}
