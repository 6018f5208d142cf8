// Policy: an editor for the live policy, validated as you type (POST
// /api/policy/validate compiles it and runs its tests without activating
// it), errors and warnings marked at their line with their hint, upload,
// and the history of versions with a diff and rollback (activate).

import { $, debounce, el, setStatus } from "./dom.js";
import { APIError, call, get, post } from "./api.js";
import { diffLines, hunks } from "./diff.js";

let src; // the textarea
let gutter;
let marks;
let problems = []; // [{line, column, message, hint, severity}]
let validateSeq = 0;
let loaded = false;

export function init() {
  src = $("policy-src");
  gutter = document.querySelector("#policy-editor .gutter");
  marks = document.querySelector("#policy-editor .marks");
  const later = debounce(validate, 350);
  src.addEventListener("input", () => {
    paint();
    later();
  });
  src.addEventListener("scroll", syncScroll);
  src.addEventListener("keydown", (ev) => {
    if (ev.key === "Tab" && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();
      src.setRangeText("  ", src.selectionStart, src.selectionEnd, "end");
      src.dispatchEvent(new Event("input"));
    }
  });
  $("policy-reload").addEventListener("click", loadLive);
  $("policy-test").addEventListener("click", () => validate({ scroll: true }));
  $("policy-upload").addEventListener("click", () => upload());
  $("diff-show").addEventListener("click", showDiff);
  paint();
}

export function show() {
  if (!loaded) {
    loaded = true;
    loadLive();
  }
  loadHistory();
}

async function loadLive() {
  const status = $("policy-status");
  try {
    const { body } = await get("/api/policy");
    if (body.policy) {
      src.value = body.policy.src;
      $("policy-filename").value = body.policy.filename || "policy.polar";
      setStatus(status, "Loaded the live policy.");
    } else {
      setStatus(status, "No policy yet: write one and upload it.");
    }
    paint();
    validate();
  } catch (e) {
    setStatus(status, e.message, "error");
  }
}

function candidate() {
  return { filename: $("policy-filename").value.trim() || "policy.polar", src: src.value };
}

// validate sends the editor's text to the validate endpoint; answers to
// older texts are dropped.
async function validate(opts = {}) {
  const seq = ++validateSeq;
  const status = $("policy-status");
  try {
    const { body } = await post("/api/policy/validate", candidate());
    if (seq !== validateSeq) return;
    problems = [
      ...body.errors.map((p) => ({ ...p, severity: "error" })),
      ...body.warnings.map((p) => ({ ...p, severity: "warning" })),
    ];
    const failed = body.tests.filter((t) => t.passed !== t.total).length;
    for (const t of body.tests) {
      for (const f of t.failures) problems.push({ ...f, severity: "error", hint: "", message: 'test "' + t.name + '": ' + f.message });
    }
    renderProblems();
    renderTests(body.tests, body.errors.length > 0);
    paint();
    if (body.errors.length) {
      setStatus(status, count(body.errors.length, "error") + ": not valid", "error");
    } else if (failed) {
      setStatus(status, count(failed, "test") + " failed", "error");
    } else {
      const n = body.tests.length;
      setStatus(status, "Valid" + (n ? "; " + (n === 1 ? "the test passes" : "all " + n + " tests pass") : "; no tests") + ".", "ok");
    }
    if (opts.scroll) $("policy-tests").scrollIntoView({ block: "nearest" });
  } catch (e) {
    if (seq === validateSeq) setStatus(status, e.message, "error");
  }
}

async function upload(force = false) {
  const status = $("policy-status");
  setStatus(status, "Uploading…");
  try {
    const { body } = await post("/api/policy", force === true ? { ...candidate(), force: true } : candidate());
    setStatus(status, body.message, "ok");
    loadHistory();
  } catch (e) {
    setStatus(status, "Refused: " + e.message, "error");
    if (e instanceof APIError && e.code === "policy_needs_force") {
      // The server says what the policy would do; the user may insist.
      status.append(" ", el("button", { type: "button", id: "policy-force", onclick: () => upload(true) }, "Upload anyway"));
    }
    if (e instanceof APIError && e.details.length) {
      problems = e.details.map((d) => ({ ...d, severity: "error", hint: d.hint || "", message: d.test ? 'test "' + d.test + '": ' + d.message : d.message }));
      renderProblems();
      paint();
    }
  }
}

