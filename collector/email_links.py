"""Email tracking: ``GET /o/<token>.gif`` (open pixel) and ``GET /c/<token>`` (click, 302 to the destination).

Both tokens are signed (schemas/email.py). The open pixel answers its GIF whatever happens; a click with a
tampered or unsigned token never redirects (no open redirect) and answers a short 400 page. Every bad token
is kept in the dead letters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import structlog
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from collector.intake import Intake
from collector.pixel import NO_STORE, TRANSPARENT_GIF
from collector.raw_hits import client_context
from schemas.dead_letters import DeadLetter, DropReason, Stage
from schemas.email import EmailInteraction, EmailTokens, InvalidEmailTokenError
from schemas.events import HitSource, RawHit

SOURCE = HitSource.EMAIL

log = structlog.get_logger("collector.email")


def email_routes(intake: Intake, tokens: EmailTokens | None) -> list[Route]:
    def configured() -> EmailTokens:
        if tokens is None:
            raise InvalidEmailTokenError("no email signing keys are configured (BEACON_EMAIL_SIGNING_KEYS)")
        return tokens

    async def opened(request: Request) -> Response:
        received_at = datetime.now(UTC)
        token = request.path_params["token"]
        try:
            message = configured().read_open(token)
            interaction = EmailInteraction(kind="open", **message.model_dump())
            intake.accept_nowait(SOURCE, _raw_hit(request, interaction, received_at))
        except InvalidEmailTokenError as error:
            await _reject(intake, token, str(error), received_at)
        except Exception:  # the pixel answers its GIF whatever happens; the failure is logged and counted
            log.exception("open_not_forwarded")
            intake.count_failure(SOURCE)
        return Response(TRANSPARENT_GIF, media_type="image/gif", headers=NO_STORE)

    async def clicked(request: Request) -> Response:
        received_at = datetime.now(UTC)
        token = request.path_params["token"]
        try:
            target = configured().read_click(token)
        except InvalidEmailTokenError as error:
            await _reject(intake, token, str(error), received_at)
            return PlainTextResponse("This link is not valid.", status_code=400, headers=NO_STORE)
        interaction = EmailInteraction(kind="click", **target.model_dump())
        try:
            intake.accept_nowait(SOURCE, _raw_hit(request, interaction, received_at))
        except Exception:  # the reader still gets where the link goes; the lost click is logged and counted
            log.exception("click_not_forwarded")
            intake.count_failure(SOURCE)
        return RedirectResponse(target.url, status_code=302, headers=NO_STORE)

    return [
        Route("/o/{token}.gif", opened, methods=["GET"], name="email_open"),
        Route("/c/{token}", clicked, methods=["GET"], name="email_click"),
    ]


def _raw_hit(request: Request, interaction: EmailInteraction, received_at: datetime) -> RawHit:
    return RawHit(
        hit_id=uuid4(),
        source=SOURCE,
        received_at=received_at,
        site_id=interaction.site_id,
        visitor_key=interaction.recipient_id,
        body=interaction.model_dump_json(),
        **client_context(request).fields(),
    )


async def _reject(intake: Intake, token: str, detail: str, received_at: datetime) -> None:
    letter = DeadLetter.of_unreadable_payload(
        Stage.COLLECTOR, DropReason.INVALID_SIGNATURE, f"email token: {detail}", token.encode(), received_at
    )
    await intake.reject(SOURCE, [letter])
