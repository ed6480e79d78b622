"""Chat-widget interactions: the six typed ``chat_*`` events and the properties each must carry.

Any API can send them (pixel ``e=chat_rated&p.rating=5``, browser, Segment ``track``); the normalize step
``check_typed_properties`` refuses one whose properties do not fit, with the field named. Message texts are
deliberately not part of the schema: chats carry personal data, lengths and intents are enough to analyse.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _ChatProperties(BaseModel):
    # Other properties are allowed beside the typed ones (a widget may add its own).
    model_config = ConfigDict(extra="allow", frozen=True)

    conversation_id: str = Field(min_length=1, max_length=200)
    bot_id: str | None = Field(default=None, max_length=200)


class ChatConversationStarted(_ChatProperties):
    channel: str | None = Field(default=None, max_length=100)  # e.g. web, whatsapp
    trigger: str | None = Field(default=None, max_length=100)  # e.g. proactive, button


class ChatMessageSent(_ChatProperties):
    """A message from the visitor to the bot or agent."""

    message_length: int | None = Field(default=None, ge=0)
    intent: str | None = Field(default=None, max_length=200)


class ChatMessageReceived(_ChatProperties):
    """A message from the bot or agent to the visitor."""

    message_length: int | None = Field(default=None, ge=0)
    response_time_ms: int | None = Field(default=None, ge=0)
    sender: str | None = Field(default=None, pattern="^(bot|agent)$")


class ChatHandoffToHuman(_ChatProperties):
    reason: str | None = Field(default=None, max_length=200)


class ChatRated(_ChatProperties):
    rating: int = Field(ge=1, le=5)
    comment_length: int | None = Field(default=None, ge=0)


class ChatConversationEnded(_ChatProperties):
    duration_seconds: float | None = Field(default=None, ge=0)
    messages: int | None = Field(default=None, ge=0)
    resolved: bool | None = None


CHAT_EVENTS: dict[str, type[BaseModel]] = {
    "chat_conversation_started": ChatConversationStarted,
    "chat_message_sent": ChatMessageSent,
    "chat_message_received": ChatMessageReceived,
    "chat_handoff_to_human": ChatHandoffToHuman,
    "chat_rated": ChatRated,
    "chat_conversation_ended": ChatConversationEnded,
}
