"""What a provider honours beyond plain text, checked before anything of a turn is stored.

A request asking for tools, log probabilities or a response format that the provider
cannot give is refused with a 400 naming the field: it is never answered as if the field
had not been sent.
"""

from __future__ import annotations

from collections.abc import Callable

from tokenwire.errors import BadRequest
from tokenwire.protocol.options import TurnOptions
from tokenwire.providers.base import Provider

__all__ = ["check"]


def check(provider: Provider, options: TurnOptions) -> None:
    """Raise ``BadRequest`` (with ``param``) for the first option ``provider`` cannot honour."""
    model = provider.model
    wants_tools = bool(options.tools) and options.tool_choice != "none"
    if wants_tools and not provider.supports_tools:
        raise BadRequest(
            f"tools: the model {model} cannot call tools", code="tools_unsupported", param="tools"
        )
    if options.sampling.logprobs and not provider.supports_logprobs:
        raise BadRequest(
            f"logprobs: the model {model} does not report log probabilities",
            code="logprobs_unsupported",
            param="logprobs",
        )
    kind = (options.response_format or {}).get("type", "text")
    if kind != "text" and not provider.supports_response_format:
        raise BadRequest(
            f"response_format: the model {model} cannot constrain its output to {kind}",
            code="response_format_unsupported",
            param="response_format",
        )
    # A provider may know more to refuse up front (a schema its grammars cannot express).
    own_check: Callable[[TurnOptions], None] | None = getattr(provider, "check_options", None)
    if own_check is not None:
        own_check(options)
