"""Routes for the wire dialects: each module an ``APIRouter`` that parses its clients'
requests, calls the engine, and pipes the canonical events through its dialect's encoder
(``tokenwire.protocol.dialects``), answering errors in the dialect's own shape (``routes``).

What holds in every dialect: a session, chat or consultation the client names is made on
first use, and a conversation's own id names it too (``Engine.find_conversation``). A reply
belongs to no request: a client that goes away stops nothing, and the reply is in the
history when it comes back; ``POST /api/v1/messages/{id}/cancel`` stops it, ``id`` being
the message id that the reply's first event carries.
"""
