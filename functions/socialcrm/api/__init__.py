"""HTTP routes, as Powertools routers shared by the Lambda handlers and the local ASGI app."""
