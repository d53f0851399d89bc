// Pull targets: devices rumd collects from over NETCONF/SSH, RESTCONF or the
// device REST API, on a schedule or on demand. Credentials are write-only: the API
// never returns them, and the page never shows them.
import { ApiError, call, get, tenantPath, viewSignal } from "./api.js";
import {
  duration, el, link, may, numberFormat, press, say, show, state, table, time,
} from "./ui.js";

const PROTOCOL_TEXT = { netconf: "NETCONF/SSH", restconf: "RESTCONF", restapi: "device REST API" };

function every(s) {
  if (s === null || s === undefined) return "on demand";
  if (s % 86400 === 0) return `every ${s / 86400} day${s === 86400 ? "" : "s"}`;
  if (s % 3600 === 0) return `every ${s / 3600} hour${s === 3600 ? "" : "s"}`;
  return `every ${numberFormat.format(s)} s`;
}

function outcomeText(c) {
  if (c.state === "ok") {
    return `Collected ${c.reports_collected} reports (${c.reports_new} new), ${c.acks_delivered} ACK delivered, in ${duration(c.duration_ms)}.`;
  }
  if (c.state === "failed") return `Failed: ${c.error || "no reason given"}`;
  return c.state === "running" ? "Running…" : "Queued…";
}

// Queues a collection and follows it until it ends; `report` gets each state.
async function collectNow(t, target, report) {
  const view = viewSignal();
  const queued = await call("POST", tenantPath(t, `/pull-targets/${target}/collect`));
  const id = queued.collections[0].id;
  report({ state: "queued" });
  const deadline = Date.now() + 10 * 60 * 1000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    if (view.aborted) throw new ApiError(-1, "left before the collection ended");
    const c = await get(tenantPath(t, `/collections/${id}`));
    report(c);
    if (c.state === "ok" || c.state === "failed" || Date.now() > deadline) return c;
  }
}

export function collectButton(t, targetId, after) {
  const out = el("span", { class: "collect-outcome", role: "status" });
  const button = el("button", { type: "button", class: "collect" }, "Collect now");
  button.addEventListener("click", () => press(button, async () => {
    const c = await collectNow(t, targetId, (s) => { out.textContent = outcomeText(s); });
    out.classList.toggle("error", c.state === "failed");
    if (after) await after(c);
  }));
  return el("span", {}, button, " ", out);
}

function collectionsTable(rows) {
  return table("collections", "Last collections",
    ["Started", "Trigger", "State", "Reports (new)", "ACKs delivered", "Took", "Error"],
    rows.map((c) => el("tr", {},
      el("td", {}, time(c.started_at || c.due_at)),
      el("td", {}, c.trigger),
      el("td", {}, el("span", { class: "state " + (c.state === "failed" ? "overdue" : c.state === "ok" ? "ok" : "") }, c.state)),
      el("td", { class: "num" }, `${c.reports_collected} (${c.reports_new})`),
      el("td", { class: "num" }, String(c.acks_delivered)),
      el("td", { class: "num" }, duration(c.duration_ms)),
      el("td", { class: c.error ? "error" : "" }, c.error || ""))),
    "Not collected yet.");
}

