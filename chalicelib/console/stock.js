// Inventory (low stock highlighted, limited-sale badge, last pushed quantity per channel,
// stock policy for ops, receipts and counts for the warehouse) and the anomalies inbox
// (P0/P1/P2, SLA countdown, owner role, acknowledge / resolve with a note, filters).
import { api, query } from "./api.js";
import { can, session } from "./app.js";
import { append, clear, h, table } from "./dom.js";
import { countdown, t, when } from "./i18n.js";

const inv = { low: false, sku: "" };

export function inventoryScreen(main, sku) {
  if (sku) inv.sku = sku;
  const list = h("div", { testid: "inventory-list" });
  const form = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(list); } },
    h("label", {}, t("sku"), h("input", { testid: "sku-filter", value: inv.sku, oninput: (e) => { inv.sku = e.target.value; } })),
    h("label", { class: "inline" }, h("input", { type: "checkbox", testid: "low-only", checked: inv.low, onchange: (e) => { inv.low = e.target.checked; load(list); } }), t("lowOnly")),
    h("button", { type: "submit" }, t("search")));
  append(main, h("section", {}, h("h2", {}, t("inventory")), form), h("section", {}, list));
  load(list);
  if (can("read_inventory")) warehouses(main);
}

async function load(list) {
  try {
    const page = await api("/inventory" + query({ low: inv.low ? "1" : "", sku: inv.sku }));
    const rows = page.items.flatMap((item) => item.warehouses.map((w, i) =>
      h("tr", { class: w.low ? "low" : "", testid: "stock-row", "data-sku": item.sku, "data-warehouse": w.warehouse },
        h("td", {}, i === 0 ? [h("strong", {}, item.sku), " ", item.limited_sale ? h("span", { class: "badge warn", testid: "limited" }, t("limited")) : null] : ""),
        h("td", {}, w.warehouse), h("td", {}, w.on_hand), h("td", {}, w.locked), h("td", {}, w.reserved),
        h("td", {}, w.available, w.low ? h("span", { class: "badge bad" }, t("low")) : null),
        h("td", { testid: "safety" }, w.safety_stock),
        h("td", {}, w.holdback ? `${w.holdback} → ${w.holdback_channels.join(", ")}` : "—"),
        h("td", { testid: "channels" }, i === 0 ? item.channels.map((c) => h("div", { class: "muted" }, `${c.platform}/${c.store}: ${c.quantity} (${when(c.at)})`)) : ""),
        h("td", {}, controls(item.sku, w, () => load(list))))));
    append(clear(list), rows.length ? table([t("sku"), t("warehouse"), t("onHand"), t("locked"), t("reserved"), t("available"),
      t("safety"), t("holdback"), t("channels"), ""], rows, "inventory-table") : h("p", {}, t("noResults")));
  } catch (error) {
    append(clear(list), h("p", { class: "error" }, error.message));
  }
}

function controls(sku, w, reload) {
  const out = h("div", {});
  if (can("set_stock_policy")) {
    out.append(h("button", { class: "secondary", testid: "edit-policy", onclick: () => policyForm(out, sku, w, reload) }, t("edit")));
  }
  if (can("adjust_stock")) {
    out.append(h("button", { class: "secondary", testid: "adjust", onclick: () => adjustForm(out, sku, w, reload) }, t("adjust")));
  }
  return out;
}

function policyForm(out, sku, w, reload) {
  const safety = h("input", { type: "number", min: 0, value: w.safety_stock, testid: "policy-safety" });
  const holdback = h("input", { type: "number", min: 0, value: w.holdback, testid: "policy-holdback" });
  const channels = h("input", { value: w.holdback_channels.join(","), placeholder: "tiktok,douyin", testid: "policy-channels" });
  const message = h("span", { class: "hint" });
  append(clear(out), h("form", { class: "filters", testid: "policy-form", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api(`/inventory/${encodeURIComponent(sku)}/warehouses/${encodeURIComponent(w.warehouse)}/policy`, { method: "PUT",
        body: { safety_stock: Number(safety.value), holdback: Number(holdback.value),
          holdback_channels: channels.value.split(",").map((x) => x.trim()).filter(Boolean) } });
      reload();
    } catch (error) {
      message.textContent = error.message;
    }
  } }, h("label", {}, t("safety"), safety), h("label", {}, t("holdback"), holdback), h("label", {}, t("holdbackFor"), channels),
  h("button", { type: "submit", testid: "policy-save" }, t("save")), h("button", { type: "button", class: "link", onclick: reload }, t("cancel")), message));
}

function adjustForm(out, sku, w, reload) {
  const kind = h("select", { testid: "adjust-kind" }, h("option", { value: "receipt" }, t("receipt")), h("option", { value: "count" }, t("count")));
  const quantity = h("input", { type: "number", min: 0, value: 0, testid: "adjust-quantity" });
  const reason = h("input", { testid: "adjust-reason", placeholder: t("reason") });
  const message = h("span", { class: "hint" });
  append(clear(out), h("form", { class: "filters", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api(`/inventory/${encodeURIComponent(sku)}/adjustments`, { method: "POST", body: {
        adjustment_id: `console-${Date.now()}`, warehouse: w.warehouse, kind: kind.value, quantity: Number(quantity.value), reason: reason.value } });
      reload();
    } catch (error) {
      message.textContent = error.message;
    }
  } }, kind, quantity, reason, h("button", { type: "submit" }, t("save")), h("button", { type: "button", class: "link", onclick: reload }, t("cancel")), message));
}

