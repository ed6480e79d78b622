"""Email tracking: signed open-pixel and click-link tokens, and the typed ``email_*`` events.

A token carries the site, campaign, message and recipient ids (and, for a click, the destination), signed
with HMAC (itsdangerous) under the newest of the configured secrets; every configured secret still verifies,
so keys rotate without breaking links already sent. A tampered or unsigned token never redirects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_OPEN_SALT = "beacon.email.open"
_CLICK_SALT = "beacon.email.click"


class InvalidEmailTokenError(ValueError):
    """Not signed by any configured key, or not the shape of a Beacon email token."""


class EmailRecipientMessage(BaseModel):
    """Which message to which recipient; short aliases keep the signed URLs short."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    site_id: str = Field(alias="s", min_length=1, max_length=63)
    campaign_id: str = Field(alias="c", min_length=1, max_length=200)
    message_id: str = Field(alias="m", min_length=1, max_length=200)
    recipient_id: str = Field(alias="r", min_length=1, max_length=200)


class EmailClickTarget(EmailRecipientMessage):
    url: str = Field(alias="u", max_length=4096)

    @field_validator("url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("a click destination is an absolute http(s) URL")
        return value


class EmailInteraction(BaseModel):
    """What the collector forwards for a verified open or click (``RawHit.body`` of an email hit)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["open", "click"]
    site_id: str
    campaign_id: str
    message_id: str
    recipient_id: str
    url: str | None = None


class EmailTokens:
    def __init__(self, secrets: Sequence[str]) -> None:
        """``secrets`` newest first, as in ``BEACON_EMAIL_SIGNING_KEYS``; the first one signs."""
        if not secrets:
            raise ValueError("at least one email signing key is needed")
        newest_last = list(reversed(secrets))
        self._opens = URLSafeSerializer(newest_last, salt=_OPEN_SALT)
        self._clicks = URLSafeSerializer(newest_last, salt=_CLICK_SALT)

    def open_token(self, message: EmailRecipientMessage) -> str:
        return str(self._opens.dumps(message.model_dump(by_alias=True)))

    def click_token(self, target: EmailClickTarget) -> str:
        return str(self._clicks.dumps(target.model_dump(by_alias=True)))

    def read_open(self, token: str) -> EmailRecipientMessage:
        return _read(self._opens, token, EmailRecipientMessage)

    def read_click(self, token: str) -> EmailClickTarget:
        return _read(self._clicks, token, EmailClickTarget)


Token = TypeVar("Token", bound=BaseModel)


def _read(serializer: URLSafeSerializer, token: str, model: type[Token]) -> Token:
    try:
        return model.model_validate(serializer.loads(token))
    except (BadSignature, ValidationError, ValueError) as error:
        raise InvalidEmailTokenError(str(error)[:200]) from None


class _EmailEventProperties(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    campaign_id: str = Field(min_length=1, max_length=200)
    message_id: str = Field(min_length=1, max_length=200)
    recipient_id: str = Field(min_length=1, max_length=200)


class EmailSent(_EmailEventProperties):
    """Sent through any JSON API by the sending system, so the stream knows what was sent to whom."""

    subject_length: int | None = Field(default=None, ge=0)


class EmailClicked(_EmailEventProperties):
    url: str = Field(min_length=1, max_length=4096)


EMAIL_EVENTS: dict[str, type[BaseModel]] = {
    "email_sent": EmailSent,
    "email_opened": _EmailEventProperties,
    "email_clicked": EmailClicked,
}


class EmailDelivery(BaseModel):
    """One message to one recipient as the stream sees it now: ``beacon.email_deliveries`` (a new ``version``
    at each change) and a Kafka record keyed by site and recipient.

    ``opens`` and ``clicks`` count every fetch and every click; ``human_*`` leave out those classified as a
    machine's (``machine_reasons`` lists the heuristics that fired, see docs/analysts.md). ``opened`` is true
    with an open or a click (a click needs the email open, even if its images were blocked).
    """

    model_config = ConfigDict(frozen=True)

    site_id: str
    campaign_id: str
    message_id: str
    recipient_id: str
    version: int
    sent_at: datetime | None
    opens: int
    human_opens: int
    clicks: int
    human_clicks: int
    opened: bool
    human_opened: bool
    clicked: bool
    human_clicked: bool
    first_open_at: datetime | None
    first_human_open_at: datetime | None
    first_click_at: datetime | None
    first_human_click_at: datetime | None
    machine_reasons: list[str]
    conversions: int  # purchases whose last human email click within the conversion window was in this message
    conversion_revenue: float
    updated_at: datetime

    def partition_key(self) -> bytes:
        return f"{self.site_id}:{self.recipient_id}".encode()
