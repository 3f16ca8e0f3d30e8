// Orders: one search box (order id or phone) with filters and a results table; the order's
// investigation panel: header, lines, holds, amounts (read_payments), masked buyer with the
// two-person reveal (reveal.js), the whole timeline, raw payloads with a reason and the
// order's approved reveal request, and
// the order's anomalies with acknowledge / resolve in place.
import { api, query } from "./api.js";
import { can } from "./app.js";
import { append, clear, h, table } from "./dom.js";
import { money, t, when } from "./i18n.js";
import { anomalyActions } from "./stock.js";
import { requestOf, revealControls } from "./reveal.js";

const STATUSES = ["", "unpaid", "paid", "shipped", "cancelled", "refunded"];
const BOOKINGS = ["", "reserved", "locked", "shipped", "released", "expired",
  "rejected_out_of_stock", "backordered", "needs_attention"];
const state = { q: "", platform: "", status: "", booking: "", from: "", to: "" };
let latest = 0; // the newest search: an older one answering late must not overwrite it

function idPrefix(text) {
  return looksLikePhone(text) || text.length !== 1 ? text : "";
}

function looksLikePhone(text) {
  const compact = text.replace(/[\s\-.()]/g, "");
  return /^\+?\d{7,20}$/.test(compact) && (/^(\+?86|0086)?1\d{10}$/.test(compact) || compact.startsWith("+"));
}

function select(name, options, labels = (o) => o || t("any")) {
  return h("select", { testid: `filter-${name}`, onchange: (e) => { state[name] = e.target.value; } },
    options.map((o) => h("option", { value: o, selected: state[name] === o }, labels(o))));
}

function orderRows(orders) {
  return orders.map((o) =>
    h("tr", { testid: "order-row" },
      h("td", {}, h("a", { href: `#/orders/${encodeURIComponent(o.platform)}/${encodeURIComponent(o.store)}/${encodeURIComponent(o.order_id)}`, testid: "order-link" }, o.order_id)),
      h("td", {}, `${o.platform} / ${o.store}`),
      h("td", {}, h("span", { class: "badge" }, o.status)),
      h("td", {}, h("span", { class: o.booking === "needs_attention" || o.booking.startsWith("rejected") ? "badge bad" : "badge" }, o.booking)),
      h("td", {}, when(o.placed_at)),
      can("read_payments") ? h("td", {}, money(o.amount, o.currency)) : null,
      h("td", {}, o.reason)));
}

function headers() {
  return [t("order"), t("store"), t("status"), t("booking"), t("placed"),
    can("read_payments") ? t("amount") : null, t("reason")].filter(Boolean);
}

export function ordersScreen(main) {
  const results = h("div", { testid: "order-results" });
  const box = h("input", { class: "wide", testid: "order-search", placeholder: t("searchHint"), value: state.q,
    oninput: (e) => { state.q = e.target.value; } });
  const platforms = ["", "mall", "shopify", "woocommerce", "bigcommerce", "tiktok", "douyin", "taobao", "pinduoduo", "jd", "amazon"];
  const form = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); run(results); } },
    h("label", {}, t("search"), box),
    h("label", {}, t("platform"), select("platform", platforms)),
    h("label", {}, t("status"), select("status", STATUSES)),
    h("label", {}, t("booking"), select("booking", BOOKINGS)),
    h("label", {}, t("from"), h("input", { type: "date", value: state.from, onchange: (e) => { state.from = e.target.value; } })),
    h("label", {}, t("to"), h("input", { type: "date", value: state.to, onchange: (e) => { state.to = e.target.value; } })),
    h("button", { type: "submit", testid: "order-search-submit" }, t("search")));
  append(main, h("section", {}, h("h2", {}, t("orders")), form), h("section", {}, results));
  run(results);
}

async function run(results, cursor = "", rows = []) {
  const mine = ++latest;
  const text = state.q.trim();
  const filters = { platform: state.platform, status: state.status, booking: state.booking, from: state.from, to: state.to,
    include: can("read_payments") ? "amounts" : "" };
  try {
    if (text && looksLikePhone(text) && !cursor) {
      const buyer = await api("/buyers/lookup", { method: "POST", body: { phone: text } });
      if (mine !== latest) return;
      if (buyer.count) return showBuyer(results, buyer);
    }
    let page = await api("/orders" + query({ ...filters, order_id: idPrefix(text), cursor }));
    let all = rows.concat(page.orders);
    // a page may come back short when its day budget ran out: follow the cursor a little
    for (let n = 0; n < 3 && page.next_cursor && all.length - rows.length < 10; n++) {
      page = await api("/orders" + query({ ...filters, order_id: idPrefix(text), cursor: page.next_cursor }));
      all = all.concat(page.orders);
    }
    if (mine !== latest) return;
    append(clear(results), 
      all.length ? table(headers(), orderRows(all), "orders-table") : h("p", { testid: "no-results" }, t("noResults")),
      page.next_cursor ? h("button", { class: "secondary", testid: "more", onclick: () => run(results, page.next_cursor, all) }, t("more")) : null);
  } catch (error) {
    if (mine === latest) append(clear(results), h("p", { class: "error", testid: "error" }, error.message));
  }
}

function showBuyer(results, buyer) {
  const life = buyer.lifecycle;
  append(clear(results), 
    h("div", { class: "inline", testid: "buyer" }, h("strong", {}, t("buyer")),
      h("span", { class: "badge good", testid: "lifecycle" }, `${t("lifecycle")}: ${life.tag}`),
      h("span", { class: "muted" }, `${life.orders} · ${when(life.first_order_at)} – ${when(life.last_order_at)}`)),
    table(headers(), orderRows(buyer.orders), "orders-table"));
}

