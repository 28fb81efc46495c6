"""The WebSocket upgrade as ``mozaiks serve`` reads it: long tokens reach ``$connect``, unreadable requests
get a status.

uvicorn hands the upgrade request to the ``websockets`` library, which reads header lines of at most 8,192
bytes. A longer line (a token over 8 KB in ``Sec-WebSocket-Protocol`` or the query string) makes it prepare
a 431 response that uvicorn never writes: the client waits for its own timeout (40 s in a browser) where
the protocol promises a 401 ``token_too_large``. Two fixes, both local-only (API Gateway has its own limits):

* header lines up to ``MAX_HEADER_LINE_BYTES`` are read, so any token the verifier could be configured to take
  (``MOZAIKS_JWT_MAX_BYTES`` is at most 64 KB) reaches ``$connect``, which refuses it as ``token_too_large``;
* a request the library still cannot read gets the response it prepared (431, or 414 for the request line)
  instead of silence.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

# The verifier's largest configurable token (64 KiB), the header's name and the subprotocol marker, with room.
MAX_HEADER_LINE_BYTES = 80 * 1024


def allow_long_header_lines() -> None:
    """Raise the library's header line limit (read from WEBSOCKETS_MAX_LINE_LENGTH once, at its import)."""
    from websockets import http11

    http11.MAX_LINE_LENGTH = max(http11.MAX_LINE_LENGTH, MAX_HEADER_LINE_BYTES)


class UpgradeProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, answering upgrade requests it cannot read."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        refused = self.conn.handshake_exc is not None and not self.handshake_initiated
        if refused and not self.transport.is_closing():
            # The library refused the request before it became an event: send what it prepared, then close.
            output = self.conn.data_to_send()
            if output:
                self.transport.write(b"".join(output))
            self.handshake_complete = True
            self.close_sent = True
            self.transport.close()
