"""`/healthz` asks the store too: a server whose store does not answer is not healthy (503)."""

from __future__ import annotations

import logging

from starlette.responses import PlainTextResponse, Response

from cnam_calendar.oplog import N_
from cnam_calendar.rules.errors import StoreError
from cnam_calendar.store.database import Store
from cnam_calendar.store.health import ping

log = logging.getLogger("cnam_calendar.web")


def store_unreachable(store: Store) -> Response | None:
    """Return the 503 to answer when the store does not answer (logged), None when it does."""
    try:
        ping(store)
    except StoreError as err:
        log.warning(N_("la base ne répond pas à /healthz : %(reason)s"), {"reason": str(err)},
                    extra={"event": "healthz-store"})
        return PlainTextResponse("base indisponible\n", status_code=503, headers={"Retry-After": "5"})
    return None
