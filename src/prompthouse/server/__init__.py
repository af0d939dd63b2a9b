"""The HTTP server: FastAPI over a :class:`~prompthouse.registry.Registry`."""

from prompthouse.server.app import create_app

__all__ = ["create_app"]
