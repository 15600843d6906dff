"""HTTP routes of the alerts: subscriptions, webhooks and the targets of every push channel
(``/alerts/channels/<name>``) of the authenticated organisation."""

# No ``from __future__ import annotations``: FastAPI reads these annotations at run time.

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from consumers.alerts.channel import Endpoint
from consumers.alerts.channels import CHANNELS, UnknownChannelError
from consumers.alerts.channels import channel as channel_named
from consumers.alerts.filters import Subscription
from consumers.alerts.outbox import Health
from consumers.alerts.service import AlertsService
from producers.gateway_auth import ApiKeyStore
from schemas.common import Mineral, Province
from schemas.errors import EminingError
from schemas.events.projects import ProjectStage

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="emining"'}


def organisation_of(api_keys: ApiKeyStore) -> Callable[..., Awaitable[str]]:
    """A dependency: the organisation whose gateway API key the request carries, else 401."""
    bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
    header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="or X-API-Key")

    async def organisation(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        api_key: Annotated[str | None, Security(header_key)],
    ) -> str:
        signed_in = getattr(request.state, "principal", None)
        if signed_in is not None and signed_in.org:  # admitted by the access policy already
            return str(signed_in.org)
        token = credentials.credentials if credentials else api_key
        org = api_keys.authenticate(token) if token else None
        if org is None:
            raise HTTPException(401, "send a valid API key as Authorization: Bearer <key> or "
                                "X-API-Key", headers=_CHALLENGE)
        return org

    return organisation


class SubscriptionIn(BaseModel):
    minerals: list[Mineral] = Field(default_factory=list, description="any of; empty: any")
    provinces: list[Province] = Field(default_factory=list, description="any of; empty: any")
    stages: list[ProjectStage] = Field(default_factory=list, description="any of; empty: any")
    include_existing: bool = Field(default=False, description="also alert about projects "
                                   "already registered that match")


class SubscriptionOut(BaseModel):
    id: str
    org: str
    minerals: list[str]
    provinces: list[str]
    stages: list[str]
    created_at: str | None
    alerts_raised: int | None = None

    @classmethod
    def of(cls, sub: Subscription, raised: int | None = None) -> "SubscriptionOut":
        return cls.model_validate({**sub.as_dict(), "alerts_raised": raised})


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000, description="https:// (or http://) to a public address; "
                     "checked strictly (see README, Webhooks)")


class WebhookOut(BaseModel):
    id: str
    url: str
    secret: str | None = Field(default=None, description="shown once, when created")
    delivered: int = 0
    dead_lettered: int = Field(default=0, description="deliveries given up on (refused "
                               "target, permanent refusal, or every retry failed)")
    pending: int = 0
    last_error: str | None = Field(default=None, description="why the last one was given up")


class TargetIn(BaseModel):
    url: str = Field(max_length=2000, description="https:// (or http://) to a public address; "
                     "checked strictly (see README, Webhooks)")
    secret: str | None = Field(default=None, max_length=500, description="a secret the "
                               "channel's service gave you (e.g. a DingTalk robot's signing "
                               "secret); never shown back")
    options: dict[str, str] = Field(default_factory=dict, description="the channel's options "
                                    '(e.g. robot: {"flavour": "wecom"|"dingtalk"})')


class TargetOut(BaseModel):
    id: str
    channel: str
    url: str = Field(description="as registered, credentials in it hidden")
    options: dict[str, str] = Field(default_factory=dict)
    secret: str | None = Field(default=None, description="a secret the platform made: shown "
                               "once, when created")
    delivered: int = 0
    dead_lettered: int = 0
    pending: int = 0
    last_error: str | None = None

    @classmethod
    def of(cls, name: str, target: Endpoint, health: Health | None = None,
           *, created: bool = False) -> "TargetOut":
        found, state = channel_named(name), health or Health()
        return cls(id=target.id, channel=name, url=found.shown(target.url),
                   options=dict(target.options),
                   secret=target.secret if created and found.issues_secret else None,
                   delivered=state.delivered, dead_lettered=state.dead, pending=state.pending,
                   last_error=state.last_error)


