// The air gap, as an admin works it: export the usage Cisco needs as a file,
// carry it to CSSM, bring CSSM's answer back and upload it here. rumd hands
// each device its ACK on its next contact.
import { call, get, tenantPath, upload } from "./api.js";
import {
  count, el, link, may, numberFormat, press, say, show, state, table, time,
} from "./ui.js";

const SELECTIONS = [
  ["pending", "Reports not yet acknowledged by Cisco (usual)"],
  ["all", "Every stored report"],
  ["since", "Every report received since a day"],
];
const ACK_TEXT = { waiting: "Waiting for Cisco's ACK", partial: "Partly acknowledged", acknowledged: "Acknowledged" };

// X-File-Name takes a plain base name; anything else is left out.
function fileHeader(file) {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/.test(file.name) ? { "X-File-Name": file.name } : {};
}

function download(href, name) {
  const a = el("a", { href, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
}

function exportForm(t, params) {
  const which = el("select", { id: "selection", name: "selection" },
    SELECTIONS.map(([v, label]) => el("option", { value: v }, label)));
  const since = el("input", { id: "since", name: "since", type: "date", disabled: true });
  which.addEventListener("change", () => { since.disabled = which.value !== "since"; });
  const outcome = el("p", { id: "export-outcome", role: "status" });
  const button = el("button", { type: "submit", id: "export" }, "Download usage for Cisco");
  return el("form", { class: "card step", onsubmit: (e) => {
    e.preventDefault();
    const body = which.value === "all" ? { all: true }
      : which.value === "since" ? { since: since.value ? new Date(since.value + "T00:00:00").toISOString() : "" }
        : {};
    press(button, async () => {
      const made = await call("POST", tenantPath(t, "/exports"), body);
      if (made.status === "EMPTY") {
        outcome.textContent = "Nothing to export: every report is acknowledged already.";
        return;
      }
      outcome.replaceChildren(`Export ${made.batch_id}: ${count(made.devices, "device")}, ${count(made.reports, "report")}. `,
        el("a", { href: made.download, download: made.file }, made.file),
        " — upload it to Cisco Smart Software Manager (Reports → Usage Data Files), then bring back the ACK file it gives you.");
      download(made.download, made.file);
      await batches(t, params);
    });
  } },
  el("h2", {}, "1. Download usage for Cisco"),
  el("label", { for: "selection" }, "Reports"), which,
  el("label", { for: "since" }, "Since"), since,
  button, outcome);
}

function summary(r) {
  const head = r.status === "ALREADY_IMPORTED"
    ? `This file was imported already (${r.already_at}): nothing changed.`
    : `Imported: ${count(r.devices, "device")}, ${count(r.acks_new, "new ACK")}, ${count(r.reports_acked, "report")} acknowledged, ${count(r.policies, "policy")}, ${count(r.trust_codes, "trust code")}.`;
  const applied = table("import-applied", "Entries applied",
    ["Entry", "Device", "Export", "Reports acknowledged", "Policy", ""],
    r.applied.map((a) => el("tr", {},
      el("td", {}, a.entry || "—"),
      el("td", {}, link("/device/" + a.device_id, null, a.udi)),
      el("td", { class: "num" }, String(a.batch_id || "—")),
      el("td", { class: "num" }, numberFormat.format(a.reports_acked)),
      el("td", {}, a.policy || "—"),
      el("td", {}, a.new_ack ? "new" : "known already"))),
    "No entry was applied.");
  const skipped = r.skipped.length
    ? table("import-skipped", "Entries refused", ["Entry", "Reason"],
      r.skipped.map((s) => el("tr", {}, el("td", {}, s.entry), el("td", { class: "error" }, s.reason))), "")
    : null;
  return [el("p", { class: "verdict" + (r.skipped.length ? " bad" : " good") }, head), applied, skipped];
}

function importForm(t, params) {
  const input = el("input", { id: "ack-file", name: "ack-file", type: "file", accept: ".gz,.tgz,.tar,.xml,.txt" });
  const outcome = el("div", { id: "import-outcome", role: "status" });
  const zone = el("div", { class: "drop", tabindex: "0", role: "button", "aria-controls": "ack-file" },
    "Drop Cisco's ACK file here (ACK_UD_SA_….tar.gz, an ACK or a policy file), or ",
    el("label", { for: "ack-file", class: "pick" }, "choose it"), ".");
  const send = async (file) => {
    if (!file) return;
    outcome.replaceChildren(el("p", {}, `Uploading ${file.name}…`));
    try {
      const r = await upload(tenantPath(t, "/imports"), file, fileHeader(file));
      outcome.replaceChildren(...summary(r));
      say(`${file.name} imported.`);
      await batches(t, params);
    } catch (e) {
      outcome.replaceChildren(el("p", { class: "verdict bad" }, `${file.name} was refused: ${e.message}. Nothing was changed.`));
    } finally {
      input.value = "";
    }
  };
  input.addEventListener("change", () => send(input.files[0]));
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    send(e.dataTransfer.files[0]);
  });
  return el("section", { class: "card step" },
    el("h2", {}, "2. Upload Cisco's answer"), zone, input, outcome);
}

async function batches(t, params) {
  const q = new URLSearchParams({ limit: "20" });
  if (params.get("cursor")) q.set("cursor", params.get("cursor"));
  const page = await get(tenantPath(t, "/exports?" + q));
  const rows = page.exports.map((b) => el("tr", { "data-export": b.id },
    el("td", { class: "num" }, String(b.id)),
    el("td", {}, time(b.created_at)),
    el("td", {}, el("a", { href: tenantPath(t, `/exports/${b.id}/file`), download: b.file }, b.file)),
    el("td", { class: "num" }, numberFormat.format(b.devices)),
    el("td", { class: "num" }, numberFormat.format(b.reports)),
    el("td", {}, el("span", { class: "ack " + b.ack_state }, ACK_TEXT[b.ack_state] || b.ack_state),
      b.ack_state === "partial" ? ` (${b.devices_acked} of ${b.devices} devices)` : ""),
    el("td", {}, time(b.last_ack_at))));
  const list = table("exports", "Export batches",
    ["Export", "Made", "File", "Devices", "Reports", "ACK from Cisco", "Last ACK"], rows,
    may("operator") ? "No export yet: download usage for Cisco above to make the first."
      : "No export yet: an operator makes them here.");
  const nav = el("p", { class: "pages" });
  if (params.get("cursor")) nav.append(link("/airgap", null, "Newest"), " ");
  if (page.next_cursor) nav.append(link("/airgap", { cursor: page.next_cursor }, "Older"));
  const slot = document.getElementById("batches");
  if (slot) slot.replaceChildren(list, nav);
  return [list, nav];
}

export async function airGapView(params) {
  const t = state.tenant;
  const list = el("div", { id: "batches" }, ...(await batches(t, params)));
  const steps = may("operator")
    ? [exportForm(t, params), importForm(t, params)]
    : [el("p", { class: "empty" }, "Exporting usage and uploading Cisco's answer need an operator or an admin; you can download earlier exports below.")];
  show(el("h1", {}, `Air gap: ${t} and Cisco`),
    el("p", {}, "For networks that may not reach Cisco: move usage to Cisco Smart Software Manager by file, and its acknowledgement back."),
    ...steps, list);
}
