// Administration: tenants, bearer tokens (a new token's secret is shown
// once, here, and never again) and the audit log. Readers and operators see
// the audit log only; the server refuses the rest to them anyway.
import { call, get } from "./api.js";
import { el, link, may, press, say, show, state, table, time } from "./ui.js";

function tenantsSection(tenants) {
  const rows = tenants.map((t) => {
    const sa = el("input", { value: t.smart_account, "aria-label": `Smart Account of ${t.name}`, size: 24 });
    const va = el("input", { value: t.virtual_account, "aria-label": `Virtual Account of ${t.name}`, size: 16 });
    const save = el("button", { type: "button" }, "Save");
    save.addEventListener("click", () => press(save, async () => {
      await call("PATCH", "/api/v1/tenants/" + encodeURIComponent(t.name),
        { smart_account: sa.value, virtual_account: va.value });
      say(`Tenant ${t.name} saved.`);
    }));
    return el("tr", { "data-tenant": t.name }, el("td", {}, t.name), el("td", {}, sa), el("td", {}, va),
      el("td", {}, time(t.created_at)), el("td", {}, save));
  });
  const name = el("input", { id: "tenant-name", required: true, placeholder: "name (in device URLs)" });
  const sa = el("input", { id: "tenant-sa", placeholder: "Smart Account (as in CSSM)" });
  const va = el("input", { id: "tenant-va", placeholder: "Virtual Account" });
  const add = el("button", { type: "submit", id: "add-tenant" }, "Create tenant");
  const form = el("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    press(add, async () => {
      await call("POST", "/api/v1/tenants", { name: name.value.trim(), smart_account: sa.value, virtual_account: va.value });
      say(`Tenant ${name.value.trim()} created. Devices push to /cslu/v1/pi/${name.value.trim()}.`);
      await adminView();
    });
  } }, el("label", { for: "tenant-name" }, "New tenant"), name, sa, va, add);
  return el("section", { class: "card step" }, el("h2", {}, "Tenants"),
    table("tenants", null, ["Name", "Smart Account", "Virtual Account", "Created", ""], rows, "No tenant."), form);
}

function tokensSection(tokens, tenants) {
  const rows = tokens.map((k) => {
    const revoke = el("button", { type: "button", class: "danger" }, "Revoke");
    revoke.addEventListener("click", () => press(revoke, async () => {
      if (!confirm(`Revoke token ${k.prefix}…? Scripts using it stop working.`)) return;
      await call("DELETE", "/api/v1/tokens/" + k.id);
      say(`Token ${k.prefix}… revoked.`);
      await adminView();
    }));
    return el("tr", { "data-token": k.id }, el("td", {}, el("code", {}, k.prefix + "…")), el("td", {}, k.role),
      el("td", {}, k.tenant || "every tenant"), el("td", {}, k.description),
      el("td", {}, time(k.created_at)), el("td", {}, time(k.last_used_at)),
      el("td", {}, k.revoked_at ? ["revoked ", time(k.revoked_at)] : revoke));
  });
  const role = el("select", { id: "token-role" }, ["reader", "operator", "admin"].map((r) => el("option", { value: r }, r)));
  const tenant = el("select", { id: "token-tenant" }, el("option", { value: "" }, "every tenant"),
    tenants.map((t) => el("option", { value: t.name }, t.name)));
  const description = el("input", { id: "token-description", placeholder: "what uses it", maxlength: 200 });
  const secret = el("div", { id: "token-secret", role: "status" });
  const create = el("button", { type: "submit", id: "create-token" }, "Create token");
  const form = el("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    const body = { role: role.value, description: description.value };
    if (tenant.value) body.tenant = tenant.value;
    press(create, async () => {
      const made = await call("POST", "/api/v1/tokens", body);
      secret.replaceChildren(el("p", { class: "verdict" },
        "The new token, shown this once: copy it now, rumd keeps only its hash. ",
        el("code", { class: "secret" }, made.token)));
    });
  } }, el("label", { for: "token-role" }, "New token for"), role, tenant, description, create);
  return el("section", { class: "card step" }, el("h2", {}, "API tokens"),
    table("tokens", null, ["Token", "Role", "Tenant", "Description", "Created", "Last used", ""], rows, "No token."),
    form, secret);
}

