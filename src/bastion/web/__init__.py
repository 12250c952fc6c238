"""The ASGI edge: the app factory, pure-ASGI middleware, pages and error mapping."""
