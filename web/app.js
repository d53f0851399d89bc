// The rumd admin console: plain DOM, no framework. Every view reads the
// documented admin API (/api/v1) with the browser session's own rights;
// text from the server is only ever set as text (never as HTML).
import {
  aborted, ApiError, call, get, getText, newNavigation, setCsrf, tenantPath,
} from "./api.js";
import { airGapView } from "./airgap.js";
import { adminView } from "./admin.js";
import { collectButton, targetsView, targetView } from "./targets.js";
import { usageSection } from "./usage.js";
import {
  count, day, days, el, link, may, numberFormat, press, say, show, state, time,
} from "./ui.js";

const main = document.getElementById("main");

const STATES = [
  ["all", "All devices"],
  ["overdue", "Overdue"],
  ["due", "Due soon"],
  ["ack_pending", "ACK pending"],
  ["never_reported", "Never reported"],
  ["failing", "Collection failing"],
];
const SORTS = [
  ["id", "First seen"],
  ["deadline", "Next deadline"],
  ["last_contact", "Last contact"],
  ["hostname", "Hostname"],
];
const STATE_TEXT = {
  ok: "OK",
  overdue: "Overdue",
  due_soon: "Due soon",
  ack_pending: "ACK pending",
  never_reported: "Never reported",
};

function hashParams() {
  const [path, query] = location.hash.slice(1).split("?");
  return { path: path || "/overview", params: new URLSearchParams(query || "") };
}

// --- signing in and out -------------------------------------------------

// The session's cookie is HttpOnly: the page cannot see it. This second
// cookie, which holds nothing secret, tells the page whether asking the
// server who it is can succeed, so that a first visit makes no failing call.
const HINT = "rumd_signed_in";

function hint(on) {
  document.cookie = on ? `${HINT}=1; path=/; SameSite=Strict`
    : `${HINT}=; path=/; SameSite=Strict; max-age=0`;
}

function hinted() {
  return document.cookie.split(/;\s*/).includes(`${HINT}=1`);
}

function signInView(message) {
  document.getElementById("nav").hidden = true;
  const user = el("input", { id: "user", name: "user", autocomplete: "username" });
  const password = el("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password",
  });
  const token = el("input", {
    id: "token", name: "token", type: "password", autocomplete: "off",
    placeholder: "rumd_…", spellcheck: "false",
  });
  const error = el("p", { class: "error", role: "alert" }, message || "");
  const form = el("form", { class: "card signin", onsubmit: async (e) => {
    e.preventDefault();
    const body = token.value.trim()
      ? { token: token.value.trim() }
      : { user: user.value.trim(), password: password.value };
    try {
      const s = await call("POST", "/api/v1/session", body);
      password.value = "";
      token.value = "";
      await started(s);
    } catch (err) {
      error.textContent = err.message;
      (token.value ? token : password).focus();
    }
  } },
  el("h1", {}, "Sign in to rumd"),
  el("label", { for: "user" }, "User"), user,
  el("label", { for: "password" }, "Password"), password,
  el("p", { class: "or" }, "or with an admin API token"),
  el("label", { for: "token" }, "Token"), token,
  el("button", { type: "submit", id: "signin" }, "Sign in"),
  error);
  show(form);
  user.focus();
}

async function signOut() {
  newNavigation();
  try {
    await call("DELETE", "/api/v1/session");
  } catch (e) {
    // Already ended: the sign-in page is where we go either way.
  }
  setCsrf(null);
  hint(false);
  state.session = null;
  signInView("Signed out.");
}

async function started(session) {
  hint(true);
  state.session = session;
  setCsrf(session.csrf_token);
  const { tenants } = await get("/api/v1/tenants");
  state.tenants = tenants.map((t) => t.name);
  const saved = sessionStorage.getItem("rumd.tenant");
  state.tenant = state.tenants.includes(saved) ? saved : state.tenants[0] || null;
  const select = document.getElementById("tenant");
  select.replaceChildren(...state.tenants.map((t) => el("option", { value: t }, t)));
  select.value = state.tenant || "";
  document.getElementById("who").textContent = `${session.actor} · ${session.role}`;
  document.getElementById("nav").hidden = false;
  await route();
}

// --- views --------------------------------------------------------------

