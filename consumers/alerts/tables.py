"""The alerts' tables, beside the views in the same database (one transaction covers both).

They are not part of the views' generations: a rebuild replays events into fresh views, but the
alert ledger (``alerts``) is kept, so replaying history never sends an alert twice. Each push
channel declares its own two tables on this ``metadata`` (``channel.outbox_tables``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

_SEQ = BigInteger().with_variant(Integer, "sqlite")  # SQLite auto-numbers INTEGER keys only

alerts = Table(
    "alerts_ledger", metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("alert_id", String(32), nullable=False, unique=True),
    Column("recipient", String(120), nullable=False),
    Column("rule", String(40), nullable=False),
    Column("about", String(200), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("raised_at", String(40), nullable=False),
    Column("doc", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", String(200)),
    Column("claimed_at", String(40)),
    Column("claimed_until", String(40)),
    Column("delivered_at", String(40)),
    Column("log_partition", Integer),
    Column("log_offset", BigInteger),
)
"""Every alert ever raised: the outbox (``delivered_at`` null) and the ledger of ids."""
Index("alerts_ledger_pending", alerts.c.delivered_at, alerts.c.seq)
Index("alerts_ledger_recipient", alerts.c.recipient, alerts.c.seq)

deadlines = Table(
    "alerts_deadlines", metadata,
    Column("key", String(300), primary_key=True),
    Column("rule", String(40), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("log_partition", Integer, nullable=False),
    Column("fires_at", String(40), nullable=False),
    Column("due_on", String(10)),
    Column("params", Text, nullable=False),
    Column("fired_at", String(40)),
)
"""Pending and fired deadlines. ``topic``/``log_partition`` is where the subject's events live:
only the consumer that owns that partition fires its deadlines."""
Index("alerts_deadlines_due", deadlines.c.fired_at, deadlines.c.fires_at)
Index("alerts_deadlines_subject", deadlines.c.subject)

subscriptions = Table(
    "alerts_subscriptions", metadata,
    Column("id", String(32), primary_key=True),
    Column("org", String(120), nullable=False, index=True),
    Column("minerals", Text, nullable=False),
    Column("provinces", Text, nullable=False),
    Column("stages", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)
