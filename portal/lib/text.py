"""One rule for showing user text: invisible format characters are made visible, never obeyed.

A right-to-left override (U+202E) makes ``invoice\u202egpj.exe`` read as "invoiceexe.jpg"; zero-width spaces and
joiners make two different names look the same. These characters have no place in dataset, model or person
names, so every page (``NeutraliseInvisibleMiddleware``), the explorer (its twin in ``explorer.js``) and the
PDF (``pdf_text.clean``) show each one as its code point, ``[U+202E]``. The API answers the data as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# Bidirectional embeddings, overrides, isolates and marks; zero-width spaces and joiners, word joiner and
# invisible operators; the soft hyphen, the Mongolian vowel separator, the byte-order mark, interlinear
# annotation controls and the tag characters (which hide text inside emoji).
INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000e0000-\U000e007f]"
)


def neutralise(text: str) -> str:
    """``text`` with every invisible format character replaced by its visible code point, ``[U+202E]``."""
    return INVISIBLE.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


class NeutraliseInvisibleMiddleware:
    """Applies ``neutralise`` to every HTML page, so no template can forget it.

    JSON embedded in a page (``json_script``) escapes non-ASCII characters, so it reaches the explorer intact.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (response.get("Content-Type", "").startswith("text/html") and not response.streaming
                and response.charset.lower().replace("-", "") == "utf8"):
            text = response.content.decode("utf-8", errors="replace")
            if INVISIBLE.search(text):
                response.content = neutralise(text).encode("utf-8")
                if response.has_header("Content-Length"):
                    response["Content-Length"] = str(len(response.content))
        return response
