"""ClickHouse exceptions as the HTTP interface reports them: status, exception code, message."""

from __future__ import annotations

import re

# ClickHouse's own mapping of exception codes to HTTP statuses (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp).
_STATUS_BY_CODE: dict[int, int] = {
    194: 401,  # REQUIRED_PASSWORD
    **dict.fromkeys((192, 193, 497, 512, 516), 403),  # UNKNOWN_USER, WRONG_PASSWORD, ACCESS_DENIED, ...
    **dict.fromkeys(
        (
            6,
            8,
            15,
            25,
            26,
            27,
            36,
            37,
            38,
            41,
            44,
            53,
            62,
            72,
            117,
            123,
            167,
            168,
            223,
            321,
            376,
            427,
            441,
            675,
            676,
        ),
        400,  # parse errors, SYNTAX_ERROR, BAD_ARGUMENTS, TYPE_MISMATCH, INCORRECT_DATA, ...
    ),
    **dict.fromkeys((46, 47, 50, 56, 60, 63, 73, 78, 81, 115, 152, 336, 511), 404),  # UNKNOWN_TABLE, ...
    229: 413,  # QUERY_IS_TOO_LARGE
    48: 501,  # NOT_IMPLEMENTED
    **dict.fromkeys((76, 209, 439), 503),  # CANNOT_OPEN_FILE, SOCKET_TIMEOUT, CANNOT_SCHEDULE_TASK
    381: 411,  # HTTP_LENGTH_REQUIRED
    159: 408,  # TIMEOUT_EXCEEDED
    779: 415,  # UNSUPPORTED_MEDIA_TYPE
}

BAD_ARGUMENTS = 36
SYNTAX_ERROR = 62
UNKNOWN_COMPRESSION_METHOD = 89
QUERY_IS_TOO_LARGE = 229
UNKNOWN_EXCEPTION = 1002

_CODE_IN_MESSAGE = re.compile(r"Code:\s*(\d+)")


class WarehouseError(Exception):
    """A failed query, carrying the ClickHouse exception code that clients key their handling on."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return _STATUS_BY_CODE.get(self.code, 500)

    def response_text(self) -> str:
        """The body ClickHouse sends with an error: the message, always starting with ``Code: N.``."""
        text = self.message if self.message.startswith("Code:") else f"Code: {self.code}. DB::Exception: {self.message}"
        return text.rstrip("\n") + "\n"


def error_from_engine(exception: BaseException) -> WarehouseError:
    """Turn whatever chDB raised into a :class:`WarehouseError` with the code found in its message."""
    message = str(exception)
    match = _CODE_IN_MESSAGE.search(message)
    return WarehouseError(int(match.group(1)) if match else UNKNOWN_EXCEPTION, message)