function addForm(t) {
  const f = (id, label, attrs) => [el("label", { for: id }, label), el("input", { id, name: id, ...attrs })];
  const [hostL, host] = f("host", "Host", { required: true, placeholder: "router1.example.net or 192.0.2.1" });
  const protocol = el("select", { id: "protocol", name: "protocol" },
    el("option", { value: "netconf" }, "NETCONF over SSH"), el("option", { value: "restconf" }, "RESTCONF (HTTPS)"),
    el("option", { value: "restapi" }, "Device REST API (HTTPS)"));
  const [portL, port] = f("port", "Port", { type: "number", min: 1, max: 65535, placeholder: "830" });
  const [userL, user] = f("username", "User", { required: true, autocomplete: "off" });
  const auth = el("select", { id: "auth", name: "auth" },
    el("option", { value: "password" }, "Password"), el("option", { value: "key" }, "SSH private key"));
  const [pwL, password] = f("target-password", "Password", { type: "password", autocomplete: "new-password" });
  const keyL = el("label", { for: "key", hidden: true }, "Private key (PEM or OpenSSH)");
  const key = el("textarea", { id: "key", name: "key", rows: 4, hidden: true, spellcheck: "false" });
  const pin = el("select", { id: "pin", name: "pin" },
    el("option", { value: "learn" }, "Learn the host key on the first connection, then pin it"),
    el("option", { value: "known" }, "Pin this host key"));
  const [knownL, known] = f("known_host_key", "Host key", { placeholder: "SHA256:… (ssh-keygen -lf) or sha256//… for HTTPS", hidden: true });
  knownL.hidden = true;
  const [everyL, interval] = f("interval", "Collect every", { placeholder: "24h (empty: on demand only)" });
  const transfer = el("select", { id: "transfer", name: "transfer" },
    el("option", { value: "scp" }, "scp (over the same SSH session)"),
    el("option", { value: "http" }, "HTTP to rumd (one-time URL)"));
  protocol.addEventListener("change", () => {
    port.placeholder = protocol.value === "netconf" ? "830" : "443";
    if (protocol.value === "restconf") transfer.value = "http";
    transfer.disabled = protocol.value !== "netconf";
  });
  auth.addEventListener("change", () => {
    const k = auth.value === "key";
    key.hidden = keyL.hidden = !k;
    password.hidden = pwL.hidden = k;
  });
  pin.addEventListener("change", () => { known.hidden = knownL.hidden = pin.value !== "known"; });
  const button = el("button", { type: "submit", id: "add-target" }, "Add pull target");
  const form = el("form", { class: "card step grid", id: "target-form", onsubmit: (e) => {
    e.preventDefault();
    const body = { host: host.value.trim(), protocol: protocol.value, username: user.value.trim() };
    if (port.value) body.port = Number(port.value);
    if (auth.value === "key") body.key = key.value;
    else body.password = password.value;
    if (pin.value === "known") body.known_host_key = known.value.trim();
    else body.trust_on_first_use = true;
    if (interval.value.trim()) body.interval = interval.value.trim();
    else body.on_demand = true;
    if (protocol.value === "netconf") body.transfer = transfer.value;
    press(button, async () => {
      const made = await call("POST", tenantPath(t, "/pull-targets"), body);
      password.value = "";
      key.value = "";
      say(`Pull target ${made.id} (${made.host}) added.`);
      location.hash = "#/target/" + made.id;
    });
  } },
  el("h2", {}, "Add a pull target"),
  hostL, host, el("label", { for: "protocol" }, "Protocol"), protocol, portL, port, userL, user,
  el("label", { for: "auth" }, "Sign in with"), auth, pwL, password, keyL, key,
  el("label", { for: "pin" }, "Host key"), pin, knownL, known, everyL, interval,
  el("label", { for: "transfer" }, "Usage file by"), transfer, button);
  return form;
}

