// The admin API as the console uses it: the browser session's cookie goes
// with every request by itself; changes carry the session's CSRF token.
// Every call returns the parsed JSON body or throws an ApiError.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let csrf = null;

// Requests belong to the view that made them: a new view (or signing out)
// aborts what the previous one still waits for, so that a slow view can
// neither draw over a newer one nor call after the session ended.
let navigation = new AbortController();

export function newNavigation() {
  navigation.abort();
  navigation = new AbortController();
}

// The current view's signal: work that outlives a request (a poll loop)
// checks it to stop with its view.
export function viewSignal() {
  return navigation.signal;
}

export function aborted(e) {
  return e instanceof ApiError && e.status === -1;
}

export function setCsrf(token) {
  csrf = token;
}

export function call(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return send(method, path, body === undefined ? undefined : JSON.stringify(body), headers);
}

// Sends a file (a File or Blob) as the request body, as it is.
export function upload(path, file, headers) {
  return send("POST", path, file, { "Content-Type": "application/octet-stream", ...headers });
}

async function send(method, path, body, headers) {
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let reply;
  try {
    reply = await fetch(path, {
      method,
      headers,
      body,
      credentials: "same-origin",
      cache: "no-store",
      signal: navigation.signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw new ApiError(-1, "left before rumd answered");
    throw new ApiError(0, "rumd did not answer: " + e.message);
  }
  let json = null;
  const text = await reply.text();
  if (text) {
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new ApiError(reply.status, "rumd answered something that is not JSON");
    }
  }
  if (!reply.ok) {
    throw new ApiError(reply.status, (json && json.message) || reply.statusText);
  }
  return json;
}

export const get = (path) => call("GET", path);

// A text body (a report as the device sent it); errors as call().
export async function getText(path) {
  let reply;
  try {
    reply = await fetch(path, { credentials: "same-origin", cache: "no-store", signal: navigation.signal });
  } catch (e) {
    if (e.name === "AbortError") throw new ApiError(-1, "left before rumd answered");
    throw new ApiError(0, "rumd did not answer: " + e.message);
  }
  const text = await reply.text();
  if (!reply.ok) {
    let message = reply.statusText;
    try {
      message = JSON.parse(text).message || message;
    } catch (e) {
      // not JSON: the status text says enough
    }
    throw new ApiError(reply.status, message);
  }
  return text;
}

export function tenantPath(tenant, rest) {
  return "/api/v1/tenants/" + encodeURIComponent(tenant) + rest;
}
