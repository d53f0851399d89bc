// Licence usage over time: per entitlement, the tenant's total in use per
// day (the sum of each device's largest value that day), drawn as a chart
// by days, weeks or months. The chart library (web/vendor/uplot) loads only
// when a chart is drawn; the numbers are also in a table beside it.
import { get, tenantPath } from "./api.js";
import { day, el, numberFormat, table } from "./ui.js";

const RANGES = [
  ["days", "Days", 90, 1],
  ["weeks", "Weeks", 26 * 7, 7],
  ["months", "Months", 365, 0],
];
const COLOURS = ["#1d4e89", "#b42318", "#1a7f37", "#a15c00", "#6941c6"];
const SERIES_MAX = COLOURS.length;
// Licences are whole: the y axis steps by whole numbers.
const INCREMENTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5,
  1e6, 2e6, 5e6, 1e7, 2e7, 5e7, 1e8];

let library = null;

function loadLibrary() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  library = library || new Promise((resolve, reject) => {
    const base = new URL("./vendor/uplot/", import.meta.url).href;
    document.head.append(el("link", { rel: "stylesheet", href: base + "uPlot.min.css" }));
    const script = el("script", { src: base + "uPlot.iife.min.js" });
    script.addEventListener("load", () => resolve(window.uPlot));
    script.addEventListener("error", () => {
      library = null;
      reject(new Error("the chart library did not load"));
    });
    document.head.append(script);
  });
  return library;
}

// "regid.2017-03.com.cisco.advantagek9,1.0_bd1d…" reads as "advantagek9 1.0".
export function shortTag(tag) {
  const m = /com\.cisco\.([^,_]+)(?:,([^_]+))?/.exec(tag);
  return m ? `${m[1]}${m[2] ? " " + m[2] : ""}` : tag.slice(0, 40);
}

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

// The start of the bucket holding ISO day `d`: itself, its ISO week's
// Monday, or its month's first day (UTC, as the API's days are).
function bucket(d, range) {
  const t = new Date(d + "T00:00:00Z");
  if (range === "weeks") t.setUTCDate(t.getUTCDate() - ((t.getUTCDay() + 6) % 7));
  if (range === "months") t.setUTCDate(1);
  return isoDay(t);
}

// Series per tag over buckets: the largest daily total within each bucket
// (licences are sized for the peak); null where no day was counted.
function buckets(rowsByTag, range, from, to) {
  const keys = [];
  for (let t = new Date(from + "T00:00:00Z"); isoDay(t) <= to; t.setUTCDate(t.getUTCDate() + 1)) {
    const b = bucket(isoDay(t), range);
    if (keys[keys.length - 1] !== b) keys.push(b);
  }
  const index = new Map(keys.map((k, i) => [k, i]));
  const series = rowsByTag.map((rows) => {
    const v = new Array(keys.length).fill(null);
    for (const r of rows) {
      const i = index.get(bucket(r.day, range));
      if (i !== undefined) v[i] = Math.max(v[i] ?? 0, r.in_use);
    }
    return v;
  });
  return { keys, series };
}

async function draw(slot, t, tags, range) {
  const [, , span] = RANGES.find(([r]) => r === range);
  const to = isoDay(new Date());
  const from = isoDay(new Date(Date.now() - (span - 1) * 86400000));
  const rowsByTag = await Promise.all(tags.map((tag) => get(tenantPath(t, "/usage/daily?" +
    new URLSearchParams({ tag, from, to }))).then((r) => r.days)));
  const { keys, series } = buckets(rowsByTag, range, from, to);
  const counted = series.some((s) => s.some((v) => v !== null));
  const figure = el("figure", { class: "chart", id: "usage-chart" });
  const caption = el("figcaption", {}, `Licences in use per ${range.slice(0, -1)}, the peak day of each, ${day(from)} to ${day(to)}`);
  slot.replaceChildren(figure);
  if (!counted) {
    figure.append(el("p", { class: "empty" }, "No usage counted in this period."), caption);
    return;
  }
  const uPlot = await loadLibrary();
  const width = Math.max(280, Math.min(slot.clientWidth || 800, 1100));
  const plot = new uPlot({
    width,
    height: 260,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] } },
    series: [{ label: range === "days" ? "Day" : range === "weeks" ? "Week of" : "Month" },
      ...tags.map((tag, i) => ({
        label: shortTag(tag), stroke: COLOURS[i], width: 2, spanGaps: true,
        // Sparse series show their points: one counted day is no line.
        points: { show: series[i].filter((v) => v !== null).length < 60, size: 7, fill: COLOURS[i] },
        value: (u, v) => (v === null ? "—" : numberFormat.format(v)),
      }))],
    axes: [{}, { incrs: INCREMENTS, values: (u, vals) => vals.map((v) => numberFormat.format(v)) }],
  }, [keys.map((k) => Date.parse(k + "T00:00:00Z") / 1000), ...series], figure);
  figure.append(caption);
  return plot;
}

// The overview's usage section: the summary table and a chart of the
// entitlements most in use.
export async function usageSection(t) {
  const summary = await get(tenantPath(t, "/usage"));
  const ents = summary.entitlements.slice().sort((a, b) => b.in_use - a.in_use);
  const rows = ents.map((e) => el("tr", {},
    el("td", { title: e.entitlement_tag }, shortTag(e.entitlement_tag)),
    el("td", { class: "num" }, numberFormat.format(e.devices)),
    el("td", { class: "num" }, numberFormat.format(e.in_use)),
    el("td", { class: "num" }, numberFormat.format(e.peak)),
    el("td", {}, e.peak_day ? day(e.peak_day) : "—")));
  if (!ents.length) {
    return el("section", { id: "usage" }, el("h2", {}, "Licence usage"),
      el("p", { class: "empty" }, summary.as_of
        ? "No licence usage reported yet: devices report it with their usage (RUM) reports."
        : "Licence usage has not been counted yet: rumd counts it a few seconds after reports arrive."));
  }
  const tags = ents.slice(0, SERIES_MAX).map((e) => e.entitlement_tag);
  const slot = el("div", { class: "chart-slot" });
  const pick = el("p", { class: "tabs", role: "group", "aria-label": "Chart by" });
  const choose = (range) => {
    pick.replaceChildren(...RANGES.map(([r, label]) => r === range
      ? el("strong", { "aria-current": "true" }, label)
      : el("button", { type: "button", class: "link", onclick: () => choose(r) }, label)));
    draw(slot, t, tags, range).catch((e) => slot.replaceChildren(el("p", { class: "error" }, e.message)));
  };
  const section = el("section", { id: "usage" }, el("h2", {}, "Licence usage"), pick, slot,
    table("usage-table", "In use now",
      ["Entitlement", "Devices", "In use", "Peak day's total", "Peak day"], rows, ""));
  choose("days");
  return section;
}