def _known(name: str) -> str:
    try:
        return channel_named(name).name
    except UnknownChannelError as exc:
        raise HTTPException(404, str(exc)) from exc


def create_alerts_router(service: AlertsService, api_keys: ApiKeyStore) -> APIRouter:
    """``/subscriptions`` and ``/webhooks`` (mounted under ``/v1``)."""
    router = APIRouter(tags=["alerts"])
    Org = Annotated[str, Depends(organisation_of(api_keys))]  # noqa: N806 - a type alias

    @router.post("/subscriptions", status_code=201)
    async def subscribe(body: SubscriptionIn, org: Org) -> SubscriptionOut:
        """Hear about new projects matching a filter (mineral, province, stage)."""
        sub, raised = await service.subscribe(
            org, minerals=body.minerals, provinces=body.provinces, stages=body.stages,
            include_existing=body.include_existing)
        return SubscriptionOut.of(sub, len(raised) if body.include_existing else None)

    @router.get("/subscriptions")
    async def subscriptions(org: Org) -> list[SubscriptionOut]:
        return [SubscriptionOut.of(s) for s in await service.subscriptions(org)]

    @router.delete("/subscriptions/{sub_id}", status_code=204, response_class=Response)
    async def unsubscribe(sub_id: str, org: Org) -> Response:
        if not await service.unsubscribe(org, sub_id):
            raise HTTPException(404, f"you have no subscription {sub_id}")
        return Response(status_code=204)

    @router.post("/webhooks", status_code=201)
    async def add_webhook(body: WebhookIn, org: Org) -> WebhookOut:
        """Register a URL for your alerts; keep the secret to check X-Emining-Signature."""
        try:
            hook = await service.add_webhook(org, body.url)
        except EminingError as exc:  # shaped like FastAPI's own 422: the field and why
            raise HTTPException(422, [{"type": "webhook_target", "loc": ["body", "url"],
                                       "msg": str(exc), "input": body.url}]) from exc
        return WebhookOut(id=hook.id, url=hook.url, secret=hook.secret)

    @router.get("/webhooks")
    async def webhooks(org: Org) -> list[WebhookOut]:
        return [WebhookOut(id=h.id, url=h.url, delivered=s.delivered, dead_lettered=s.dead,
                           pending=s.pending, last_error=s.last_error)
                for h, s in await service.webhooks(org)]

    @router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response)
    async def remove_webhook(webhook_id: str, org: Org) -> Response:
        if not await service.remove_webhook(org, webhook_id):
            raise HTTPException(404, f"you have no webhook {webhook_id}")
        return Response(status_code=204)

    router.include_router(create_channels_router(service, api_keys))
    return router


def create_channels_router(service: AlertsService, api_keys: ApiKeyStore) -> APIRouter:
    """``/alerts/channels/<name>``: the organisation's targets on every push channel."""
    router = APIRouter(tags=["alerts"])
    Org = Annotated[str, Depends(organisation_of(api_keys))]  # noqa: N806 - a type alias
    names = ", ".join(c.name for c in CHANNELS)

    @router.post("/alerts/channels/{channel}", status_code=201,
                 description=f"Register a target of a push channel ({names}) for your alerts.")
    async def add_target(channel: str, body: TargetIn, org: Org) -> TargetOut:
        name = _known(channel)
        try:
            target = await service.add_target(name, org, body.url, secret=body.secret,
                                              options=body.options)
        except EminingError as exc:  # the URL policy or the channel refused it: say why
            raise HTTPException(422, [{"type": "channel_target", "loc": ["body"],
                                       "msg": str(exc)}]) from exc
        return TargetOut.of(name, target, created=True)

    @router.get("/alerts/channels/{channel}")
    async def targets(channel: str, org: Org) -> list[TargetOut]:
        name = _known(channel)
        return [TargetOut.of(name, t, h) for t, h in await service.targets_of(name, org)]

    @router.delete("/alerts/channels/{channel}/{target_id}", status_code=204,
                   response_class=Response)
    async def remove_target(channel: str, target_id: str, org: Org) -> Response:
        name = _known(channel)
        if not await service.remove_target(name, org, target_id):
            raise HTTPException(404, f"you have no {name} target {target_id}")
        return Response(status_code=204)

    return router
