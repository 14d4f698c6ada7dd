// JSON API client: session cookie + X-CSRF-Token header, errors as ApiError
// with the server's sentence, and submits retried with the same idempotency key.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `The server answered ${status}.`);
    this.status = status;
    this.body = body || {};
  }
}

export class NetworkError extends Error {}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export async function api(method, path, body, options = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method, headers, body: payload, credentials: "same-origin", signal: options.signal,
    });
  } catch (err) {
    throw new NetworkError("The server could not be reached.");
  }
  if (response.status === 401) {
    window.location.href = `/login?next=${encodeURIComponent(location.pathname)}`;
    throw new ApiError(401, { detail: "Your session has ended; log in again." });
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try { data = JSON.parse(text); } catch (err) { data = { detail: text.slice(0, 200) }; }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, data, headers: response.headers };
}

// The answer's JSON body alone, for pages that need neither its status nor its headers.
export async function apiData(method, path, body) {
  return (await api(method, path, body)).data;
}

// crypto.randomUUID needs a secure context; a LAN install over plain HTTP has
// only getRandomValues, which is enough for a 122-bit v4 key.
export function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Network failures and 5xx/429 are retried with the same body (so the same
// idempotency key): the server stores one judgement however many arrive.
export async function postWithRetry(path, body, onRetry, attempts = 5) {
  let delay = 800;
  for (let attempt = 1; ; attempt++) {
    try {
      return await api("POST", path, body);
    } catch (err) {
      const transient = err instanceof NetworkError ||
        (err instanceof ApiError && (err.status >= 500 || err.status === 429) && err.status !== 501);
      if (!transient || attempt >= attempts) throw err;
      if (onRetry) onRetry(attempt, err);
      await sleep(delay);
      delay = Math.min(delay * 2, 8000);
    }
  }
}

export async function renderMarkdown(texts) {
  if (!texts.length) return [];
  const { data } = await api("POST", "/markdown", { texts });
  return data.html;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "html") node.innerHTML = v; // only ever sanitised server HTML
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function notice(target, kind, text) {
  target.className = `notice ${kind}`;
  target.textContent = text;
}

export function fmtDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
