// English and Simplified Chinese; the browser's language decides until the person switches
// (kept in sessionStorage). Numbers, money and times are formatted by Intl in that locale.
const LANG = "orderhub.lang";

const en = {
  title: "OrderHub console", signIn: "Sign in", signOut: "Sign out", apiKey: "API key",
  keyHint: "Your OrderHub API key (kept in this tab only).", badKey: "That key was refused",
  orders: "Orders", inventory: "Inventory", anomalies: "Anomalies", board: "Board", reports: "Reports",
  search: "Search", searchHint: "Order id (or its start) or buyer phone", platform: "Platform",
  store: "Store", status: "Status", booking: "Booking", from: "From", to: "To", any: "Any",
  order: "Order", placed: "Placed", updated: "Updated", amount: "Amount", reason: "Reason",
  more: "More", noResults: "Nothing found", buyer: "Buyer", lifecycle: "Lifecycle",
  lines: "Lines", holds: "Holds per warehouse", sku: "SKU", quantity: "Quantity",
  unitPrice: "Unit price", warehouse: "Warehouse", reserved: "Reserved", locked: "Locked",
  shipped: "Shipped", total: "Total", timeline: "Timeline", kind: "Kind", time: "Time",
  summary: "Summary", details: "Details", reveal: "Reveal", revealReason: "Why do you need it?",
  rawPayload: "Raw payloads", showRaw: "Show raw payloads", acknowledge: "Acknowledge",
  resolve: "Resolve", note: "Note", priority: "Priority", rule: "Rule", owner: "Owner",
  subject: "Subject", opened: "Opened", sla: "SLA", overdue: "overdue", left: "left",
  onHand: "On hand", available: "Available", safety: "Safety stock", holdback: "Holdback",
  channels: "Channels (last pushed)", lowOnly: "Low stock only", limited: "Limited sale",
  low: "Low", edit: "Edit policy", save: "Save", cancel: "Cancel", holdbackFor: "Kept for",
  receipt: "Receipt", count: "Count", adjust: "Receipt / count", kindLabel: "Kind",
  adjustmentId: "Adjustment id", ordersPerDay: "Orders per platform per day",
  gmvPerDay: "GMV per platform per day", metrics: "Service indicators vs target",
  target: "Target", met: "met", missed: "missed", noData: "no data", health: "Channel health",
  day: "Day", files: "Files", download: "Download", noReports: "No reports for this day",
  role: "Role", saved: "Saved", language: "中文", anomaliesOfOrder: "Anomalies of this order",
  syncLatency: "Sync latency p50 (s)", oversell: "Oversell rate %", anomalyRatio: "Anomaly ratio %",
  chaseRate: "Customer chase rate %", acknowledged: "acknowledged", open: "open", resolved: "resolved",
  warehouses: "Warehouses", region: "Region", priorityN: "Priority", ok: "OK", failing: "failing",
  notFound: "Not found", revealed: "Shown in clear (audited)", error: "Error",
  active: "Open + acknowledged", linksExpire: "Links valid until",
  "banner:orderhub-oversell-rate-above-0": "Oversell alarm",
  "bannerBody:orderhub-oversell-rate-above-0": "Yesterday (Beijing day) some orders were oversold.",
  bannerLink: "Open the anomalies", since: "since",
  askReveal: "Ask to reveal", waitingApproval: "Waiting for approval by a second person",
  sendLink: "Send this link to an approver (admin, ops):", askAgain: "Ask again",
  askFirst: "Ask to reveal the buyer first (above); raw payloads use that approved request",
  revealRequest: "Reveal request", request: "Request", approve: "Approve",
  approved: "Approved: the requester may reveal this order's buyer for 30 minutes",
  requestedBy: "Asked by", validUntil: "Valid until",
  approveHint: "Approve only if you know why the buyer's data is needed; who asked and why are shown with the approval, and both are audited.",
  cannotApprove: "This key cannot approve reveals (approve_decrypt: admin, ops); send the link to someone who can.",
};

