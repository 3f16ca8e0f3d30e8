// The board: orders and GMV per platform per day (hand-drawn SVG line charts, no library),
// the four service indicators against their targets, channel health; and the reports of a
// day with their download links.
import { api, query } from "./api.js";
import { can } from "./app.js";
import { append, clear, h, table } from "./dom.js";
import { money, t, when } from "./i18n.js";

const W = 640;
const H = 220;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

function lineChart(testid, days, series, target) {
  const values = series.flatMap((s) => s.values).concat(target === undefined ? [] : [target]);
  const top = Math.max(1, ...values.filter((v) => v !== null));
  const x = (i) => PAD.left + (days.length === 1 ? 0 : (i * (W - PAD.left - PAD.right)) / (days.length - 1));
  const y = (v) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const svg = h("svg:svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "data-testid": testid });
  svg.append(h("svg:line", { class: "axis", x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0) }));
  for (const frac of [0.5, 1]) {
    svg.append(h("svg:text", { x: 4, y: y(top * frac) + 4 }, String(Math.round(top * frac * 100) / 100)));
    svg.append(h("svg:line", { class: "axis", x1: PAD.left, y1: y(top * frac), x2: W - PAD.right, y2: y(top * frac) }));
  }
  days.forEach((d, i) => svg.append(h("svg:text", { x: x(i) - 14, y: H - 8 }, d.slice(5))));
  if (target !== undefined) {
    svg.append(h("svg:line", { class: "target", x1: PAD.left, y1: y(target), x2: W - PAD.right, y2: y(target), "data-testid": `${testid}-target` }));
  }
  series.forEach((s, n) => {
    const points = s.values.map((v, i) => (v === null ? null : `${x(i)},${y(v)}`)).filter(Boolean);
    if (points.length > 1) svg.append(h("svg:polyline", { class: `line s${n % 10}`, points: points.join(" ") }));
    s.values.forEach((v, i) => {
      if (v === null) return;
      svg.append(h("svg:circle", { class: `dot s${n % 10}`, cx: x(i), cy: y(v), r: 3, "data-series": s.name },
        h("svg:title", {}, `${s.name} ${days[i]}: ${v}`)));
    });
  });
  const legend = h("div", { class: "legend" }, series.map((s, n) => h("span", {}, h("span", { class: `swatch s${n % 10}` }), s.name)));
  return h("div", {}, svg, legend);
}

export async function boardScreen(main) {
  let board;
  try {
    board = await api("/board");
  } catch (error) {
    return append(main, h("p", { class: "error" }, error.message));
  }
  const days = board.metrics.map((m) => m.day);
  const orders = board.platforms.map((p) => ({ name: p.platform, values: p.days.map((d) => d.orders) }));
  const currency = "CNY";
  const gmv = board.platforms.map((p) => ({ name: p.platform, values: p.days.map((d) => Number((d.gmv || {})[currency] || 0)) }));
  const metric = (name) => [{ name: t(LABELS[name]), values: board.metrics.map((m) => m[name].value) }];
  append(main,
    h("h2", {}, t("board"), h("span", { class: "muted" }, ` ${board.from} – ${board.to} (${board.day_zone})`)),
    h("div", { class: "cols" },
      h("section", {}, h("h3", {}, t("ordersPerDay")), lineChart("chart-orders", days, orders)),
      h("section", {}, h("h3", {}, `${t("gmvPerDay")} (${currency})`), lineChart("chart-gmv", days, gmv))),
    h("section", {}, h("h3", {}, t("metrics")), h("div", { class: "cols" },
      Object.keys(LABELS).map((name) => h("div", {}, h("h3", {}, `${t(LABELS[name])} — ${t("target")} ${board.targets[name]}`),
        lineChart(`chart-${name}`, days, metric(name), board.targets[name])))),
    table([t("day"), ...Object.keys(LABELS).map((n) => t(LABELS[n]))], board.metrics.map((m) => h("tr", {}, h("td", {}, m.day),
      Object.keys(LABELS).map((n) => h("td", {}, m[n].value === null ? t("noData") : [String(m[n].value), " ",
        h("span", { class: m[n].met ? "badge good" : "badge bad" }, m[n].met ? t("met") : t("missed"))])))), "metrics-table")));
  if (can("read_ops")) append(main, await health());
}

const LABELS = {
  sync_latency_p50_seconds: "syncLatency",
  oversell_rate_pct: "oversell",
  anomaly_ratio_pct: "anomalyRatio",
  customer_chase_rate_pct: "chaseRate",
};

async function health() {
  try {
    const found = await api("/ops/channel-health");
    const stores = found.stores || [];
    return h("section", { testid: "health" }, h("h3", {}, t("health")),
      table([t("store"), t("status"), t("time"), t("summary")], stores.map((s) => h("tr", {},
        h("td", {}, `${s.platform} / ${s.store}`),
        h("td", {}, h("span", { class: s.status === "ok" ? "badge good" : s.status === "failing" ? "badge bad" : "badge warn" }, s.status)),
        h("td", {}, when(s.checked_at || s.at)), h("td", {}, s.detail || s.problem || "")))));
  } catch (error) {
    return h("p", { class: "error" }, error.message);
  }
}

export async function reportsScreen(main, day) {
  // yesterday in Beijing: the day the nightly reports cover
  const yesterday = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date(Date.now() - 24 * 3600 * 1000));
  const chosen = day || yesterday;
  const list = h("div", { testid: "report-files" });
  const input = h("input", { type: "date", value: chosen, testid: "report-day",
    onchange: (e) => { location.hash = `#/reports/${e.target.value}`; } });
  append(main, h("section", {}, h("h2", {}, t("reports")), h("label", { class: "inline" }, t("day"), input)), h("section", {}, list));
  try {
    const found = await api("/reports" + query({ date: chosen }));
    const rows = found.reports.map((r) => h("tr", { testid: "report-row" }, h("td", {}, r.kind || ""), h("td", {}, r.name || r.key || ""),
      h("td", {}, r.url ? h("a", { href: r.url, rel: "noopener noreferrer", download: "" }, t("download")) : "")));
    append(clear(list), rows.length ? table([t("kindLabel"), t("files"), ""], rows, "reports-table") : h("p", { testid: "no-reports" }, t("noReports")),
      h("p", { class: "hint" }, `${t("linksExpire")}: ${when(found.expires_at)}`));
  } catch (error) {
    append(clear(list), h("p", { class: "error" }, error.message));
  }
}
