"""The AsyncAPI 3.0 document of the bus, generated from the topic catalogue and the event types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic.json_schema import models_json_schema

from schemas.base import EventData
from schemas.doc import summary
from schemas.envelope import CONTENT_TYPE, ENVELOPE_VERSION, SPECVERSION, dataschema_for
from schemas.topics import ALERTS_PREFIX, DLQ, TopicSpec, catalogue
from schemas.versions import wire_example

ASYNCAPI = "3.0.0"
KAFKA_BINDING = "0.5.0"
HEADERS = "CloudEventHeaders"
_REFS = "#/components/schemas/"
_TOPIC_SETTINGS = {
    "retention.ms": int,
    "retention.bytes": int,
    "delete.retention.ms": int,
    "max.message.bytes": int,
}


def _string(description: str, pattern: str | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": description, **extra}
    return schema | ({"pattern": pattern} if pattern else {})


def cloudevent_headers() -> dict[str, Any]:
    """Kafka headers of a CloudEvents 1.0 binary-mode record as the bus writes and requires them."""
    properties = {
        "ce_specversion": {"const": SPECVERSION, "description": "CloudEvents version"},
        "ce_envelopeversion": {
            "const": str(ENVELOPE_VERSION),
            "description": "E-Mining envelope version (signed); written by every writer, absent "
            "on records of envelope version 1, which readers still accept",
        },
        "ce_id": _string(
            "unique per source; source + id identifies a duplicate", minLength=1, maxLength=128
        ),
        "ce_source": _string(
            "the publishing instance: <organisation URN>[/<instance>]",
            r"^urn:emining:[a-z]{2}:[a-z]+:[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)?$",
            examples=["urn:emining:pk:gov:ba-mmdd/gateway"],
        ),
        "ce_type": _string("event type and version", r"^pk\.emining\.[a-z0-9_.]+\.v[1-9][0-9]*$"),
        "ce_subject": _string("what the event is about; equals the record key", minLength=1),
        "ce_time": _string(
            "when it happened, RFC 3339 UTC", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$"
        ),
        "ce_dataschema": _string(
            "URN of the data's JSON Schema (its $id)", r"^urn:emining:schema:"
        ),
        "content-type": _string(
            "media type of the record value",
            r"^\s*application/json\s*(;.*)?$",
            examples=[CONTENT_TYPE],
        ),
        "ce_sequence": _string("position in the source's chain, gap-free from 1; 20 digits, "
                               "zero-padded, so it sorts as text (envelope version 1: 1-20 "
                               "digits, e.g. unpadded)", r"^(?=0*[1-9])[0-9]{1,20}$"),
        "ce_prevhash": _string(
            "SHA-256 of the source's previous event (zeros for the first)", r"^[0-9a-f]{64}$"
        ),
        "ce_keyid": _string("id of the organisation key that signed", r"^[0-9a-f]{16}$"),
        "ce_signature": _string(
            "Ed25519 over the JCS form of the other attributes and the data, standard base64",
            r"^[A-Za-z0-9+/]{86}==$",
        ),
    }
    return {
        "type": "object",
        "required": [name for name in properties if name != "ce_envelopeversion"],
        "properties": properties,
        "description": "CloudEvents attributes in Kafka binary mode (values as UTF-8).",
    }


def _headers_for(cls: type[EventData]) -> dict[str, Any]:
    fixed = {
        "ce_type": {"const": cls.ce_type()},
        "ce_dataschema": {"const": dataschema_for(cls.ce_type())},
    }
    return {"allOf": [{"$ref": _REFS + HEADERS}, {"properties": fixed}]}


def _message(cls: type[EventData], payload_ref: Mapping[str, Any]) -> dict[str, Any]:
    example = wire_example(cls)
    return {
        "name": cls.__name__,
        "title": cls.ce_type(),
        "summary": summary(cls),
        "contentType": CONTENT_TYPE,
        "headers": _headers_for(cls),
        "payload": dict(payload_ref),
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"the subject: data.{cls.SUBJECT_FIELD}"},
                "bindingVersion": KAFKA_BINDING,
            }
        },
        **({"examples": [{"name": "example", "payload": example}]} if example else {}),
    }


def _channel_id(topic: str) -> str:
    return topic.removeprefix("emining.").split(".")[0]


def _topic_binding(spec: TopicSpec) -> dict[str, Any]:
    settings: dict[str, Any] = {
        k: convert(spec.config[k]) for k, convert in _TOPIC_SETTINGS.items() if k in spec.config
    }
    if "cleanup.policy" in spec.config:
        settings["cleanup.policy"] = spec.config["cleanup.policy"].split(",")
    return {
        "kafka": {
            "topic": spec.name,
            "partitions": spec.partitions,
            "topicConfiguration": settings,
            "bindingVersion": KAFKA_BINDING,
        }
    }


def _untyped_message(name: str, summary: str, headers: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "summary": summary, "headers": headers, "payload": {}}


def _special_messages() -> dict[str, dict[str, Any]]:
    dlq_headers = {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "the original record's headers, unchanged, plus the reason "
        "headers the rejecting consumer adds",
    }
    return {
        "DeadLetter": _untyped_message(
            "DeadLetter",
            "a record a consumer could not accept, its key and value unchanged",
            dlq_headers,
        ),
        "Alert": _untyped_message(
            "Alert",
            "an alert for one organisation, published as a "
            "signed CloudEvent; its data is defined by the alert rules",
            {"$ref": _REFS + HEADERS},
        ),
    }


def document(types: Mapping[str, type[EventData]], version: str = "0.1.0") -> dict[str, Any]:
    """The AsyncAPI 3.0 document: a channel per catalogue topic plus the per-organisation alerts."""
    ordered = sorted(types.values(), key=lambda c: c.ce_type())
    refs, top = models_json_schema(
        [(c, "validation") for c in ordered], ref_template=_REFS + "{model}"
    )
    messages = {c.ce_type(): _message(c, refs[(c, "validation")]) for c in ordered}
    messages |= _special_messages()
    channels: dict[str, Any] = {}
    for spec in catalogue():
        on_topic = {c.__name__: c.ce_type() for c in ordered if spec.name == c.TOPIC}
        if spec.name == DLQ:
            on_topic = {"DeadLetter": "DeadLetter"}
        channels[_channel_id(spec.name)] = {
            "address": spec.name,
            "description": spec.purpose,
            "bindings": _topic_binding(spec),
            "messages": {n: {"$ref": f"#/components/messages/{k}"} for n, k in on_topic.items()},
        }
    alert_types = {c.__name__: c.ce_type() for c in ordered if c.TOPIC.startswith(ALERTS_PREFIX)}
    channels["alerts"] = {
        "address": ALERTS_PREFIX + "{org}",
        "description": "alerts for one organisation; broker ACLs keep each to its recipient",
        "parameters": {
            "org": {
                "description": "the recipient's URN without urn:emining:, as a topic-safe slug",
                "examples": ["pk-gov-ba-mmdd"],
            }
        },
        "messages": {
            n: {"$ref": f"#/components/messages/{k}"}
            for n, k in (alert_types or {"Alert": "Alert"}).items()
        },
    }
    operations: dict[str, Any] = {}
    for channel_id, channel in channels.items():
        refs_here = [{"$ref": f"#/channels/{channel_id}/messages/{n}"} for n in channel["messages"]]
        for action, verb in (("send", "publish"), ("receive", "consume")):
            operations[f"{verb}_{channel_id}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{verb} on {channel['address']}",
                "messages": refs_here,
            }
    return {
        "asyncapi": ASYNCAPI,
        "info": {
            "title": "E-Mining Bus",
            "version": version,
            "description": "Typed, Ed25519-signed CloudEvents about Pakistani mining "
            "projects, licences and shipments, on Apache Kafka.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "`emining kafka up`; elsewhere EMINING_KAFKA_BOOTSTRAP. "
                "SASL/SCRAM-SHA-512 as the organisation's principal (User:<org URN>); the "
                "broker's ACLs, derived from the registry, say what each may read and write.",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            },
            "tls": {
                "host": "localhost:9092",
                "protocol": "kafka-secure",
                "description": "EMINING_KAFKA_SECURITY=scram-tls: the same login over TLS.",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": {HEADERS: cloudevent_headers(), **top.get("$defs", {})},
            "messages": messages,
            "securitySchemes": {
                "scram": {"type": "scramSha512", "description": "username = the organisation's "
                          "URN; the password the operator issued (`emining participants add`)"},
            },
        },
    }
