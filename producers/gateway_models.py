"""What the ingestion gateway accepts and answers, as models that make its OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictInt, StrictStr, Tag

from schemas.common import UtcDatetime

_STRICT = ConfigDict(extra="forbid", frozen=True)


class UnsignedEvent(BaseModel):
    """An event for the gateway to sign custodially with the organisation's key it holds."""

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={
            "examples": [
                {
                    "type": "pk.emining.project.milestone.reached",
                    "subject": "PRJ-BA-CHG-0007",
                    "data": {
                        "project_id": "PRJ-BA-CHG-0007",
                        "operator_uscc": "91650100MA7XK3P2LA",
                        "milestone": "financial_close",
                        "reached_on": "2026-06-15",
                    },
                }
            ]
        },
    )

    type: Annotated[
        StrictStr,
        Field(
            min_length=1,
            max_length=200,
            description="event type, with or without its .vN suffix (an older version is upcast)",
        ),
    ]
    subject: Annotated[
        StrictStr | None,
        Field(max_length=200, description="if given, must equal the data's subject field"),
    ] = None
    data: dict[str, Any] = Field(description="the event data, as the type's JSON Schema says")
    id: Annotated[
        StrictStr | None,
        Field(
            min_length=1,
            max_length=128,
            description="your id for the event (default: a new UUID); sending an id again "
            "answers 409 with the first receipt, it never makes a second record",
        ),
    ] = None
    time: UtcDatetime | None = Field(
        default=None, description="when it happened, with a UTC offset (default: now)"
    )


class SignedCloudEvent(BaseModel):
    """A CloudEvent the organisation signed itself, in CloudEvents structured JSON form.

    Attributes are signed exactly as given (see the README's verification recipe), so they are
    taken as strings and checked by the envelope's rules, never re-formatted.
    """

    model_config = _STRICT

    specversion: StrictStr
    envelopeversion: StrictStr | None = Field(
        default=None, description='the envelope version it was signed under: "2" (absent: 1)'
    )
    id: StrictStr
    source: StrictStr
    type: StrictStr
    subject: StrictStr
    time: StrictStr
    dataschema: StrictStr
    datacontenttype: StrictStr
    sequence: StrictInt | StrictStr = Field(description="the source's sequence number")
    prevhash: StrictStr
    keyid: StrictStr
    signature: StrictStr
    data: dict[str, Any]

    def attributes(self) -> dict[str, str]:
        """Every attribute as it travels in a ``ce_*`` header."""
        values = self.model_dump(exclude={"data"}, exclude_none=True)
        values["sequence"] = str(values["sequence"])
        return values


def _form(value: Any) -> str | None:
    if isinstance(value, dict):
        return "signed" if "specversion" in value else "unsigned"
    if isinstance(value, BaseModel):
        return "signed" if isinstance(value, SignedCloudEvent) else "unsigned"
    return None


IncomingEvent = Annotated[
    Annotated[UnsignedEvent, Tag("unsigned")] | Annotated[SignedCloudEvent, Tag("signed")],
    Discriminator(
        _form,
        custom_error_type="event_form",
        custom_error_message="the body must be a JSON object: an unsigned event "
        "(type, data, ...) or a signed CloudEvent (specversion, id, source, ...)",
    ),
]
"""A body with ``specversion`` is a pre-signed CloudEvent; without, one to sign custodially."""


class Acceptance(BaseModel):
    """The broker acknowledged the event: where it now is on the log."""

    id: str
    topic: str
    partition: int | None = Field(
        description="null only when the event was delivered by a later retry whose broker "
        "acknowledgement the gateway did not see (after a restart)"
    )
    offset: int | None
    source: str
    sequence: int
    custody: bool = Field(description="true when the gateway signed it with the custodial key")


class Problem(BaseModel):
    detail: str


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="where in the request, e.g. body.data.province")
    msg: str
    type: str


class ValidationProblem(BaseModel):
    detail: list[FieldProblem]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    broker: Literal["reachable", "unreachable"]
    registry_organisations: int
    registry_age_s: float | None = Field(description="seconds since the registry was last read")