async function overviewView() {
  const t = state.tenant;
  const [o, usage] = await Promise.all([get(tenantPath(t, "/overview")), usageSection(t)]);
  const d = o.devices;
  const card = (label, n, unit, params, tone) =>
    link("/devices", params, el("div", { class: "stat " + (n > 0 && tone ? tone : "") },
      el("span", { class: "n" }, numberFormat.format(n)),
      el("span", { class: "label" }, label),
      el("span", { class: "unit" }, unit)));
  const cards = el("div", { class: "stats" },
    card("Devices", d.total, "product instances", { state: "all" }),
    card("Heard of today", d.contacted_last_day, "in the last 24 hours", { sort: "last_contact" }),
    card("Overdue", d.overdue, "deadline passed", { state: "overdue", sort: "deadline" }, "bad"),
    card("Due soon", d.due_soon, `within ${o.due_days} days`, { state: "due", sort: "deadline" }, "warn"),
    card("ACK pending", d.ack_pending, "exported, no ACK yet", { state: "ack_pending" }, "warn"),
    card("Never reported", d.never_reported, "no report stored", { state: "never_reported" }, "warn"),
    card("Collection failing", d.collection_failing, "pull target failing", { state: "failing" }, "bad"));
  const verdict = d.overdue + d.collection_failing > 0
    ? el("p", { class: "verdict bad" }, `Needs attention: ${count(d.overdue, "overdue device")}, ${count(d.collection_failing, "failing collection")}.`)
    : d.total === 0
      ? el("p", { class: "verdict" }, "No devices yet. Point a device at ",
        el("code", {}, `http://${location.host}/cslu/v1/pi/${encodeURIComponent(t)}`),
        " (license smart url cslu …), or add a pull target with rumd target add.")
      : el("p", { class: "verdict good" }, "Nothing is overdue and no collection is failing.");
  const alerts = el("p", { class: "alerts" }, link("/alerts", null,
    `Open alerts: ${numberFormat.format(o.alerts.open)}`),
    ` (${numberFormat.format(o.alerts.critical)} critical, ${numberFormat.format(o.alerts.unacknowledged)} not acknowledged).`);
  const next = o.next_deadlines.length
    ? el("table", { class: "list" },
      el("caption", {}, "Next reporting deadlines"),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Device"), el("th", { scope: "col" }, "Product"), el("th", { scope: "col" }, "Deadline"), el("th", { scope: "col" }, ""))),
      el("tbody", {}, o.next_deadlines.map((n) => el("tr", {},
        el("td", {}, link("/device/" + n.device_id, null, n.hostname || n.udi_sn)),
        el("td", {}, `${n.udi_pid} / ${n.udi_sn}`),
        el("td", {}, time(n.next_deadline)),
        el("td", {}, days(n.next_deadline))))))
    : el("p", {}, "No reporting deadline is coming up.");
  const asOf = o.as_of
    ? el("p", { class: "alerts" }, "Counted at ", time(o.as_of), ": a tenant this large is counted in the background, not on each visit.")
    : null;
  show(el("h1", {}, `Overview of ${t}`), verdict, cards, asOf, alerts, next, usage);
}

