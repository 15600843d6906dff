"""One authenticated submission becomes one record on the log, or a refusal that says why."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from producers.chainstore import SourceInUseError
from producers.gateway_custody import CustodyError, EventQueuedError, Origin, acceptance
from producers.gateway_models import SignedCloudEvent, UnsignedEvent
from producers.gateway_receipts import Receipt, ReceiptState
from producers.gateway_state import GatewayState
from producers.publisher import Publisher
from schemas.authority import decide
from schemas.base import EventData
from schemas.catalogue import model_for, resolve_type
from schemas.envelope import (
    ATTRIBUTES,
    MAX_VALUE_BYTES,
    Envelope,
    KafkaRecord,
    encode_value,
    header_name,
)
from schemas.envelope_read import from_record
from schemas.errors import AuthorityError, ContractError, EminingError, RecordError
from schemas.lifecycles import machine_of, refusal_of
from schemas.registry import Registry
from schemas.signing import PrivateKey
from schemas.timing import TimeSkewError, check_time
from schemas.topics import PARTICIPANTS
from transport.errors import PublishError
from transport.sender import Ack

_VERSIONED = re.compile(r"\.v[1-9][0-9]*$")
Loc = Sequence[str | int]


class RefusedError(EminingError):
    """A submission the gateway answers with an error status; ``detail`` is the body's detail."""

    def __init__(
        self,
        status: int,
        reason: str,
        detail: str | list[dict[str, Any]],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


def invalid(loc: Loc, msg: str, kind: str = "value_error") -> RefusedError:
    return RefusedError(422, "invalid", [{"loc": list(loc), "msg": msg, "type": kind}])


def field_problems(errors: Sequence[Any], prefix: Loc = ()) -> list[dict[str, Any]]:
    """Pydantic/FastAPI errors as ``{loc, msg, type}`` (inputs left out: they may be large)."""
    return [
        {"loc": [*prefix, *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in errors
    ]


def _utf8(text: str, loc: Loc) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise invalid(loc, "must be valid Unicode text (no lone surrogate escapes)") from exc


def _value(data: dict[str, Any]) -> bytes:
    """The record value of ``data``: refuses text that is not Unicode and data over the limit."""
    try:
        value = encode_value(data)
    except UnicodeEncodeError as exc:
        raise invalid(("body", "data"), "must be valid Unicode text (no lone surrogate escapes)")\
            from exc
    if len(value) > MAX_VALUE_BYTES:
        raise RefusedError(
            413, "too_large", f"event data is {len(value)} bytes, limit {MAX_VALUE_BYTES}"
        )
    return value


async def ingest(state: GatewayState, org: str, event: UnsignedEvent | SignedCloudEvent) -> Answer:
    """Accept ``event`` for ``org``; one record per (org, id) however often or concurrently sent."""
    event_id = event.id or str(uuid.uuid4())
    _utf8(event_id, ("body", "id"))
    async with state.id_locks.hold((org, event_id)):
        prior = state.receipts.get(org, event_id)
        if prior is not None:
            return await _repeated(state, org, event_id, prior)
        if isinstance(event, SignedCloudEvent):
            envelope, record = await _verified(state, org, event)
            await _possible(state, envelope.data)
            return await _send_signed(state, org, envelope, record)
        key, data, at = await _custodial(state, org, event)
        known = await _known_to_custody(state, key, event_id)
        if known is not None:  # before ``_possible``: a step applied since is not refused
            return await _repeated(state, org, event_id, known)
        await _possible(state, data)
        return await _send_custodial(state, key, data, event_id, at)


async def _known_to_custody(state: GatewayState, key: PrivateKey, event_id: str
                            ) -> Receipt | None:
    """The receipt of a custodial event its receipts do not hold but its chain store does.

    Receipts commit without an fsync and the chain store with one, in another file: a power
    loss can take back the receipt of an event that was signed, or even acknowledged and
    answered 202. Its chain store still knows it, so a retry is answered from there (409 with
    the first answer, or delivered from the outbox) instead of signing the id again. Asked once
    the request is valid (an invalid one opens no publisher); a store that cannot be opened now
    decides nothing: the request's own path reports that.
    """
    try:
        publisher = await state.custody.publisher(key)
        restored = state.custody.restore_receipt(state.receipts, publisher, event_id)
    except (PublishError, SourceInUseError, OSError, sqlite3.Error):
        return None
    return state.receipts.get(key.org, event_id) if restored else None


async def _possible(state: GatewayState, data: EventData) -> None:
    """Refuse, before anything is signed or sent, a step its file's lifecycle does not allow
    (the consumers would dead-letter it; here the sender learns at once). Only when the views
    have caught up with the file's partition: a status that is behind would refuse a step
    that a record already on its way makes possible; then the consumers alone decide."""
    if state.judge is not None:
        refused = await state.judge(data)
        if refused is not None:
            raise RefusedError(*refused)
    if state.status_of is None or machine_of(data.ce_type()) is None:
        return
    caught_up, current = await state.status_of(data.subject, data.TOPIC)
    if not caught_up:
        return
    why = refusal_of(data.ce_type(), current, data)
    if why is not None:
        raise RefusedError(409, "invalid_transition", why)


async def _repeated(state: GatewayState, org: str, event_id: str, prior: Receipt) -> Answer:
    if prior.state is ReceiptState.ACCEPTED and prior.answer is not None:
        return Answer(409, prior.answer)
    if prior.state is ReceiptState.PENDING:
        raise RefusedError(409, "in_progress", f"event {event_id} is being accepted right now")
    # Queued: signed before, not acknowledged then. Deliver it now instead of signing it again.
    key = state.custody.key(org)
    if key is None:
        raise RefusedError(503, "custody_key_missing",
                           f"event {event_id} waits in the outbox, but no custodial key of {org} "
                           "is installed to re-open it")
    try:
        await state.custody.flush(await state.custody.publisher(key))
    except PublishError as exc:
        raise RefusedError(503, "broker_unavailable",
                           f"event {event_id} is still queued (signed, not yet acknowledged): "
                           f"{exc}") from exc
    receipt = state.receipts.get(org, event_id)
    answer = receipt.answer if receipt is not None and receipt.answer else prior.answer or {}
    state.receipts.settle(org, event_id, ReceiptState.ACCEPTED, answer)
    return Answer(202, answer)


# -- pre-signed ------------------------------------------------------------------------------


async def _verified(
    state: GatewayState, org: str, event: SignedCloudEvent
) -> tuple[Envelope, KafkaRecord]:
    attributes = event.attributes()
    headers = [(header_name(a), _utf8(attributes[a], ("body", a)))
               for a in ATTRIBUTES if a in attributes]
    key = _utf8(event.subject, ("body", "subject"))
    value = _value(event.data)
    try:
        envelope = from_record(key, value, tuple(headers))
    except RecordError as exc:
        raise _record_refusal(exc, event) from exc
    if envelope.org != org:
        raise RefusedError(403, "foreign_source",
                           f"source {envelope.source} belongs to {envelope.org}; this API key "
                           f"is {org}'s, which may only send its own sources' events")
    _require_broker(state)
    try:
        await state.recheck(lambda: state.verifier.check(envelope))
    except AuthorityError as exc:
        raise RefusedError(403, "authority", str(exc)) from exc
    except ContractError as exc:
        raise RefusedError(403, "signature", f"the signature is not accepted: {exc}") from exc
    await _timely(state, org, envelope.time)
    return envelope, KafkaRecord(envelope.topic, key, value, headers)


def _record_refusal(exc: RecordError, event: SignedCloudEvent) -> RefusedError:
    if exc.reason == "oversized":
        return RefusedError(413, "too_large", exc.detail)
    if exc.reason == "schema":
        model, current = resolve_type(event.type, event.data)
        try:
            model.model_validate(current)
        except ValidationError as error:
            return RefusedError(422, "invalid",
                                field_problems(error.errors(), ("body", "data")))
    where: list[str | int] = ["body"]
    if exc.reason == "unknown_type":
        where.append("type")
    elif exc.reason == "subject_mismatch":
        where.append("subject")
    else:
        where.extend(a for a in ATTRIBUTES if exc.detail.startswith(header_name(a) + " "))
    return invalid(where, exc.detail, exc.reason)


async def _send_signed(
    state: GatewayState, org: str, envelope: Envelope, record: KafkaRecord
) -> Answer:
    _claim(state, org, envelope.id)
    try:
        result = (await state.sender.send([record]))[0]
    except BaseException:
        state.receipts.release(org, envelope.id)
        raise
    if not isinstance(result, Ack):
        state.receipts.release(org, envelope.id)
        raise RefusedError(503, "broker_unavailable",
                           f"the broker did not acknowledge event {envelope.id} ({result}); "
                           "the gateway kept nothing: send the same signed event again")
    origin = Origin(record.topic, envelope.source, envelope.sequence)
    answer = acceptance(envelope.id, origin, result, custody=False)
    state.receipts.settle(org, envelope.id, ReceiptState.ACCEPTED, answer)
    return Answer(202, answer)


def _require_broker(state: GatewayState) -> None:
    if not state.sender.started:
        raise RefusedError(503, "broker_unavailable",
                           f"the broker at {state.sender.kafka.bootstrap} is unreachable; nothing "
                           "was signed or sent: try again later")


def _claim(state: GatewayState, org: str, event_id: str) -> None:
    _require_broker(state)
    if state.receipts.claim(org, event_id) is not None:
        raise RefusedError(409, "in_progress", f"event {event_id} is being accepted right now")


# -- custodial -------------------------------------------------------------------------------


def _model(event: UnsignedEvent) -> tuple[type[EventData], dict[str, Any]]:
    try:
        if _VERSIONED.search(event.type):
            return resolve_type(event.type, event.data)
        return model_for(event.type), event.data
    except RecordError as exc:
        raise invalid(("body", "type"), exc.detail, exc.reason) from exc


async def _timely(state: GatewayState, org: str, moment: datetime) -> None:
    """Refuse a time the consumers would refuse (the gateway's clock standing in for the
    broker's append time): nothing is published that the views would dead-letter as skewed."""
    try:
        await state.recheck(lambda: check_time(state.registry, org, moment, datetime.now(UTC),
                                               state.time_bounds,
                                               taken_by="the gateway received it"))
    except TimeSkewError as exc:
        raise invalid(("body", "time"), str(exc), "time_skew") from exc


def _custody_allowed(
    registry: Registry, org: str, keyid: str, data: EventData, at: datetime
) -> None:
    registry.key_for(org, keyid, at)
    decision = decide(registry, org, data, at)
    if not decision.allowed:
        raise AuthorityError(decision.reason)


async def _custodial(
    state: GatewayState, org: str, event: UnsignedEvent
) -> tuple[PrivateKey, EventData, datetime]:
    model, current = _model(event)
    if model.TOPIC == PARTICIPANTS:
        raise RefusedError(403, "registry_event",
                           "registry events are signed by the platform operator's trust-anchor "
                           "key, never custodially: send them pre-signed")
    near_limit = len(_value(current)) > MAX_VALUE_BYTES // 2
    try:
        data = model.model_validate(current)
    except ValidationError as exc:
        raise RefusedError(422, "invalid", field_problems(exc.errors(), ("body", "data"))) from exc
    if near_limit:  # the signed value is the model's dump: check that exact size, once needed
        _value(data.model_dump(mode="json", exclude_none=True))
    if event.subject is not None and event.subject != data.subject:
        raise invalid(("body", "subject"),
                      f"subject {event.subject!r} differs from data.{model.SUBJECT_FIELD} "
                      f"({data.subject!r})")
    try:
        key = state.custody.key(org)
    except CustodyError as exc:
        raise RefusedError(503, "custody_key_unusable", str(exc)) from exc
    if key is None:
        raise RefusedError(403, "no_custody",
                           f"the gateway holds no key of {org}: send events pre-signed, or ask "
                           "the operator to install a custodial key (emining custody add)")
    at = event.time or datetime.now(UTC)
    _require_broker(state)
    await _timely(state, org, at)
    try:
        keyid = state.custody.keyid(org)
        await state.recheck(lambda: _custody_allowed(state.registry, org, keyid, data, at))
    except AuthorityError as exc:
        raise RefusedError(403, "authority", str(exc)) from exc
    except ContractError as exc:
        raise RefusedError(403, "custody_key",
                           f"the custodial key cannot sign for {org} at {at.isoformat()}: {exc}")\
            from exc
    return key, data, at


async def _send_custodial(
    state: GatewayState, key: PrivateKey, data: EventData, event_id: str, at: datetime
) -> Answer:
    org = key.org
    _claim(state, org, event_id)
    try:
        publisher: Publisher = await state.custody.publisher(key)
        answer = await state.custody.publish(publisher, data, event_id, at)
    except EventQueuedError as exc:
        state.receipts.settle(org, event_id, ReceiptState.QUEUED, exc.answer)
        raise RefusedError(503, "queued",
                           f"event {event_id} is signed (source {exc.answer['source']}, sequence "
                           f"{exc.answer['sequence']}) but the broker did not acknowledge it: "
                           f"{exc}. It is delivered before this organisation's next event; "
                           "send the same id again to get its receipt") from exc
    except (PublishError, SourceInUseError) as exc:
        state.receipts.release(org, event_id)
        raise RefusedError(503, "broker_unavailable", f"nothing was published: {exc}") from exc
    except ContractError as exc:  # the publisher's own size check
        state.receipts.release(org, event_id)
        raise RefusedError(413, "too_large", str(exc)) from exc
    state.receipts.settle(org, event_id, ReceiptState.ACCEPTED, answer)
    return Answer(202, answer)
