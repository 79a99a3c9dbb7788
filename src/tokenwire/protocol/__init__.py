"""Pure protocol code: the canonical event model, SSE framing and client frames.

Nothing in this package performs I/O or touches asyncio: bytes and events go in,
events and bytes come out. The api package moves the bytes.
"""
