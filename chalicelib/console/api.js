// The console talks to OrderHub's public JSON API only, with the key the person signed in
// with: kept in sessionStorage (this tab only), sent as a bearer header, never in a URL.
const KEY = "orderhub.key";

// `/console` lives at the API's own base (`/api/console` behind an API Gateway stage).
export const base = location.pathname.replace(/\/console\/?$/, "");

export function key() {
  return sessionStorage.getItem(KEY);
}

export function signIn(value) {
  sessionStorage.setItem(KEY, value);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.error) || "error";
  }
}

export async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${key()}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(base + path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    cache: "no-store",
    credentials: "omit",
  });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { error: "not_json", message: text.slice(0, 200) };
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export function query(params) {
  const found = Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined);
  return found.length ? "?" + new URLSearchParams(found).toString() : "";
}