async function warehouses(main) {
  try {
    const found = await api("/warehouses");
    const section = h("section", { testid: "warehouses" });
    append(main, section);
    const draw = (list) => append(clear(section), h("h3", {}, t("warehouses")),
      table([t("warehouse"), t("region"), t("priorityN"), ""], list.map((w) => {
        const region = h("input", { value: w.region, testid: "warehouse-region" });
        const priority = h("input", { type: "number", min: 1, value: w.priority, testid: "warehouse-priority" });
        const message = h("span", { class: "hint" });
        const save = async () => {
          try {
            await api(`/warehouses/${encodeURIComponent(w.warehouse)}`, { method: "PUT", body: { region: region.value, priority: Number(priority.value) } });
            draw((await api("/warehouses")).warehouses);
          } catch (error) {
            message.textContent = error.message;
          }
        };
        return can("set_stock_policy")
          ? h("tr", {}, h("td", {}, w.warehouse), h("td", {}, region), h("td", {}, priority), h("td", {}, h("button", { class: "secondary", testid: "warehouse-save", onclick: save }, t("save")), message))
          : h("tr", {}, h("td", {}, w.warehouse), h("td", {}, w.region), h("td", {}, w.priority), h("td", {}));
      })));
    draw(found.warehouses);
  } catch (error) {
    append(main, h("p", { class: "error" }, error.message));
  }
}

// ---- anomalies ----------------------------------------------------------------------------

const inbox = { status: "", priority: "", owner: "", rule: "" };

export function anomalyActions(a, done) {
  const mayHandle = can("handle_anomalies") && (session.me.role === "admin" || session.me.role === a.owner);
  if (!mayHandle || a.status === "resolved") return h("span", { class: "muted" }, a.owner);
  const note = h("input", { placeholder: t("note"), testid: "anomaly-note" });
  const message = h("span", { class: "hint" });
  const step = (action) => async () => {
    try {
      await api(`${a.path}/${action}`, { method: "POST", body: { note: note.value } });
      done();
    } catch (error) {
      message.textContent = error.message;
    }
  };
  return h("div", { class: "inline" }, note,
    a.status === "open" ? h("button", { testid: "acknowledge", onclick: step("acknowledge") }, t("acknowledge")) : null,
    h("button", { class: "secondary", testid: "resolve", onclick: step("resolve") }, t("resolve")), message);
}

// `rule` comes from the route (`#/anomalies?rule=out_of_stock`, the oversell banner's link).
export function anomaliesScreen(main, key, rule = "") {
  inbox.rule = rule;
  const list = h("div", { testid: "anomaly-list" });
  const ruleFilter = h("input", { testid: "filter-rule", value: rule, placeholder: t("any"), onchange: (e) => {
    const value = e.target.value.trim();
    location.hash = value ? `#/anomalies?${new URLSearchParams({ rule: value })}` : "#/anomalies";
  } });
  const pick = (name, options, blank) => h("select", { testid: `filter-${name}`, onchange: (e) => { inbox[name] = e.target.value; load2(list, key); } },
    options.map((o) => h("option", { value: o, selected: inbox[name] === o }, o ? (name === "status" ? t(o) : o) : blank)));
  append(main, h("section", {}, h("h2", {}, t("anomalies")), h("div", { class: "filters" },
    h("label", {}, t("status"), pick("status", ["", "open", "acknowledged", "resolved"], t("active"))),
    h("label", {}, t("priority"), pick("priority", ["", "P0", "P1", "P2"], t("any"))),
    h("label", {}, t("owner"), pick("owner", ["", "ops", "cs", "warehouse", "finance", "admin"], t("any"))),
    h("label", {}, t("rule"), ruleFilter))), h("section", {}, list));
  load2(list, key);
}

async function load2(list, key) {
  try {
    const found = key ? { anomalies: [await api(`/anomalies/${encodeURIComponent(key)}`)] }
      : await api("/anomalies" + query({ status: inbox.status, priority: inbox.priority, rule: inbox.rule }));
    if (inbox.owner) found.anomalies = found.anomalies.filter((a) => a.owner === inbox.owner);
    const order = { P0: 0, P1: 1, P2: 2 };
    const rows = found.anomalies.sort((a, b) => order[a.priority] - order[b.priority]).map((a) => {
      const due = a.status === "open" ? a.acknowledge_by : a.resolve_by;
      const late = due && new Date(due).getTime() < Date.now() && a.status !== "resolved";
      const parts = a.subject.split("#");
      const link = parts.length === 3 && a.subject.split("#").length === 3 && a.rule !== "stock_push_rejected"
        ? h("a", { href: `#/orders/${parts.map(encodeURIComponent).join("/")}` }, a.subject) : a.subject;
      return h("tr", { testid: "anomaly-row", "data-key": a.key },
        h("td", {}, h("span", { class: `badge ${a.priority}` }, a.priority)),
        h("td", {}, h("a", { href: `#/anomalies/${encodeURIComponent(a.key)}` }, a.rule)), h("td", {}, link),
        h("td", { testid: "anomaly-status" }, t(a.status)), h("td", {}, a.owner),
        h("td", { class: late ? "overdue" : "" }, a.status === "resolved" ? "—" : countdown(due)),
        h("td", {}, when(a.opened_at)), h("td", {}, a.detail),
        h("td", {}, anomalyActions(a, () => load2(list, key))));
    });
    append(clear(list), rows.length ? table([t("priority"), t("rule"), t("subject"), t("status"), t("owner"), t("sla"), t("opened"), t("summary"), ""], rows, "anomalies-table")
      : h("p", {}, t("noResults")));
  } catch (error) {
    append(clear(list), h("p", { class: "error" }, error.message));
  }
}