async function devicesView(params) {
  const t = state.tenant;
  const q = new URLSearchParams();
  for (const k of ["state", "sort", "q", "cursor"]) {
    if (params.get(k)) q.set(k, params.get(k));
  }
  q.set("limit", "50");
  const page = await get(tenantPath(t, "/devices?" + q));
  const filter = el("select", { id: "state", name: "state" },
    STATES.map(([v, label]) => el("option", { value: v }, label)));
  filter.value = params.get("state") || "all";
  const sort = el("select", { id: "sort", name: "sort" },
    SORTS.map(([v, label]) => el("option", { value: v }, label)));
  sort.value = params.get("sort") || "id";
  const search = el("input", {
    id: "search", name: "q", type: "search", value: params.get("q") || "",
    placeholder: "serial, hostname or PID prefix",
  });
  const form = el("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    const p = {};
    if (filter.value !== "all") p.state = filter.value;
    if (sort.value !== "id") p.sort = sort.value;
    if (search.value.trim()) p.q = search.value.trim();
    location.hash = "#/devices" + (Object.keys(p).length ? "?" + new URLSearchParams(p) : "");
  } },
  el("label", { for: "state" }, "Show"), filter,
  el("label", { for: "sort" }, "Sort by"), sort,
  el("label", { for: "search" }, "Search"), search,
  el("button", { type: "submit" }, "Apply"));
  const rows = page.devices.map((d) => el("tr", { "data-device": d.id },
    el("td", {}, link("/device/" + d.id, null, d.hostname || d.udi_sn)),
    el("td", {}, `${d.udi_pid} / ${d.udi_sn}`),
    el("td", {}, el("span", { class: "state " + d.state }, STATE_TEXT[d.state] || d.state)),
    el("td", {}, d.method || "—"),
    el("td", {}, time(d.last_contact)),
    el("td", {}, time(d.next_deadline), " ", el("small", {}, days(d.next_deadline))),
    el("td", { class: "num" }, `${numberFormat.format(d.reports.stored)} / ${numberFormat.format(d.reports.not_exported)} / ${numberFormat.format(d.reports.exported_unacknowledged)}`)));
  const table = rows.length
    ? el("table", { class: "list", id: "devices" },
      el("thead", {}, el("tr", {}, ["Device", "Product / serial", "State", "Reports by", "Last contact", "Next deadline", "Reports stored / not exported / no ACK"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows))
    : el("p", { class: "empty" }, params.get("q") || params.get("state")
      ? "No device matches. Try another filter or search."
      : "No devices yet: they appear here as soon as one pushes usage or is collected.");
  const nav = el("p", { class: "pages" });
  if (params.get("cursor")) {
    const first = Object.fromEntries([...params].filter(([k]) => k !== "cursor"));
    nav.append(link("/devices", first, "First page"), " ");
  }
  if (page.next_cursor) {
    const next = Object.fromEntries(params);
    next.cursor = page.next_cursor;
    nav.append(link("/devices", next, "Next page"));
  }
  show(el("h1", {}, `Devices of ${t}`), form, table, nav);
}

async function deviceView(id) {
  const t = state.tenant;
  const d = await get(tenantPath(t, "/devices/" + encodeURIComponent(id)));
  const row = (k, ...v) => [el("dt", {}, k), el("dd", {}, ...v)];
  const details = el("dl", { class: "details" },
    row("State", el("span", { class: "state " + d.state }, STATE_TEXT[d.state] || d.state)),
    row("Next deadline", time(d.next_deadline), " ", days(d.next_deadline)),
    row("Product / serial", `${d.udi_pid} / ${d.udi_sn}`),
    row("Software", d.software_version || "—"),
    row("Reports by", d.method || "—"),
    row("First seen", time(d.first_seen)),
    row("Last contact", time(d.last_contact)),
    row("Last report", time(d.last_report_at)),
    row("Reports", `${numberFormat.format(d.reports.stored)} stored, ${numberFormat.format(d.reports.not_exported)} not exported, ${numberFormat.format(d.reports.exported_unacknowledged)} exported without ACK`),
    row("Last export", d.last_export ? `batch ${d.last_export.id}, ` : "none", d.last_export ? time(d.last_export.at) : ""),
    row("Last ACK", d.last_ack ? time(d.last_ack.imported_at) : "none",
      d.last_ack ? (d.last_ack.delivered_at ? [" · delivered ", time(d.last_ack.delivered_at)] : " · not delivered yet") : ""),
    row("Policy", d.policy ? `${d.policy.cisco_default ? "Cisco default" : d.policy.name}: first report ${d.policy.first_report_days} days, ongoing ${d.policy.ongoing_reporting_days} days, on change ${d.policy.report_on_change_days} days` : "—"),
    row("Trust code", d.trust_code || "—"));
  const usage = d.usage.length
    ? el("table", { class: "list" }, el("caption", {}, "Current usage"),
      el("thead", {}, el("tr", {}, ["Entitlement", "In use", "Reported"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, d.usage.map((u) => el("tr", {}, el("td", {}, u.entitlement_tag), el("td", { class: "num" }, `${u.value} ${u.metric || ""}`), el("td", {}, time(u.reported_at))))))
    : el("p", {}, "No usage reported yet.");
  show(el("p", {}, link("/devices", null, "← Devices")),
    el("h1", {}, d.hostname || d.udi_sn), details, usage,
    ...(await targetsOfDevice(t, d)),
    el("h2", {}, "Reports"), timeline(t, d.id, d.recent_reports, d.reports_next_cursor));
}

const REPORT_STATE = {
  stored: "not exported yet", exported: "exported, no ACK yet", acknowledged: "acknowledged by Cisco", conflict: "conflict: another payload for this id",
};

// A device's reports as a timeline, newest first, one group per day in the
// viewer's zone; "Older reports" reads the next page and appends it.
function timeline(t, deviceId, reports, cursor) {
  const list = el("ol", { class: "timeline", id: "timeline" });
  let lastDay = null;
  const add = (rs) => {
    for (const r of rs) {
      const d = day(r.received_at);
      if (d !== lastDay) {
        list.append(el("li", { class: "day" }, d));
        lastDay = d;
      }
      list.append(el("li", { class: "report " + r.state, "data-report": r.id },
        time(r.received_at), " · ", link("/report/" + r.id, null, `report ${r.report_id}`), " · ",
        r.entitlement_tag ? `${r.value || "?"} ${r.metric || ""} of ${r.entitlement_tag}` : "no usage value",
        " · ", el("span", { class: "rstate" }, REPORT_STATE[r.state] || r.state),
        r.export_batch ? ` (export ${r.export_batch})` : "",
        r.duplicates ? ` · received again ${r.duplicates}×` : ""));
    }
  };
  add(reports);
  const more = el("button", { type: "button", id: "older-reports" }, "Older reports");
  more.hidden = !cursor;
  more.addEventListener("click", () => press(more, async () => {
    const page = await get(tenantPath(t, `/devices/${deviceId}/reports?` + new URLSearchParams({ cursor, limit: "50" })));
    add(page.reports);
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }));
  return reports.length ? el("div", {}, list, more) : el("p", { class: "empty" }, "No reports stored.");
}

async function targetsOfDevice(t, d) {
  const parts = [];
  for (const p of d.pull_targets) {
    const target = await get(tenantPath(t, "/pull-targets/" + p.id));
    const last = target.collections.slice(0, 5);
    parts.push(el("section", { class: "card step" },
      el("h2", {}, "Collected by ", link("/target/" + p.id, null, `${p.host}:${p.port}`), ` (${p.protocol})`),
      may("operator") ? el("p", {}, collectButton(t, p.id, () => deviceView(d.id))) : null,
      last.length
        ? el("ul", { class: "plain" }, last.map((c) => el("li", {}, time(c.started_at || c.due_at), " · ",
          c.state === "failed" ? el("span", { class: "error" }, `failed: ${c.error || "?"}`)
            : `${c.state}, ${c.reports_collected} reports (${c.reports_new} new)`)))
        : el("p", { class: "empty" }, "Not collected yet.")));
  }
  return parts;
}

async function reportView(id) {
  const t = state.tenant;
  const r = await get(tenantPath(t, "/reports/" + encodeURIComponent(id)));
  const raw = await getText(tenantPath(t, `/reports/${r.id}/raw`));
  const row = (k, ...v) => [el("dt", {}, k), el("dd", {}, ...v)];
  show(el("p", {}, link("/device/" + r.device_id, null, "← Device")),
    el("h1", {}, `Report ${r.report_id} of ${r.udi_pid} / ${r.udi_sn}`),
    el("dl", { class: "details" },
      row("Received", time(r.received_at)),
      row("State", REPORT_STATE[r.state] || r.state),
      row("Usage", r.entitlement_tag ? `${r.value || "?"} ${r.metric || ""} of ${r.entitlement_tag}` : "—"),
      row("Measured", time(r.first_start), " to ", time(r.last_end)),
      row("Export", r.export_batch ? String(r.export_batch) : "not exported"),
      row("ACK", r.acknowledged_at ? time(r.acknowledged_at) : "none yet"),
      row("Received again", r.duplicates ? [`${r.duplicates} times, last `, time(r.last_duplicate_at)] : "never")),
    el("h2", {}, "As the device sent it"),
    el("pre", { class: "raw", id: "raw" }, raw),
    el("p", {}, el("a", { href: tenantPath(t, `/reports/${r.id}/raw`), download: `report-${r.report_id}.json` }, "Download")));
}

const ALERT_STATES = [
  ["open", "Open"],
  ["unacknowledged", "Not acknowledged"],
  ["resolved", "Resolved"],
  ["all", "All"],
];

async function alertsView(params) {
  const t = state.tenant;
  const which = params.get("state") || "open";
  const q = new URLSearchParams({ state: which, limit: "50" });
  if (params.get("cursor")) q.set("cursor", params.get("cursor"));
  const page = await get(tenantPath(t, "/alerts?" + q));
  const tabs = el("p", { class: "tabs" }, ALERT_STATES.map(([v, label]) =>
    v === which ? el("strong", {}, label) : link("/alerts", { state: v }, label)));
  const ack = async (a, button) => {
    button.disabled = true;
    try {
      await call("POST", tenantPath(t, "/alerts/" + a.id + "/ack"));
      say(`Alert ${a.id} acknowledged.`);
      await alertsView(params);
    } catch (e) {
      button.disabled = false;
      say(e.message, true);
    }
  };
  const rows = page.alerts.map((a) => el("tr", { "data-alert": a.id },
    el("td", {}, el("span", { class: "sev " + a.severity }, a.severity)),
    el("td", {}, a.kind.replaceAll("_", " ")),
    el("td", {}, a.device_id ? link("/device/" + a.device_id, null, a.message) : a.message),
    el("td", {}, time(a.first_seen)),
    el("td", {}, time(a.last_seen)),
    el("td", {}, a.resolved_at ? ["resolved ", time(a.resolved_at)]
      : a.acknowledged ? ["acknowledged by ", a.acknowledged_by || "?"] : "open"),
    el("td", {}, !a.acknowledged && !a.resolved_at && may("operator")
      ? el("button", { type: "button", class: "ack", onclick: (e) => ack(a, e.currentTarget) }, "Acknowledge")
      : "")));
  const table = rows.length
    ? el("table", { class: "list", id: "alerts" },
      el("thead", {}, el("tr", {}, ["Severity", "Kind", "What", "First seen", "Last seen", "State", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows))
    : el("p", { class: "empty" }, which === "open" ? "No open alerts: nothing needs acting on." : "No alerts here.");
  const nav = el("p", { class: "pages" });
  if (page.next_cursor) nav.append(link("/alerts", { state: which, cursor: page.next_cursor }, "Next page"));
  show(el("h1", {}, `Alerts of ${t}`), tabs, table, nav);
}

// --- routing ------------------------------------------------------------

async function route() {
  if (!state.session) return;
  const { path, params } = hashParams();
  newNavigation();
  say("");
  try {
    if (!state.tenant) {
      show(el("h1", {}, "No tenant"), el("p", {}, "This sign-in sees no tenant. An admin can create one with rumd tenant add NAME."));
    } else if (path === "/devices") {
      await devicesView(params);
    } else if (path === "/alerts") {
      await alertsView(params);
    } else if (path.startsWith("/device/")) {
      await deviceView(path.slice("/device/".length));
    } else if (path.startsWith("/report/")) {
      await reportView(path.slice("/report/".length));
    } else if (path === "/airgap") {
      await airGapView(params);
    } else if (path === "/targets") {
      await targetsView();
    } else if (path.startsWith("/target/")) {
      await targetView(path.slice("/target/".length));
    } else if (path === "/admin") {
      await adminView(params);
    } else {
      await overviewView();
    }
    main.focus();
  } catch (e) {
    if (aborted(e)) return; // a newer view took over
    if (e instanceof ApiError && e.status === 401) {
      state.session = null;
      hint(false);
      signInView("Your session has ended. Sign in again.");
    } else {
      say(e.message, true);
    }
  }
}

document.getElementById("signout").addEventListener("click", signOut);
document.getElementById("tenant").addEventListener("change", (e) => {
  state.tenant = e.target.value;
  sessionStorage.setItem("rumd.tenant", state.tenant);
  route();
});
window.addEventListener("hashchange", route);

(async () => {
  if (!hinted()) {
    signInView("");
    return;
  }
  try {
    await started(await get("/api/v1/session"));
  } catch (e) {
    hint(false);
    signInView(e instanceof ApiError && e.status === 401 ? "Your session has ended. Sign in again." : e.message);
  }
})();
