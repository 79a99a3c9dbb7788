"""HTTP, SSE and WebSocket routes. Routes parse, authorise, call the engine and pipe events
through an encoder to the socket; nothing else."""

from tokenwire.api.app import create_app

__all__ = ["create_app"]
