// The console: a key, then four pages (Policy, Facts, Check, Decisions)
// switched by the URL's hash. Every page calls only the public API.

import { $, setStatus } from "./dom.js";
import { call, forgetKey, getKey, setKey } from "./api.js";
import * as policy from "./policy.js";
import * as facts from "./facts.js";
import * as check from "./check.js";
import * as decisions from "./decisions.js";

const pages = { policy, facts, check, decisions };
const inited = new Set();

function route() {
  const signedIn = getKey() !== null;
  $("nav").hidden = !signedIn;
  $("forget").hidden = !signedIn;
  $("login").hidden = signedIn;
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
  const page = pages[name] ? name : "policy";
  for (const p of Object.keys(pages)) $("page-" + p).hidden = !signedIn || p !== page;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("current", a.dataset.page === page);
  }
  if (!signedIn) {
    $("login-key").focus();
    return;
  }
  document.title = "Castellan · " + page;
  if (!inited.has(page)) {
    inited.add(page);
    pages[page].init();
  }
  pages[page].show();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const key = $("login-key").value.trim();
  setKey(key);
  const status = $("login-status");
  try {
    // Any scope may read the stats: the key works.
    await call("GET", "/api/stats");
    $("login-key").value = "";
    setStatus(status, "");
    route();
  } catch (e) {
    forgetKey();
    setStatus(status, "The server refused the key: " + e.message, "error");
  }
});

$("forget").addEventListener("click", () => {
  forgetKey();
  route();
});

window.addEventListener("hashchange", route);
route();
