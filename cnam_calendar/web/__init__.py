"""The ASGI app: feeds, the subscription page, the year at a glance."""