function count(n, what) {
  return n + " " + what + (n === 1 ? "" : "s");
}

// paint redraws the line numbers and, in a layer under the transparent
// textarea, each line's marks and the messages next to it.
function paint() {
  const lines = src.value.split("\n");
  const byLine = new Map();
  const file = $("policy-filename").value.trim() || "policy.polar";
  for (const p of problems) {
    if (p.file && p.file !== file) continue;
    if (!byLine.has(p.line)) byLine.set(p.line, []);
    byLine.get(p.line).push(p);
  }
  gutter.replaceChildren(
    ...lines.map((_, i) => {
      const ps = byLine.get(i + 1);
      const cls = ps ? (ps.some((p) => p.severity === "error") ? "bad" : "warn") : "";
      return el("div", { className: cls, "data-line": i + 1 }, String(i + 1));
    }),
  );
  marks.replaceChildren(
    ...lines.map((text, i) => {
      const ps = byLine.get(i + 1);
      const line = el("div", { className: "line", "data-line": i + 1 }, el("span", { className: "txt" }, text || " "));
      if (ps) {
        line.classList.add(ps.some((p) => p.severity === "error") ? "bad" : "warn");
        for (const p of ps) {
          line.append(
            el("span", { className: "note " + p.severity }, "  ← " + p.line + ":" + p.column + " " + p.message + (p.hint ? " (hint: " + p.hint + ")" : "")),
          );
        }
      }
      return line;
    }),
  );
  syncScroll();
}

function syncScroll() {
  marks.scrollTop = src.scrollTop;
  marks.scrollLeft = src.scrollLeft;
  gutter.scrollTop = src.scrollTop;
}

function renderProblems() {
  const list = $("policy-problems");
  if (!problems.length) {
    list.replaceChildren(el("li", { className: "none" }, "No problems."));
    return;
  }
  list.replaceChildren(
    ...problems.map((p) =>
      el(
        "li",
        { className: p.severity },
        el("button", { type: "button", className: "link pos", onclick: () => goTo(p.line, p.column) }, (p.file ? p.file + ":" : "") + p.line + ":" + p.column),
        " ",
        el("span", { className: "sev" }, p.severity),
        " ",
        p.message,
        p.hint ? el("div", { className: "hint" }, "hint: " + p.hint) : null,
      ),
    ),
  );
}

function renderTests(tests, notCompiled) {
  const list = $("policy-tests");
  if (notCompiled) {
    list.replaceChildren(el("li", { className: "none" }, "The tests run once the policy compiles."));
    return;
  }
  if (!tests.length) {
    list.replaceChildren(el("li", { className: "none" }, "The policy has no test blocks."));
    return;
  }
  list.replaceChildren(
    ...tests.map((t) => {
      const ok = t.passed === t.total;
      return el(
        "li",
        { className: ok ? "pass" : "fail" },
        el("span", { className: ok ? "holds" : "fails" }, ok ? "✓ passed" : "✗ failed"),
        " ",
        el("button", { type: "button", className: "link pos", onclick: () => goTo(t.line, t.column) }, t.line + ":" + t.column),
        " test ",
        el("strong", {}, t.name),
        " (" + t.passed + "/" + t.total + " assertions)",
        ...t.failures.map((f) => el("div", { className: "hint" }, f.line + ":" + f.column + " " + f.message)),
      );
    }),
  );
}

// goTo puts the cursor at line:col.
function goTo(line, col) {
  const lines = src.value.split("\n");
  let off = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) off += lines[i].length + 1;
  off += Math.max(0, col - 1);
  src.focus();
  src.setSelectionRange(off, off);
  const lh = parseFloat(getComputedStyle(src).lineHeight) || 18;
  src.scrollTop = Math.max(0, (line - 5) * lh);
}

let history = [];

