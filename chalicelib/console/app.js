// The console's shell: sign in, the role's permissions, navigation, language, hash routes
// (#/orders, #/orders/{platform}/{store}/{id}, #/anomalies[/{key}], #/inventory[/{sku}],
// #/board, #/reports[/{yyyy-mm-dd}], #/reveal/{request_id}/{platform}/{store}/{id} (an approver's
// page for a reveal request); `?name=value` after a route: its filters), and the
// alarm banners above every screen.
import { api, key, signIn, signOut } from "./api.js";
import { bannerStrip, clearBanners, startBanners } from "./banner.js";
import { append, clear, h } from "./dom.js";
import { lang, switchLang, t } from "./i18n.js";
import { ordersScreen, orderPanel } from "./orders.js";
import { anomaliesScreen, inventoryScreen } from "./stock.js";
import { boardScreen, reportsScreen } from "./board.js";
import { revealScreen } from "./reveal.js";

const root = document.getElementById("app");
export const session = { me: null };

export function can(permission) {
  return Boolean(session.me && session.me.permissions.includes(permission));
}

const SCREENS = [
  ["orders", "read_orders"],
  ["inventory", "read_inventory"],
  ["anomalies", "read_anomalies"],
  ["board", "read_reports"],
  ["reports", "read_reports"],
];

function signInForm(message) {
  const input = h("input", { type: "password", id: "api-key", testid: "api-key", autocomplete: "off" });
  const form = h(
    "form",
    {
      class: "signin",
      testid: "signin",
      onsubmit: async (event) => {
        event.preventDefault();
        signIn(input.value.trim());
        await start();
      },
    },
    h("h1", {}, t("title")),
    h("label", { for: "api-key" }, t("apiKey")),
    input,
    h("p", { class: "hint" }, t("keyHint")),
    message ? h("p", { class: "error", testid: "signin-error" }, message) : null,
    h("button", { type: "submit", testid: "signin-submit" }, t("signIn")),
    h("button", { type: "button", class: "link", onclick: () => { switchLang(); render(); } }, t("language")),
  );
  append(clear(root), form);
}

// The hash's route parts and its `?` filters (an anomaly key's `?` arrives encoded).
function route() {
  const [path, search] = location.hash.replace(/^#\//, "").split("?");
  return { parts: path.split("/").map(decodeURIComponent), params: new URLSearchParams(search || "") };
}

function shell(main) {
  const current = route().parts[0] || "orders";
  const nav = h(
    "nav",
    { testid: "nav" },
    h("strong", {}, "OrderHub"),
    SCREENS.filter(([, p]) => can(p)).map(([name]) =>
      h("a", { href: `#/${name}`, class: current === name ? "active" : "", testid: `nav-${name}` }, t(name)),
    ),
    h("span", { class: "spacer" }),
    h("span", { class: "who", testid: "who" }, `${session.me.owner} · ${t("role")}: ${session.me.role}`),
    h("button", { class: "link", testid: "lang", onclick: () => { switchLang(); render(); } }, t("language")),
    h("button", { testid: "signout", onclick: () => { signOut(); session.me = null; clearBanners(); location.hash = ""; signInForm(); } }, t("signOut")),
  );
  append(clear(root), nav, bannerStrip(), main);
}

export function render() {
  document.documentElement.lang = lang();
  document.title = t("title");
  if (!session.me) return signInForm();
  const { parts, params } = route();
  const main = h("main", { testid: "main" });
  shell(main);
  const [screen, ...rest] = parts;
  if (screen === "reveal" && rest[0]) return revealScreen(main, rest[0], rest[1], rest[2], rest[3]);
  const allowed = Object.fromEntries(SCREENS);
  const name = allowed[screen] ? screen : SCREENS.find(([, p]) => can(p))[0];
  if (!can(allowed[name])) return;
  if (name === "orders" && rest.length === 3) return orderPanel(main, rest[0], rest[1], rest[2]);
  if (name === "orders") return ordersScreen(main);
  if (name === "inventory") return inventoryScreen(main, rest[0] || "");
  if (name === "anomalies") return anomaliesScreen(main, rest.join("/"), params.get("rule") || "");
  if (name === "board") return boardScreen(main);
  return reportsScreen(main, rest[0] || "");
}

async function start() {
  if (!key()) return signInForm();
  try {
    session.me = await api("/me");
  } catch (error) {
    signOut();
    return signInForm(`${t("badKey")}: ${error.message}`);
  }
  render();
}

window.addEventListener("hashchange", render);
startBanners(() => Boolean(session.me));
start();
