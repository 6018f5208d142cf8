// The console's one way to the server: the public HTTP API, with the key
// kept in sessionStorage (this tab only: not kept on disk, never a cookie).

const KEY = "castellan.key";

export function getKey() {
  return sessionStorage.getItem(KEY);
}

export function setKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

// APIError is a non-2xx answer: its envelope's message, code and details.
export class APIError extends Error {
  constructor(status, body) {
    super((body && body.message) || "HTTP " + status);
    this.status = status;
    this.code = body && body.code;
    this.details = (body && body.details) || [];
  }
}

// call sends one request and returns {body, headers}; a non-2xx answer
// throws an APIError. body is sent as JSON when given.
export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const key = getKey();
  if (key) headers.Authorization = "Bearer " + key;
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
  }
  if (!res.ok) throw new APIError(res.status, data);
  return { body: data, headers: res.headers, status: res.status };
}

// get is call("GET", path with the query parameters of params, dropping
// empty ones).
export function get(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return call("GET", s ? path + "?" + s : path);
}

export function post(path, body) {
  return call("POST", path, body);
}
