// The two-person reveal (docs/access.md): the requester asks with a reason
// (POST .../personal-data/requests), sends the link #/reveal/{request_id}/{platform}/{store}/{id}
// to an approver, who approves there (POST /personal-data/requests/{id}/approve, approve_decrypt);
// then the requester reveals with the request id (POST .../personal-data {request_id}) and may
// show the timeline's raw payloads with it (include=raw&request=). The order's request id is
// remembered in sessionStorage (this tab only), never a buyer's data.
import { api } from "./api.js";
import { can } from "./app.js";
import { append, clear, h } from "./dom.js";
import { t, when } from "./i18n.js";

const PREFIX = "orderhub.reveal:";

export function requestOf(path) {
  return sessionStorage.getItem(PREFIX + path);
}

function remember(path, requestId) {
  if (requestId) sessionStorage.setItem(PREFIX + path, requestId);
  else sessionStorage.removeItem(PREFIX + path);
}

export function revealLink(requestId, order) {
  const parts = [requestId, order.platform, order.store, order.order_id].map(encodeURIComponent);
  return `${location.origin}${location.pathname}#/reveal/${parts.join("/")}`;
}

function fieldsList(fields, testid) {
  return h("dl", { class: "facts", testid },
    Object.entries(fields || {}).filter(([, v]) => v).map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
}

function failure(error) {
  return h("p", { class: "error", testid: "reveal-error" }, `${error.code}: ${error.message}`);
}

// The buyer panel's controls (decrypt only): ask, wait with a link for the approver, reveal.
export function revealControls(order, path) {
  const box = h("div", { testid: "reveal" });
  const out = h("div", { testid: "reveal-result" });
  const draw = () => {
    const requestId = requestOf(path);
    clear(box);
    if (!requestId) {
      const reason = h("input", { class: "wide", testid: "reveal-reason", placeholder: t("revealReason") });
      return append(box, h("form", { class: "inline", testid: "reveal-ask-form", onsubmit: async (e) => {
        e.preventDefault();
        try {
          const asked = await api(`${path}/personal-data/requests`, { method: "POST", body: { reason: reason.value } });
          remember(path, asked.request_id);
          clear(out);
          draw();
        } catch (error) {
          append(clear(out), failure(error));
        }
      } }, reason, h("button", { type: "submit", testid: "reveal-ask" }, t("askReveal"))));
    }
    const link = revealLink(requestId, order);
    append(box,
      h("p", { class: "hint", testid: "reveal-waiting" }, `${t("waitingApproval")} (${requestId})`),
      h("p", { class: "hint" }, `${t("sendLink")} `, h("a", { href: link, class: "wrap", testid: "reveal-link" }, link)),
      h("div", { class: "inline" },
        h("button", { type: "button", testid: "reveal-show", onclick: async () => {
          try {
            const answer = await api(`${path}/personal-data`, { method: "POST", body: { request_id: requestId } });
            append(clear(out), h("p", { class: "hint" }, t("revealed")), fieldsList(answer.buyer, "reveal-fields"));
          } catch (error) {
            append(clear(out), failure(error));
          }
        } }, t("reveal")),
        h("button", { type: "button", class: "secondary", testid: "reveal-forget", onclick: () => {
          remember(path, null);
          clear(out);
          draw();
        } }, t("askAgain"))));
  };
  draw();
  return [box, out];
}

// #/reveal/{request_id}/{platform}/{store}/{order_id}: the approver's page.
export function revealScreen(main, requestId, platform, store, orderId) {
  const order = platform && store && orderId
    ? `#/orders/${[platform, store, orderId].map(encodeURIComponent).join("/")}` : null;
  const out = h("div", { testid: "approve-result" });
  const approve = can("approve_decrypt")
    ? h("button", { type: "button", testid: "approve-reveal", onclick: async (e) => {
        e.target.disabled = true;
        try {
          const done = await api(`/personal-data/requests/${encodeURIComponent(requestId)}/approve`, { method: "POST" });
          append(clear(out), h("p", { class: "hint", testid: "approved" }, t("approved")),
            h("dl", { class: "facts" },
              h("dt", {}, t("order")), h("dd", {}, done.order_key),
              h("dt", {}, t("requestedBy")), h("dd", { testid: "approved-requester" },
                done.requested_by ? `${done.requested_by.owner} (${done.requested_by.role})` : ""),
              h("dt", {}, t("reason")), h("dd", { testid: "approved-reason" }, done.reason || ""),
              h("dt", {}, t("validUntil")), h("dd", {}, when(done.valid_until))));
        } catch (error) {
          e.target.disabled = false;
          append(clear(out), failure(error));
        }
      } }, t("approve"))
    : h("p", { class: "error", testid: "cannot-approve" }, t("cannotApprove"));
  append(main, h("section", { testid: "reveal-request" },
    h("h2", {}, t("revealRequest")),
    h("dl", { class: "facts" },
      h("dt", {}, t("request")), h("dd", { testid: "reveal-request-id" }, requestId),
      order ? [h("dt", {}, t("order")), h("dd", {}, h("a", { href: order, testid: "reveal-order" }, `${platform} / ${store} / ${orderId}`))] : null),
    h("p", { class: "hint" }, t("approveHint")),
    approve, out));
}