async function loadHistory() {
  const body = $("policy-history").tBodies[0];
  try {
    // Every version, page by page (the listing is paginated).
    history = [];
    let token = "";
    do {
      const res = await get("/admin/v1/policies", { limit: 1000, page_token: token });
      history.push(...res.body.policies);
      token = res.body.next_page_token || "";
    } while (token);
  } catch (e) {
    body.replaceChildren(el("tr", {}, el("td", { colSpan: 5, className: "none" }, e.status === 403 ? "The history needs an admin key." : e.message)));
    return;
  }
  if (!history.length) {
    body.replaceChildren(el("tr", {}, el("td", { colSpan: 5, className: "none" }, "No version uploaded yet.")));
  } else {
    body.replaceChildren(
      ...history.map((v) =>
        el(
          "tr",
          { "data-version": v.version, className: v.live ? "live" : "" },
          el("td", {}, "v" + v.version, v.live ? el("span", { className: "badge" }, "live") : null),
          el("td", {}, v.created_at.replace("T", " ").replace("Z", "")),
          el("td", {}, v.created_by),
          el("td", {}, v.files.join(", ")),
          el(
            "td",
            { className: "actions" },
            el("button", { type: "button", onclick: () => openVersion(v.version) }, "Open"),
            v.live ? null : el("button", { type: "button", className: "activate", onclick: () => activate(v.version) }, v.version < liveVersion() ? "Roll back" : "Activate"),
          ),
        ),
      ),
    );
  }
  fillDiffSelect($("diff-a"), history[1] ? history[1].version : "editor");
  fillDiffSelect($("diff-b"), "editor");
}

function liveVersion() {
  const v = history.find((h) => h.live);
  return v ? v.version : 0;
}

function fillDiffSelect(sel, dflt) {
  const prev = sel.value;
  sel.replaceChildren(
    el("option", { value: "editor" }, "the editor"),
    ...history.map((v) => el("option", { value: String(v.version) }, "v" + v.version + (v.live ? " (live)" : ""))),
  );
  sel.value = prev && [...sel.options].some((o) => o.value === prev) ? prev : String(dflt);
}

async function versionSource(v) {
  if (v === "editor") return src.value;
  const { body } = await get("/admin/v1/policies/" + encodeURIComponent(v));
  if (body.files.length === 1) return body.files[0].src;
  return body.files.map((f) => "# file: " + f.filename + "\n" + f.src).join("\n");
}

async function openVersion(v) {
  const status = $("policy-status");
  try {
    src.value = await versionSource(String(v));
    setStatus(status, "Opened version " + v + " in the editor (not live until uploaded or activated).");
    paint();
    validate();
  } catch (e) {
    setStatus(status, e.message, "error");
  }
}

async function activate(v) {
  const status = $("policy-status");
  try {
    await call("POST", "/admin/v1/policies/" + encodeURIComponent(v) + "/activate");
    await loadHistory();
    await loadLive(); // the editor shows what is live now
    setStatus(status, "Version " + v + " is live; the editor shows it.", "ok");
  } catch (e) {
    setStatus(status, "Activating version " + v + " failed: " + e.message, "error");
  }
}

async function showDiff() {
  const out = $("policy-diff");
  const a = $("diff-a").value;
  const b = $("diff-b").value;
  try {
    const [ta, tb] = await Promise.all([versionSource(a), versionSource(b)]);
    const label = (v) => (v === "editor" ? "the editor" : "v" + v);
    const lines = diffLines(ta, tb);
    const changed = lines.some(([k]) => k !== " ");
    out.replaceChildren(
      el("div", { className: "diff-head" }, "--- " + label(a) + "\n+++ " + label(b)),
      ...(changed
        ? hunks(lines).map(([k, l]) =>
            k === "…"
              ? el("div", { className: "skip" }, "… " + l + " unchanged line" + (l === 1 ? "" : "s"))
              : el("div", { className: k === "+" ? "add" : k === "-" ? "del" : "same" }, k + " " + l),
          )
        : [el("div", { className: "same" }, "(no difference)")]),
    );
  } catch (e) {
    out.replaceChildren(el("div", { className: "del" }, e.message));
  }
}
