"""LiteLLM as a client, in a process of its own.

LiteLLM keeps clients and an event loop of its own for the life of the process; run inside
the test process they outlive the test and surface later as unclosed sockets. A child
process runs ``litellm.completion`` exactly as an application would and prints the response.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

_SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")
import litellm
response = litellm.completion(**json.loads(sys.stdin.read()))
print(json.dumps(response.model_dump(), default=str))
"""


def completion(**kwargs: Any) -> dict[str, Any]:
    """``litellm.completion(**kwargs)`` in a child process; the response as a dict."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        input=json.dumps(kwargs),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # LiteLLM fetches a price list from the internet unless told to use the one it ships.
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
