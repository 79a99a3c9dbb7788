"""What stateless dialects send besides the new message: the conversation so far.

OpenAI and the AI SDK resend the whole conversation with every request; the engine stores
the turns that tokenwire does not hold yet, so that history lives in one place.
"""

from tokenwire.protocol.options import CallInfo, PriorTurn

__all__ = ["CallInfo", "PriorTurn"]
