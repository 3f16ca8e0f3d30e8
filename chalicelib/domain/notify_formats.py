"""A `Notice` in each notification channel's own message format. Pure: no I/O, no clock.

**WeCom (企业微信) group robot**, `POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`
with `{"msgtype": "markdown", "markdown": {"content": "..."}}`. The content is UTF-8 and at
most 4096 bytes; the markdown is a subset: headings (`#` to `######`, a space after the
hashes), `**bold**`, `[text](url)`, `` `code` ``, `> quote`, and `<font color="info|comment|
warning">` (green, grey, orange-red; no other colours). The robot answers `{"errcode": 0,
"errmsg": "ok"}`; a too-long content is refused with errcode 40058 ("markdown.content exceed
max length 4096"). Sources: the group-robot page of the WeCom API docs, "群机器人配置说明"
(https://work.weixin.qq.com/api/doc/90000/90136/91770, also developer.work.weixin.qq.com
/document/path/91770), and the 40058 answer quoted in RayWangQvQ/BiliBiliToolPro#702.

**DingTalk (钉钉) custom robot**, `POST https://oapi.dingtalk.com/robot/send?access_token=T`
with `{"msgtype": "markdown", "markdown": {"title": "...", "text": "..."}, "at": {"atMobiles":
[...], "isAtAll": false}}`: `title` is what the conversation list and the push show, `text`
is markdown (headings, `> quote`, bold, italic, links, images, lists); a line break needs a
blank line (we join lines with "\\n\\n"); to @ someone, their mobile is both in `atMobiles`
and written as `@mobile` in the text. A robot secured by **signing (加签)** takes two more
query parameters: `timestamp` (milliseconds, within one hour of DingTalk's clock) and `sign`
= urlEncode(base64(HmacSHA256(key = secret, message = timestamp + "\\n" + secret))), UTF-8,
secret being the robot's `SEC...` string; a wrong one is answered with errcode 310000 ("sign
not match"). Sources: DingTalk's "自定义机器人接入" (open.dingtalk.com/document/group/
custom-robot-access, as quoted with its Java and Python examples in www.mihaoyun.com/
wordpress/?p=391 and apifox.com/apidoc/docs-site/467052/doc-3550006). DingTalk publishes
no markdown size limit we could verify; we cap `text` at the same 4096 bytes as WeCom.

A robot secured by a keyword must find it in the message: every title starts "OrderHub".

**Email (SES)**: a subject, a plain-text body and a simple HTML body (escaped).

**SNS**: an ASCII subject (SNS requires ASCII, under 100 characters) and the notice as JSON,
with `priority`, `audience` and `kind` as message attributes for subscription filters.

Every format shows the priority, the title, the body, the facts and the link (the order's
timeline, a report's presigned URL), nothing else. Notices never carry personal data (see
`Notice`); as a last guard, a fact whose key names personal data (phone, address, buyer,
...) is dropped here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from chalicelib.domain.notices import Notice

WECOM_MAX_BYTES = 4096  # documented limit of markdown.content
DINGTALK_MAX_BYTES = 4096  # our own cap (see the module docstring)
DINGTALK_TITLE_MAX = 64  # characters; the title is a one-line preview
SNS_SUBJECT_MAX = 99  # SNS: ASCII, "less than 100 characters"
EMAIL_SUBJECT_MAX = 200
TRUNCATED = "… (truncated)"
LINK_TEXT = "Open in OrderHub"
PRODUCT = "OrderHub"
BEIJING = ZoneInfo("Asia/Shanghai")

# WeCom has three colours: info (green), comment (grey), warning (orange-red).
WECOM_COLOURS = {"P0": "warning", "P1": "warning", "P2": "comment", "info": "info"}
RESOLVED_KIND = "anomaly_resolved"

# A fact whose key has one of these words is personal data and is never sent.
PERSONAL_WORDS = frozenset(
    {
        "phone",
        "mobile",
        "tel",
        "telephone",
        "address",
        "addr",
        "email",
        "buyer",
        "receiver",
        "recipient",
        "consignee",
        "contact",
        "idcard",
        "passport",
    }
)


# --- pieces shared by the formats -----------------------------------------------------


def clean_line(text: str) -> str:
    """One line: control characters and line breaks become spaces, runs of spaces one."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())


def body_lines(text: str) -> list[str]:
    return [line for line in (clean_line(part) for part in text.splitlines()) if line]


def is_personal(key: str) -> bool:
    words = {w for w in re.split(r"[^a-z0-9]+", key.lower()) if w}
    return bool(words & PERSONAL_WORDS) or "phone" in key.lower()


def safe_facts(notice: Notice) -> list[tuple[str, str]]:
    """The notice's facts, in order, without any that name personal data."""
    return [
        (clean_line(str(k)), clean_line(str(v)))
        for k, v in notice.facts.items()
        if not is_personal(str(k))
    ]


def safe_link(link: str) -> str:
    """An http(s) URL usable inside markdown `[text](url)`, or "" (anything else is dropped)."""
    link = link.strip()
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc or re.search(r"\s", link):
        return ""
    # parentheses would end the markdown link early; they are legal percent-encoded
    path = parts.path.replace("(", "%28").replace(")", "%29")
    query = parts.query.replace("(", "%28").replace(")", "%29")
    return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