// ---- the investigation panel ------------------------------------------------------------

export async function orderPanel(main, platform, store, orderId) {
  const path = `/orders/${encodeURIComponent(platform)}/${encodeURIComponent(store)}/${encodeURIComponent(orderId)}`;
  append(main, h("p", {}, h("a", { href: "#/orders" }, `← ${t("orders")}`)));
  let order;
  let timeline = null;
  try {
    if (can("read_timeline")) {
      timeline = await api(`${path}/timeline`);
      order = timeline.order;
    } else {
      order = await api(path);
    }
  } catch (error) {
    return append(main, h("p", { class: "error", testid: "error" }, error.message));
  }
  if (!order) return append(main, h("p", {}, t("notFound")));
  const pay = can("read_payments");
  append(main,
    h("section", { testid: "order-header" },
      h("h2", {}, `${t("order")} ${order.order_id}`, " ",
        h("span", { class: "badge" }, order.status), h("span", { class: "badge" }, order.booking)),
      h("dl", { class: "facts" },
        h("dt", {}, t("store")), h("dd", {}, `${order.platform} / ${order.store}`),
        h("dt", {}, t("updated")), h("dd", {}, when(order.updated_at)),
        h("dt", {}, t("reason")), h("dd", {}, order.reason || "—"),
        pay ? [h("dt", {}, t("total")), h("dd", { testid: "order-total" }, money(order.total, order.currency))] : null)),
    h("div", { class: "cols" },
      h("section", { testid: "order-lines" }, h("h3", {}, t("lines")),
        table([t("sku"), t("quantity"), pay ? t("unitPrice") : null].filter(Boolean),
          order.lines.map((l) => h("tr", {}, h("td", {}, h("a", { href: `#/inventory/${encodeURIComponent(l.sku)}` }, l.sku)),
            h("td", {}, l.quantity), pay ? h("td", {}, money(l.unit_price, order.currency)) : null)))),
      h("section", { testid: "order-holds" }, h("h3", {}, t("holds")),
        table([t("sku"), t("warehouse"), t("reserved"), t("locked"), t("shipped")],
          order.holds.map((x) => h("tr", {}, h("td", {}, x.sku), h("td", {}, x.warehouse), h("td", {}, x.reserved), h("td", {}, x.locked), h("td", {}, x.shipped))))),
      buyerSection(order, path)),
    h("section", { testid: "order-anomalies" }, h("h3", {}, t("anomaliesOfOrder")), await orderAnomalies(order)),
    timeline ? timelineSection(timeline, path) : null);
}

function buyerSection(order, path) {
  const buyer = order.buyer || {};
  const facts = h("dl", { class: "facts", testid: "buyer-masked" },
    ["name", "phone", "address", "email", "id_number"].filter((f) => buyer[f]).map((f) => [h("dt", {}, f), h("dd", {}, buyer[f])]));
  return h("section", { testid: "order-buyer" }, h("h3", {}, t("buyer")), facts,
    can("decrypt") ? revealControls(order, path) : null);
}

async function orderAnomalies(order) {
  const subject = `${order.platform}#${order.store}#${order.order_id}`;
  try {
    const found = await api("/anomalies");
    const mine = found.anomalies.filter((a) => a.subject === subject);
    if (!mine.length) return h("p", { class: "muted", testid: "no-anomalies" }, "—");
    return table([t("priority"), t("rule"), t("status"), t("summary"), ""],
      mine.map((a) => h("tr", { testid: "anomaly-row" },
        h("td", {}, h("span", { class: `badge ${a.priority}` }, a.priority)), h("td", {}, a.rule),
        h("td", { testid: "anomaly-status" }, a.status), h("td", {}, a.detail),
        h("td", {}, anomalyActions(a, () => location.reload())))));
  } catch (error) {
    return h("p", { class: "error" }, error.message);
  }
}

function timelineSection(timeline, path) {
  const body = h("tbody", {});
  const fill = (entries) => append(clear(body), entries.map((e) =>
    h("tr", { testid: "timeline-entry", "data-kind": e.kind },
      h("td", {}, when(e.at)), h("td", {}, h("span", { class: "badge" }, e.kind)), h("td", {}, e.summary),
      h("td", {}, h("details", {}, h("summary", {}, t("details")), h("pre", {}, JSON.stringify(e.details, null, 2)))))));
  fill(timeline.entries);
  const reason = h("input", { class: "wide", testid: "raw-reason", placeholder: t("revealReason") });
  const status = h("span", { class: "hint" });
  const raw = can("decrypt")
    ? h("form", { class: "inline", testid: "raw", onsubmit: async (e) => {
        e.preventDefault();
        try {
          const request = requestOf(path);
          if (!request) {
            status.textContent = t("askFirst");
            return;
          }
          const answer = await api(`${path}/timeline${query({ include: "raw", reason: reason.value, request })}`);
          fill(answer.entries);
          status.textContent = t("revealed");
        } catch (error) {
          status.textContent = `${error.code}: ${error.message}`;
        }
      } }, reason, h("button", { type: "submit" }, t("showRaw")), status)
    : null;
  return h("section", { testid: "timeline" }, h("h3", {}, t("timeline")),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, [t("time"), t("kind"), t("summary"), t("details")].map((x) => h("th", {}, x)))), body),
    (timeline.not_covered || []).map((n) => h("p", { class: "hint" }, n)), raw);
}
