// The alarm banners above every screen: GET /ops/banners (every role may read it) lists the
// banner alarms now in ALARM (the oversell rate). Read after sign-in, on every screen change
// and every 60 s; each shown red with its text and a link, the strip hidden when none.
import { api } from "./api.js";
import { append, clear, h } from "./dom.js";
import { t, when } from "./i18n.js";

export const PERIOD_MS = 60_000;
const INBOX = "#/anomalies";
// The inbox narrowed to what the alarm is about, when its link is the plain inbox.
const FILTERS = { "orderhub-oversell-rate-above-0": "rule=out_of_stock" };

const state = { banners: [], strip: null, signedIn: () => false };

// A console route from the banner's link: its `#/…` part (the same tab, any host or stage
// prefix), narrowed for known alarms; a link elsewhere only when it is plain http(s).
export function bannerHref(banner) {
  const link = String(banner.link || "");
  const at = link.indexOf("#/");
  const route = at >= 0 ? link.slice(at) : link ? null : INBOX;
  if (route === null) return /^https?:\/\//i.test(link) ? link : INBOX;
  const filter = FILTERS[banner.alarm];
  return route === INBOX && filter ? `${route}?${filter}` : route;
}

function view(banner) {
  const text = t(`banner:${banner.alarm}`);
  const known = text !== `banner:${banner.alarm}`;
  return h(
    "div",
    { class: "banner", role: "alert", testid: "banner", "data-alarm": banner.alarm },
    h("strong", { testid: "banner-title" }, known ? text : banner.title || banner.alarm),
    h("span", { testid: "banner-message" }, known ? t(`bannerBody:${banner.alarm}`) : banner.message),
    banner.reason ? h("span", { class: "reason" }, banner.reason) : null,
    banner.since ? h("span", { class: "reason" }, `${t("since")} ${when(banner.since)}`) : null,
    h("a", { href: bannerHref(banner), testid: "banner-link" }, t("bannerLink")),
  );
}

function draw() {
  if (!state.strip) return;
  clear(state.strip);
  state.strip.hidden = state.banners.length === 0;
  append(state.strip, state.banners.map(view));
}

// The strip of a newly drawn screen: the last banners known at once, then read again.
export function bannerStrip() {
  state.strip = h("div", { class: "banners", testid: "banners", "aria-live": "polite" });
  draw();
  refreshBanners();
  return state.strip;
}

export async function refreshBanners() {
  if (!state.signedIn()) return;
  try {
    state.banners = (await api("/ops/banners")).banners || [];
  } catch {
    return; // keep what was shown: a missed read is retried on the next screen or period
  }
  draw();
}

export function clearBanners() {
  state.banners = [];
  state.strip = null;
}

// Called once by the shell: `signedIn` tells whether a read may be made now.
export function startBanners(signedIn) {
  state.signedIn = signedIn;
  setInterval(refreshBanners, PERIOD_MS);
}