def when(at: datetime | None) -> str:
    """'2026-11-25 16:00 Beijing (08:00 UTC)', or '' without a time."""
    if at is None:
        return ""
    utc = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    local = utc.astimezone(BEIJING)
    return f"{local:%Y-%m-%d %H:%M} Beijing ({utc:%H:%M} UTC)"


def meta_line(notice: Notice) -> str:
    """'anomaly_opened · for ops · 2026-11-25 16:00 Beijing (08:00 UTC)' (no priority)."""
    parts = [clean_line(notice.kind), f"for {clean_line(notice.audience)}"]
    moment = when(notice.at)
    if moment:
        parts.append(moment)
    return " · ".join(p for p in parts if p)


def cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` within `max_bytes` UTF-8 bytes (never half a character)."""
    if max_bytes <= 0:
        return ""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class Line:
    """A rendered line: markup around a text that may be shortened (never the markup)."""

    before: str
    text: str
    after: str = ""

    def render(self) -> str:
        return f"{self.before}{self.text}{self.after}"

    def shortened(self, max_bytes: int) -> Line | None:
        """This line within `max_bytes`, its text cut and ended with '…'; None if no room."""
        room = max_bytes - utf8_len(self.before) - utf8_len(self.after) - utf8_len("…")
        if room <= 0:
            return None
        return Line(self.before, cut_utf8(self.text, room) + "…", self.after)


def fit(
    head: Sequence[Line], middle: Sequence[Line], tail: Sequence[Line], sep: str, limit: int
) -> str:
    """Join head + middle + tail with `sep` within `limit` UTF-8 bytes.

    Head (title, priority) and tail (the link) are kept whole; middle lines (body, facts)
    are kept in order while they fit, the first that does not is shortened, and a
    "… (truncated)" line says something was left out. Only if head and tail alone are too
    long is the head's first line (the title) shortened, and the middle dropped.
    """
    head_r = [line.render() for line in head]
    tail_r = [line.render() for line in tail]

    def size(lines: Sequence[str]) -> int:
        return utf8_len(sep.join(lines))

    if size(head_r + tail_r) > limit:
        rest = head_r[1:] + tail_r
        title_room = limit - size(rest) - (utf8_len(sep) if rest else 0)
        first = head[0].shortened(title_room) if head else None
        joined = sep.join(([first.render()] if first else []) + rest)
        return cut_utf8(joined, limit)
    kept: list[str] = []
    for line in middle:
        rendered = line.render()
        if size(head_r + kept + [rendered] + tail_r) <= limit:
            kept.append(rendered)
            continue
        # make room for the marker first (dropping whole lines if need be), then show as
        # much of this line as fits before it
        while kept and size(head_r + kept + [TRUNCATED] + tail_r) > limit:
            kept.pop()
        if size(head_r + kept + [TRUNCATED] + tail_r) > limit:
            break  # not even the marker fits: head and tail only
        room = limit - size(head_r + kept + [TRUNCATED] + tail_r) - utf8_len(sep)
        short = line.shortened(room)
        kept += [short.render(), TRUNCATED] if short is not None else [TRUNCATED]
        break
    return sep.join(head_r + kept + tail_r)


# --- WeCom -----------------------------------------------------------------------------


def wecom_content(notice: Notice, limit: int = WECOM_MAX_BYTES) -> str:
    colour = (
        "info" if notice.kind == RESOLVED_KIND else WECOM_COLOURS.get(notice.priority, "comment")
    )
    head = [
        Line("### ", clean_line(notice.title) or PRODUCT),
        Line(
            f'> <font color="{colour}">{clean_line(notice.priority)}</font> · ', meta_line(notice)
        ),
    ]
    middle = [Line("", line) for line in body_lines(notice.body)]
    middle += [Line(f"**{key}**: ", value) for key, value in safe_facts(notice)]
    link = safe_link(notice.link)
    tail = [Line(f"[{LINK_TEXT}](", link, ")")] if link else []
    return fit(head, middle, tail, "\n", limit)


def wecom_markdown(notice: Notice) -> dict[str, Any]:
    """The WeCom group robot's markdown message for the notice."""
    return {"msgtype": "markdown", "markdown": {"content": wecom_content(notice)}}


# --- DingTalk --------------------------------------------------------------------------


def headline(notice: Notice) -> str:
    """The title led by the priority ('P0 out_of_stock: ...'), without saying it twice."""
    priority, title = clean_line(notice.priority), clean_line(notice.title)
    if not title:
        return f"{priority} {clean_line(notice.kind)}".strip()
    return title if title.split(" ", 1)[0].rstrip(":") == priority else f"{priority} {title}"


def dingtalk_title(notice: Notice) -> str:
    title = f"{PRODUCT} {headline(notice)}"
    return title if len(title) <= DINGTALK_TITLE_MAX else title[: DINGTALK_TITLE_MAX - 1] + "…"


def dingtalk_text(
    notice: Notice, mention: Sequence[str] = (), limit: int = DINGTALK_MAX_BYTES
) -> str:
    head = [
        Line("### ", clean_line(notice.title) or PRODUCT),
        Line(f"> **{clean_line(notice.priority)}** · ", meta_line(notice)),
    ]
    middle = [Line("", line) for line in body_lines(notice.body)]
    middle += [Line(f"**{key}**: ", value) for key, value in safe_facts(notice)]
    link = safe_link(notice.link)
    tail = [Line(f"[{LINK_TEXT}](", link, ")")] if link else []
    if mention:  # DingTalk notifies an @mobile only when the text names it too
        tail.append(Line("", " ".join(f"@{m}" for m in mention)))
    return fit(head, middle, tail, "\n\n", limit)


def dingtalk_markdown(
    notice: Notice, at_mobiles: Sequence[str] = (), at_all: bool = False
) -> dict[str, Any]:
    """The DingTalk custom robot's markdown message; `at_*` only when someone is to be @-ed."""
    message: dict[str, Any] = {
        "msgtype": "markdown",
        "markdown": {"title": dingtalk_title(notice), "text": dingtalk_text(notice, at_mobiles)},
    }
    if at_mobiles or at_all:
        message["at"] = {"atMobiles": list(at_mobiles), "isAtAll": at_all}
    return message


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """urlEncode(base64(HmacSHA256(secret, f"{timestamp}\\n{secret}"))), as DingTalk documents."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The robot's webhook URL with `timestamp` and `sign` appended."""
    joiner = "&" if urlsplit(url).query else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


# --- Email -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailMessage:
    subject: str
    text: str
    html: str


def email_message(notice: Notice) -> EmailMessage:
    """Subject, plain text and simple HTML; the same content as the robots, never truncated
    but for the subject."""
    priority, title = clean_line(notice.priority), clean_line(notice.title) or PRODUCT
    subject = f"[{PRODUCT}] {headline(notice)}"
    if len(subject) > EMAIL_SUBJECT_MAX:
        subject = subject[: EMAIL_SUBJECT_MAX - 1] + "…"
    facts, body, link = safe_facts(notice), body_lines(notice.body), safe_link(notice.link)
    meta = f"{priority} · {meta_line(notice)}"
    text = [title, "", meta]
    if body:
        text += ["", *body]
    if facts:
        text += ["", *(f"{k}: {v}" for k, v in facts)]
    if link:
        text += ["", f"{LINK_TEXT}: {link}"]
    e = html.escape
    page = [
        f"<h2>{e(title)}</h2>",
        f"<p><strong>{e(priority)}</strong> · {e(meta_line(notice))}</p>",
    ]
    if body:
        page.append("<p>" + "<br>".join(e(line) for line in body) + "</p>")
    if facts:
        rows = "".join(f"<li><strong>{e(k)}</strong>: {e(v)}</li>" for k, v in facts)
        page.append(f"<ul>{rows}</ul>")
    if link:
        page.append(f'<p><a href="{e(link)}">{e(LINK_TEXT)}</a></p>')
    return EmailMessage(subject, "\n".join(text) + "\n", "\n".join(page) + "\n")


# --- SNS -------------------------------------------------------------------------------


def sns_subject(notice: Notice) -> str:
    """ASCII only (SNS refuses anything else): the headline when it is ASCII, else the kind."""
    shown = headline(notice)
    if not shown.isascii():
        shown = f"{clean_line(notice.priority)} {clean_line(notice.kind)}"
    subject = f"[{PRODUCT}] {shown}".encode("ascii", "replace").decode("ascii")
    return subject if len(subject) <= SNS_SUBJECT_MAX else subject[: SNS_SUBJECT_MAX - 3] + "..."


def sns_document(notice: Notice) -> dict[str, Any]:
    """The notice as the JSON document SNS subscribers receive (facts filtered)."""
    return {
        "kind": notice.kind,
        "priority": notice.priority,
        "audience": notice.audience,
        "title": notice.title,
        "body": notice.body,
        "link": safe_link(notice.link),
        "at": notice.at.astimezone(UTC).isoformat() if notice.at else None,
        "facts": dict(safe_facts(notice)),
    }


def sns_message(notice: Notice) -> str:
    return json.dumps(sns_document(notice), ensure_ascii=False)  # facts keep their order


# --- SMS -------------------------------------------------------------------------------

SMS_MAX_CHARS = 300  # SNS splits a text into parts; we keep alerts to a few parts at most
SMS_LAST_OF_WINDOW = "SMS limit reached: further alerts go to WeCom/DingTalk/email only"


def sms_text(notice: Notice, last_in_window: bool = False) -> str:
    """One short text: the headline and the link (always kept), cut to SMS_MAX_CHARS; the
    last text a channel may send in its window says so."""
    link = safe_link(notice.link)
    tail = [link] if link else []
    if last_in_window:
        tail.append(SMS_LAST_OF_WINDOW)
    room = SMS_MAX_CHARS - sum(len(t) + 1 for t in tail)
    head = f"{PRODUCT} {headline(notice)}"
    if len(head) > room:
        head = head[: max(room - 1, 0)] + "…"
    return "\n".join([head, *tail])
