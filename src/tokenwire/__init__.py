"""tokenwire: AI chat replies streamed token by token to any client, and never a word lost."""

__version__ = "0.1.0"

__all__ = ["__version__"]
