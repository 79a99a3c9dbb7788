"""What the HTTP routes and the middleware in front of them share: who a request's bearer
token names, a streaming body handed to the outermost middleware (``handoff``), and how a
``TokenwireError`` is answered (a JSON body, a refused WebSocket handshake). Below both
``api/`` and ``ops/``, so that neither imports the other for it."""
