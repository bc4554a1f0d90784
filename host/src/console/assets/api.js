// The admin API, called with the token the operator signed in with. The token lives in this
// tab's sessionStorage only: closing the tab signs out, and it never goes into a URL.

const KEY = "plaza.console.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

function headers(extra = {}) {
  // Tells the server the change came from the console (its audit log records `via`).
  const h = { ...extra, "X-Plaza-Client": "console" };
  const tk = token();
  if (tk) h.Authorization = `Bearer ${tk}`;
  return h;
}

// `api("GET", "/accounts")` → the parsed JSON; throws ApiError with the server's typed error.
export async function api(method, path, body, tokenOverride) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (tokenOverride) init.headers.Authorization = `Bearer ${tokenOverride}`;
  if (body !== undefined) init.body = JSON.stringify(body);
  let resp;
  try {
    resp = await fetch(`/api/v1${path}`, init);
  } catch (e) {
    throw new ApiError(0, "network", String(e));
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(resp.status, err.code || "http_" + resp.status, err.message || text);
  }
  return data;
}

export const enc = encodeURIComponent;

// A page outside the admin API (a plugin's operator page under `/p/…`), fetched with the token
// so the plugin sees an operator; returns its text, throws ApiError like `api`.
export async function fetchPage(path) {
  let resp;
  try {
    resp = await fetch(path, { headers: headers() });
  } catch (e) {
    throw new ApiError(0, "network", String(e));
  }
  const text = await resp.text();
  if (!resp.ok) {
    let err = {};
    try {
      err = JSON.parse(text).error || {};
    } catch {}
    throw new ApiError(resp.status, err.code || "http_" + resp.status, err.message || text);
  }
  return text;
}

// Reads a server-sent-events response with `fetch` (EventSource cannot send the Authorization
// header) and calls `onEvent({event, id, data})` for each event until `signal` aborts. Returns
// when the stream ends; throws when it cannot be opened.
export async function stream(path, onEvent, signal) {
  const resp = await fetch(`/api/v1${path}`, { headers: headers({ Accept: "text/event-stream" }), signal });
  if (!resp.ok) {
    let err = {};
    try {
      err = (await resp.json()).error || {};
    } catch {}
    throw new ApiError(resp.status, err.code || "http_" + resp.status, err.message || "");
  }
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
      const ev = { event: "message", id: null, data: "" };
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (!line || line.startsWith(":")) continue;
        const at = line.indexOf(":");
        const field = at < 0 ? line : line.slice(0, at);
        const val = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
        if (field === "event") ev.event = val;
        else if (field === "id") ev.id = val;
        else if (field === "data") data.push(val);
      }
      if (data.length) {
        ev.data = data.join("\n");
        onEvent(ev);
      }
    }
  }
}