const zh = {
  title: "OrderHub 控制台", signIn: "登录", signOut: "退出", apiKey: "API 密钥",
  keyHint: "您的 OrderHub API 密钥（仅保存在本标签页）。", badKey: "密钥被拒绝",
  orders: "订单", inventory: "库存", anomalies: "异常", board: "看板", reports: "报表",
  search: "搜索", searchHint: "订单号（或开头）或买家手机号", platform: "平台", store: "店铺",
  status: "状态", booking: "占用", from: "起", to: "止", any: "全部", order: "订单",
  placed: "下单时间", updated: "更新时间", amount: "金额", reason: "原因", more: "更多",
  noResults: "没有结果", buyer: "买家", lifecycle: "生命周期", lines: "商品行",
  holds: "各仓占用", sku: "SKU", quantity: "数量", unitPrice: "单价", warehouse: "仓库",
  reserved: "预占", locked: "锁定", shipped: "已发", total: "合计", timeline: "时间线",
  kind: "类型", time: "时间", summary: "摘要", details: "详情", reveal: "查看明文",
  revealReason: "查看原因？", rawPayload: "原始报文", showRaw: "显示原始报文",
  acknowledge: "确认", resolve: "解决", note: "备注", priority: "级别", rule: "规则",
  owner: "负责角色", subject: "对象", opened: "发生时间", sla: "时限", overdue: "已超时",
  left: "剩余", onHand: "在库", available: "可用", safety: "安全库存", holdback: "预留",
  channels: "渠道（最近推送）", lowOnly: "仅低库存", limited: "限量销售", low: "低库存",
  edit: "编辑策略", save: "保存", cancel: "取消", holdbackFor: "预留给", receipt: "入库",
  count: "盘点", adjust: "入库 / 盘点", kindLabel: "类型", adjustmentId: "单据号",
  ordersPerDay: "各平台每日订单数", gmvPerDay: "各平台每日成交额", metrics: "服务指标与目标",
  target: "目标", met: "达标", missed: "未达标", noData: "无数据", health: "渠道健康",
  day: "日期", files: "文件", download: "下载", noReports: "当天没有报表", role: "角色",
  saved: "已保存", language: "English", anomaliesOfOrder: "本订单的异常",
  syncLatency: "同步延迟中位数（秒）", oversell: "超卖率 %", anomalyRatio: "异常占比 %",
  chaseRate: "客户催单率 %", acknowledged: "已确认", open: "未处理", resolved: "已解决",
  warehouses: "仓库", region: "区域", priorityN: "优先级", ok: "正常", failing: "故障",
  notFound: "未找到", revealed: "已显示明文（已审计）", error: "错误",
  active: "未处理 + 已确认", linksExpire: "链接有效期至",
  "banner:orderhub-oversell-rate-above-0": "超卖告警",
  "bannerBody:orderhub-oversell-rate-above-0": "昨天（北京时间）有订单超卖。",
  bannerLink: "查看异常", since: "开始于",
  askReveal: "申请查看明文", waitingApproval: "等待第二人审批",
  sendLink: "请把此链接发给审批人（管理员、运维）：", askAgain: "重新申请",
  askFirst: "请先在上方申请查看买家明文；原始报文使用该已批准的申请",
  revealRequest: "查看明文申请", request: "申请", approve: "批准",
  approved: "已批准：申请人可在 30 分钟内查看本订单买家明文",
  requestedBy: "申请人", validUntil: "有效期至",
  approveHint: "仅在清楚为何需要买家信息时批准；申请人和原因随批准结果显示，并记入审计。",
  cannotApprove: "此密钥无权审批查看明文（需 approve_decrypt：管理员、运维）；请把链接发给有权限的人。",
};

export function lang() {
  const chosen = sessionStorage.getItem(LANG);
  if (chosen) return chosen;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function switchLang() {
  sessionStorage.setItem(LANG, lang() === "zh-CN" ? "en" : "zh-CN");
}

export function t(name) {
  const table = lang() === "zh-CN" ? zh : en;
  return table[name] || en[name] || name;
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(lang(), { dateStyle: "short", timeStyle: "medium" }).format(date);
}

export function money(amount, currency) {
  if (amount === undefined || amount === null) return "";
  try {
    return new Intl.NumberFormat(lang(), { style: "currency", currency: currency || "CNY" }).format(
      Number(amount),
    );
  } catch {
    return `${amount} ${currency || ""}`;
  }
}

export function countdown(iso, now = Date.now()) {
  if (!iso) return "";
  const ms = new Date(iso).getTime() - now;
  const minutes = Math.round(Math.abs(ms) / 60000);
  const text = minutes >= 60 ? `${Math.floor(minutes / 60)}h ${minutes % 60}m` : `${minutes}m`;
  return ms < 0 ? `${t("overdue")} ${text}` : `${text} ${t("left")}`;
}

export const KEYS = { en, zh };