function usersSection(users, tenants) {
  const rows = users.map((u) => {
    const toggle = el("button", { type: "button", class: u.disabled ? "" : "danger" }, u.disabled ? "Enable" : "Disable");
    toggle.addEventListener("click", () => press(toggle, async () => {
      await call("PATCH", "/api/v1/users/" + encodeURIComponent(u.name), { disabled: !u.disabled });
      say(`User ${u.name} ${u.disabled ? "enabled" : "disabled and signed out"}.`);
      await adminView();
    }));
    const pw = el("input", { type: "password", autocomplete: "new-password", "aria-label": `New password for ${u.name}`, placeholder: "new password", size: 14 });
    const set = el("button", { type: "button" }, "Set");
    set.addEventListener("click", () => press(set, async () => {
      await call("PATCH", "/api/v1/users/" + encodeURIComponent(u.name), { password: pw.value });
      pw.value = "";
      say(`New password for ${u.name}; the user's sessions ended.`);
    }));
    return el("tr", { "data-user": u.name }, el("td", {}, u.name), el("td", {}, u.role),
      el("td", {}, u.tenant || "every tenant"), el("td", {}, time(u.password_set_at)),
      el("td", {}, u.disabled ? ["disabled ", time(u.disabled_at)] : `${u.sessions} open session${u.sessions === 1 ? "" : "s"}`),
      el("td", {}, pw, " ", set), el("td", {}, toggle));
  });
  const name = el("input", { id: "user-name", required: true, placeholder: "name", autocomplete: "off" });
  const password = el("input", { id: "user-password", type: "password", required: true, minlength: 12, placeholder: "password (12 or more)", autocomplete: "new-password" });
  const role = el("select", { id: "user-role" }, ["reader", "operator", "admin"].map((r) => el("option", { value: r }, r)));
  const tenant = el("select", { id: "user-tenant" }, el("option", { value: "" }, "every tenant"),
    tenants.map((t) => el("option", { value: t.name }, t.name)));
  const add = el("button", { type: "submit", id: "add-user" }, "Add user");
  const form = el("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    const body = { name: name.value.trim(), password: password.value, role: role.value };
    if (tenant.value) body.tenant = tenant.value;
    press(add, async () => {
      await call("POST", "/api/v1/users", body);
      say(`User ${body.name} added: they sign in here with that password.`);
      await adminView();
    });
  } }, el("label", { for: "user-name" }, "New user"), name, password, role, tenant, add);
  return el("section", { class: "card step" }, el("h2", {}, "Console users"),
    table("users", null, ["Name", "Role", "Tenant", "Password set", "State", "Password", ""], rows,
      "No local user: people sign in with a token, or add a user here."), form);
}

async function auditSection(params) {
  const q = new URLSearchParams({ limit: "50" });
  if (params && params.get("cursor")) q.set("cursor", params.get("cursor"));
  const page = await get("/api/v1/audit?" + q);
  const rows = page.entries.map((a) => el("tr", {},
    el("td", {}, time(a.at)), el("td", {}, a.actor), el("td", {}, a.action), el("td", {}, a.tenant || ""),
    el("td", {}, a.target), el("td", { class: a.result === "ok" ? "" : "error" }, a.result)));
  const nav = el("p", { class: "pages" });
  if (page.next_cursor) nav.append(link("/admin", { cursor: page.next_cursor }, "Older entries"));
  return el("section", {}, el("h2", {}, "Audit log"),
    table("audit", null, ["When", "Who", "What", "Tenant", "Subject", "Result"], rows, "Nothing audited yet."), nav);
}

export async function adminView(params) {
  const parts = [];
  // Tokens and users are managed by admins of every tenant only.
  if (may("admin") && !state.session.tenant) {
    const [{ tenants }, { tokens }, { users }] = await Promise.all([
      get("/api/v1/tenants"), get("/api/v1/tokens"), get("/api/v1/users")]);
    parts.push(tenantsSection(tenants), tokensSection(tokens, tenants), usersSection(users, tenants));
  }
  parts.push(await auditSection(params));
  show(el("h1", {}, parts.length > 1 ? "Administration" : "Audit log"), ...parts);
}