function intervalText(s) {
  if (!s) return "";
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

// Changes a target: only the fields that differ from what it is now are
// sent; an empty password or key keeps the stored credential.
function editForm(t, p) {
  const f = (id, label, attrs) => [el("label", { for: id }, label), el("input", { id, name: id, ...attrs })];
  const [hostL, host] = f("edit-host", "Host", { value: p.host, required: true });
  const [portL, port] = f("edit-port", "Port", { type: "number", min: 1, max: 65535, value: p.port });
  const [userL, user] = f("edit-username", "User", { value: p.username, required: true, autocomplete: "off" });
  const auth = el("select", { id: "edit-auth" },
    el("option", { value: "keep" }, `Keep the stored ${p.auth}`),
    el("option", { value: "password" }, "New password"),
    p.protocol === "netconf" ? el("option", { value: "key" }, "New SSH private key") : null);
  const secretL = el("label", { for: "edit-secret", hidden: true }, "New credential");
  const secret = el("textarea", { id: "edit-secret", rows: 3, hidden: true, spellcheck: "false", autocomplete: "off" });
  auth.addEventListener("change", () => { secret.hidden = secretL.hidden = auth.value === "keep"; });
  const pin = el("select", { id: "edit-pin" },
    el("option", { value: "keep" }, p.known_host_key ? "Keep the pinned host key" : "Keep learning it on the next connection"),
    el("option", { value: "pin" }, "Pin this host key"),
    el("option", { value: "forget" }, "Forget it and learn it on the next connection"));
  const [knownL, known] = f("edit-known", "Host key", { hidden: true, value: p.known_host_key || "" });
  knownL.hidden = true;
  pin.addEventListener("change", () => { known.hidden = knownL.hidden = pin.value !== "pin"; });
  const [everyL, interval] = f("edit-interval", "Collect every", { value: intervalText(p.interval_s), placeholder: "24h (empty: on demand only)" });
  const transfer = el("select", { id: "edit-transfer", disabled: p.protocol !== "netconf" },
    el("option", { value: "scp" }, "scp"), el("option", { value: "http" }, "HTTP to rumd"));
  transfer.value = p.transfer;
  const save = el("button", { type: "submit", id: "save-target" }, "Save changes");
  const form = el("form", { class: "card step grid", id: "edit-target", hidden: true, onsubmit: (e) => {
    e.preventDefault();
    const body = {};
    if (host.value.trim() !== p.host) body.host = host.value.trim();
    if (Number(port.value) !== p.port) body.port = Number(port.value);
    if (user.value.trim() !== p.username) body.username = user.value.trim();
    if (auth.value !== "keep") body[auth.value] = secret.value;
    if (pin.value === "pin") body.known_host_key = known.value.trim();
    if (pin.value === "forget") Object.assign(body, { known_host_key: "", trust_on_first_use: true });
    if (intervalText(p.interval_s) !== interval.value.trim()) {
      if (interval.value.trim()) body.interval = interval.value.trim();
      else body.on_demand = true;
    }
    if (p.protocol === "netconf" && transfer.value !== p.transfer) body.transfer = transfer.value;
    if (!Object.keys(body).length) {
      say("Nothing changed.");
      return;
    }
    press(save, async () => {
      await call("PATCH", tenantPath(t, "/pull-targets/" + p.id), body);
      secret.value = "";
      say(`Pull target ${p.id} saved.`);
      await targetView(p.id);
    });
  } },
  el("h2", {}, "Change this pull target"),
  hostL, host, portL, port, userL, user, el("label", { for: "edit-auth" }, "Sign in with"), auth, secretL, secret,
  el("label", { for: "edit-pin" }, "Host key"), pin, knownL, known, everyL, interval,
  el("label", { for: "edit-transfer" }, "Usage file by"), transfer, save);
  return form;
}

export async function targetsView() {
  const t = state.tenant;
  const { pull_targets: targets } = await get(tenantPath(t, "/pull-targets"));
  const rows = targets.map((p) => el("tr", { "data-target": p.id },
    el("td", {}, link("/target/" + p.id, null, `${p.host}:${p.port}`)),
    el("td", {}, PROTOCOL_TEXT[p.protocol] || p.protocol),
    el("td", {}, p.device ? link("/device/" + p.device.id, null, `${p.device.udi_pid} / ${p.device.udi_sn}`) : "—"),
    el("td", {}, every(p.interval_s)),
    el("td", {}, p.last_collection ? [el("span", { class: "state " + (p.last_collection.state === "failed" ? "overdue" : "ok") }, p.last_collection.state), " ", time(p.last_collection.finished_at || p.last_collection.started_at)] : "never"),
    el("td", {}, p.failures ? el("span", { class: "error" }, `${p.failures} failures since `, time(p.failing_since)) : ""),
    el("td", {}, may("operator") ? collectButton(t, p.id) : "")));
  const list = table("targets", null, ["Target", "Protocol", "Device", "Schedule", "Last collection", "", ""], rows,
    may("admin") ? "No pull target yet: add one below to collect usage from a device that cannot push."
      : "No pull target yet: an admin can add one.");
  show(el("h1", {}, `Pull targets of ${t}`), list, may("admin") ? addForm(t) : null);
}

export async function targetView(id) {
  const t = state.tenant;
  const p = await get(tenantPath(t, "/pull-targets/" + encodeURIComponent(id)));
  const row = (k, ...v) => [el("dt", {}, k), el("dd", {}, ...v)];
  const details = el("dl", { class: "details" },
    row("Host", `${p.host}:${p.port}`),
    row("Protocol", PROTOCOL_TEXT[p.protocol] || p.protocol, p.protocol === "netconf" ? ` · usage file by ${p.transfer}` : ""),
    row("User", `${p.username} (${p.auth})`),
    row("Host key", p.known_host_key || (p.trust_on_first_use ? "learnt on the first connection" : "—")),
    row("Schedule", every(p.interval_s), p.next_due ? [" · next ", time(p.next_due)] : ""),
    row("Device", p.device ? link("/device/" + p.device.id, null, `${p.device.udi_pid} / ${p.device.udi_sn}`) : "not collected yet"),
    row("Added", time(p.created_at)),
    row("Failures", p.failures ? [`${p.failures} since `, time(p.failing_since)] : "none"));
  const refresh = async () => {
    const again = await get(tenantPath(t, "/pull-targets/" + p.id));
    document.getElementById("collections-slot").replaceChildren(collectionsTable(again.collections));
  };
  const remove = el("button", { type: "button", id: "remove-target", class: "danger" }, "Remove");
  remove.addEventListener("click", () => press(remove, async () => {
    if (!confirm(`Remove pull target ${p.host}? Its collected reports stay.`)) return;
    await call("DELETE", tenantPath(t, "/pull-targets/" + p.id));
    say(`Pull target ${p.host} removed.`);
    location.hash = "#/targets";
  }));
  const form = may("admin") ? editForm(t, p) : null;
  const edit = el("button", { type: "button", id: "edit-target-button" }, "Edit");
  edit.addEventListener("click", () => {
    form.hidden = !form.hidden;
    if (!form.hidden) form.querySelector("input").focus();
  });
  show(el("p", {}, link("/targets", null, "← Pull targets")),
    el("h1", {}, `Pull target ${p.host}`),
    el("p", { class: "actions" }, may("operator") ? collectButton(t, p.id, refresh) : null, " ",
      may("admin") ? [edit, " ", remove] : null),
    form, details, el("div", { id: "collections-slot" }, collectionsTable(p.collections)));
}
