"""Routes for the wire dialects: each module an ``APIRouter`` that parses its clients'
requests, calls the engine, and pipes the canonical events through its dialect's encoder
(``tokenwire.protocol.dialects``), answering errors in the dialect's own shape (``routes``).
"""
