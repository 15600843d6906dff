"""The ``robot`` channel: alerts as markdown messages to an organisation's group-chat robot.

WeCom (企业微信) and DingTalk (钉钉) group chats take messages from a *custom robot*: an HTTPS
URL holding the robot's key (WeCom ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``,
DingTalk ``https://oapi.dingtalk.com/robot/send?access_token=…``) that accepts a JSON POST. An
organisation registers its robot's URL with the option ``flavour`` (``wecom`` or ``dingtalk``);
a DingTalk robot with 加签 (signing) also takes its ``SEC…`` secret, and every attempt then
carries ``timestamp`` (milliseconds) and ``sign`` = base64(HMAC-SHA256(key: secret, message:
"{timestamp}\\n{secret}")) as query parameters, as DingTalk specifies (it refuses a timestamp
more than an hour away). A robot answers HTTP 200 with ``{"errcode": 0}``; a throttled robot
(DingTalk 130101, WeCom 45009) is retried like a 429, any other errcode is a permanent refusal
(a wrong key, signature or keyword) and goes to the DLQ at once.

The message is the alert's rendered text in the recipient's language (the target's ``lang``
option may choose another), under its subject, with the alert id last (a chat has no
idempotency key: a crash between a POST and its record can repeat a message, which the id
shows). ``keyword`` (DingTalk's keyword security setting) is put in the heading. Text from
events cannot make links or markup: ``[ ] < > ` `` are shown in their full-width forms. The
robot's URL is a credential: it is listed and dead-lettered with its query values hidden, and
so is every path segment that may be a key (``key_like``: 16 characters or more, or 8 or more
with a digit), for robots that take their key in the path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from consumers.alerts.channel import (
    ChannelConfigError,
    Endpoint,
    OutboxTables,
    Prepared,
    RetryPolicy,
    outbox_tables,
)
from schemas.alerts import AlertRaised
from schemas.enums import Language

FLAVOURS = frozenset({"wecom", "dingtalk"})
OPTIONS = frozenset({"flavour", "lang", "keyword"})
THROTTLED = frozenset({130101, 45009})
"""Errcodes of a robot sending too fast (DingTalk, WeCom): retried with the backoff."""
MAX_CONTENT_BYTES = 4000
"""WeCom takes 4,096 bytes of markdown; DingTalk more: one limit for both."""
_INERT = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "[]<>`"})
"""Markdown's link, tag and code characters → their full-width forms (U+FF3B, U+FF3D, …)."""

TABLES = outbox_tables("alerts_robots", "alerts_robot_deliveries")
"""Organisations' robots (URL and signing secret kept in clear: they are how to post) and
their deliveries."""


def key_like(segment: str) -> bool:
    """Whether a URL path segment may be a key: long, or a shorter one with a digit (a path's
    words — ``cgi-bin``, ``webhook``, ``robot``, ``send``, ``v2`` — are neither)."""
    return len(segment) >= 16 or (len(segment) >= 8 and any(c.isdigit() for c in segment))  # noqa: PLR2004


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign``: base64 of HMAC-SHA256 of ``"{timestamp}\\n{secret}"`` by the secret."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def _cut(text: str, limit: int) -> str:
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit].decode(errors="ignore") + "…"


def message(alert: AlertRaised, language: Language, keyword: str | None) -> tuple[str, str]:
    """The title and the markdown content of ``alert`` in ``language``."""
    title = alert.about.translate(_INERT) + (f" · {keyword}" if keyword else "")
    text = alert.texts.in_language(language).translate(_INERT)
    tail = f"\n\n> {alert.alert_id}"
    room = MAX_CONTENT_BYTES - len(f"#### {title}\n\n".encode()) - len(tail.encode())
    return title, f"#### {title}\n\n{_cut(text, room)}{tail}"


@dataclass(frozen=True, slots=True)
class RobotChannel:
    """The ``robot`` channel (WeCom and DingTalk group robots)."""

    name: str = "robot"
    tables: OutboxTables = TABLES
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(attempts=8, base_s=2.0))
    """Throttling is per minute: 2, 4, … 128 s between eight tries (about four minutes)."""
    issues_secret: bool = False

    def configured(self, secret: str | None, options: Mapping[str, str]
                   ) -> tuple[str, dict[str, str]]:
        unknown = sorted(set(options) - OPTIONS)
        if unknown:
            raise ChannelConfigError(f"a robot takes the options {sorted(OPTIONS)}, not {unknown}")
        flavour = options.get("flavour", "")
        if flavour not in FLAVOURS:
            raise ChannelConfigError(f"a robot's flavour is one of {sorted(FLAVOURS)}, "
                                     f"not {flavour!r}")
        if "lang" in options and options["lang"] not in {lang.value for lang in Language}:
            raise ChannelConfigError(f"lang is en, zh or ur, not {options['lang']!r}")
        keyword = options.get("keyword")
        if keyword is not None and not (0 < len(keyword) <= 20 and keyword.isprintable()):  # noqa: PLR2004
            raise ChannelConfigError("a keyword is 1 to 20 printable characters")
        if secret and flavour != "dingtalk":
            raise ChannelConfigError("only a DingTalk robot signs with a secret")
        if secret and not (len(secret) <= 200 and secret.isascii() and secret.isprintable()  # noqa: PLR2004
                           and " " not in secret):
            raise ChannelConfigError("a robot's secret is printable ASCII without spaces")
        return secret or "", dict(options)

    def shown(self, url: str) -> str:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        hidden = urlencode([(k, "***") for k, _ in pairs], safe="*")
        path = "/".join("***" if key_like(s) else s for s in parts.path.split("/"))
        netloc = parts.netloc.rsplit("@", 1)[-1]  # never a user name or password either
        return urlunsplit(parts._replace(netloc=netloc, path=path, query=hidden, fragment=""))

    def body(self, endpoint: Endpoint, alert: AlertRaised, source: str) -> bytes:  # noqa: ARG002
        language = Language(endpoint.options.get("lang", alert.language.value))
        title, content = message(alert, language, endpoint.options.get("keyword"))
        markdown = ({"title": title, "text": content}
                    if endpoint.options.get("flavour") == "dingtalk" else {"content": content})
        return json.dumps({"msgtype": "markdown", "markdown": markdown}, ensure_ascii=False,
                          separators=(",", ":")).encode()

    def prepare(self, endpoint: Endpoint, alert_id: str, body: bytes, at: datetime) -> Prepared:  # noqa: ARG002
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if endpoint.options.get("flavour") != "dingtalk" or not endpoint.secret:
            return Prepared(headers)
        stamp = int(at.timestamp() * 1000)
        return Prepared(headers, {"timestamp": str(stamp),
                                  "sign": dingtalk_sign(endpoint.secret, stamp)})

    def judge(self, status: int, content: bytes) -> tuple[int, str]:
        if not 200 <= status < 300:  # noqa: PLR2004 - HTTP success
            return status, f"HTTP {status}"
        try:
            answer = json.loads(content)
            code, why = int(answer["errcode"]), str(answer.get("errmsg", ""))[:200]
        except (ValueError, TypeError, KeyError):
            return 502, f"HTTP {status} without a robot's answer"
        if code == 0:
            return status, "ok"
        return (429 if code in THROTTLED else 400), f"robot errcode {code}: {why}"


ROBOT = RobotChannel()
