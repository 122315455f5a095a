"""The API's JSON parser: DRF's own, with a bound on nesting.

Python's ``json`` recurses once per level of arrays and objects: a body nested
about a thousand levels deep raised ``RecursionError``, a 500 with a traceback
logged at ERROR, for anyone, signed in or not. Such a body is now a 400 whose
``detail`` names the limit, before ``json`` sees it. (A body's size is bounded
by Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``: DRF reads JSON and form bodies
through ``request.body``, which checks it.)
"""

from __future__ import annotations

import io
import re
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Our bodies are one or two levels deep; this leaves room for any client.
MAX_DEPTH = 32
TOO_DEEP = (
    f"JSON nested too deeply (at most {MAX_DEPTH} levels of arrays and objects), "
    "or its brackets do not pair up."
)

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def nested_too_deeply(body: bytes) -> bool:
    """More than MAX_DEPTH levels of arrays and objects (or brackets that don't pair up).

    Linear in the body and done by the regex engine, not a Python loop: strings
    are dropped, then each pass removes the innermost empty pairs, one level at
    a time. Whatever is left after MAX_DEPTH passes is deeper, or unbalanced.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False
    brackets = _STRING.sub(b"", body).translate(None, delete=_NOT_A_BRACKET)
    for _ in range(MAX_DEPTH):
        brackets, removed = _EMPTY_PAIR.subn(b"", brackets)
        if not removed:
            break
    return bool(brackets)


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        body = stream.read()
        if nested_too_deeply(body):
            raise ParseError(TOO_DEEP)
        return super().parse(io.BytesIO(body), media_type, parser_context)
