// Shared pieces of the console's views: the signed-in state, DOM building
// (text is only ever set as text, never parsed as HTML), formatting in the
// viewer's locale and time zone, and links within the page.

export const state = { session: null, tenant: null, tenants: [] };

const ROLES = { reader: 1, operator: 2, admin: 3 };

// Whether the signed-in role may do what needs `role` (the server checks
// anyway: the page only leaves out what would be refused).
export function may(role) {
  return (ROLES[state.session && state.session.role] || 0) >= ROLES[role];
}

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// Replaces the page's content; the "rumd:view-shown" mark tells when a view
// first rendered (the browser benchmark reads it).
export function show(...nodes) {
  document.getElementById("main").replaceChildren(...nodes);
  performance.mark("rumd:view-shown");
}

export function say(text, isError) {
  const status = document.getElementById("status");
  status.textContent = text || "";
  status.classList.toggle("error", Boolean(isError));
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
export const numberFormat = new Intl.NumberFormat();

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : dateFormat.format(d);
}

export function day(iso) {
  const d = new Date(iso);
  return isNaN(d) ? iso : dayFormat.format(d);
}

export function days(iso) {
  if (!iso) return "";
  const n = Math.round((new Date(iso) - Date.now()) / 86400000);
  if (n === 0) return "today";
  return n > 0 ? `in ${n} day${n === 1 ? "" : "s"}` : `${-n} day${n === -1 ? "" : "s"} ago`;
}

export function time(iso) {
  return iso ? el("time", { datetime: iso, title: iso }, when(iso)) : "—";
}

export function count(n, unit) {
  return `${numberFormat.format(n)} ${unit}${n === 1 ? "" : "s"}`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function link(path, params, ...children) {
  const q = params ? new URLSearchParams(params).toString() : "";
  return el("a", { href: "#" + path + (q ? "?" + q : "") }, ...children);
}

// A table with a header row; an empty `rows` gives the `empty` text instead.
export function table(id, caption, headers, rows, empty) {
  if (!rows.length) return el("p", { class: "empty" }, empty);
  return el("table", { class: "list", id },
    caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
}

// Runs `action` for a button: disabled meanwhile, the outcome said below
// (nothing when the user went to another view meanwhile).
export async function press(button, action) {
  button.disabled = true;
  try {
    await action();
  } catch (e) {
    if (!(e instanceof Error && e.status === -1)) say(e.message, true);
  } finally {
    button.disabled = false;
  }
}
