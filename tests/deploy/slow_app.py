"""The site's WSGI app plus one slow URL, for the graceful-shutdown test.

`/__slow__` notes that it started (a line in $SLOW_APP_STARTED), takes
$SLOW_APP_SECONDS to answer, then answers 200. Every other URL is the real app.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mensc.wsgi import application as site

SLOW_PATH = "/__slow__"


def application(environ, start_response):
    if environ.get("PATH_INFO") != SLOW_PATH:
        return site(environ, start_response)
    with Path(os.environ["SLOW_APP_STARTED"]).open("a") as started:
        started.write(f"{os.getpid()}\n")
    seconds = float(os.environ.get("SLOW_APP_SECONDS", "3"))
    time.sleep(seconds)
    body = f"finished after {seconds:g} s\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
