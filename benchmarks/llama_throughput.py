"""Tokens per second of the embedded model: llama-cpp-python on its own vs through tokenwire.

Both sides decode the same prompt tokens (rendered with the GGUF's chat template), greedily,
with the same sampling settings and thread count, so they generate the same tokens. They run
in one process run, alternately, after a warm-up each:

* direct: ``Llama.generate`` stepped token by token with ``detokenize``, in this process;
* server: ``tokenwire serve`` as a subprocess on a free port with ``TOKENWIRE_PROVIDER=llama``;
  one client sends the message over SSE and timestamps the events as they arrive.

Rates are measured the same way on both sides: completion tokens over the time from the
first token to the end. Usage::

    python benchmarks/llama_throughput.py [--tokens 256] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import llama_cpp
import msgspec

from tokenwire.protocol.sse import SSEDecoder
from tokenwire.providers.base import ChatTurn
from tokenwire.providers.llama import default_model_path
from tokenwire.providers.prompt import PromptBuilder

PROMPT = "Write a long story about a dragon who learns to bake bread."
# The embedded provider's sampling settings (providers/llama.py), with temperature 0.
SAMPLING: dict[str, Any] = {"temp": 0.0, "top_p": 0.9, "repeat_penalty": 1.1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Direct:
    """llama-cpp-python on its own, decoding the same tokens the server's provider would."""

    def __init__(self, n_ctx: int, threads: int) -> None:
        self.llama: Any = llama_cpp.Llama(
            model_path=str(default_model_path()), n_ctx=n_ctx, n_threads=threads, verbose=False
        )
        vocab = self.llama._model
        builder = PromptBuilder(
            template=self.llama.metadata["tokenizer.chat_template"],
            bos_token=vocab.token_get_text(self.llama.token_bos()),
            eos_token=vocab.token_get_text(self.llama.token_eos()),
            tokenize=lambda text: self.llama.tokenize(text.encode(), add_bos=False, special=True),
            n_ctx=n_ctx,
        )
        self.tokens = builder.build([ChatTurn("user", PROMPT)], max_tokens=1).tokens

    def run(self, max_tokens: int) -> tuple[int, float]:
        """(completion tokens, tokens per second from the first token to the end)."""
        count, first = 0, 0.0
        for token in self.llama.generate(self.tokens, **SAMPLING):
            if llama_cpp.llama_vocab_is_eog(self.llama._model.vocab, token):
                break
            self.llama.detokenize([token])
            count += 1
            if count == 1:
                first = time.perf_counter()
            if count >= max_tokens:
                break
        return count, count / (time.perf_counter() - first)


class Server:
    """``tokenwire serve`` with the embedded model, and a user to talk to it as."""

    def __init__(self, data_dir: Path, max_tokens: int, n_ctx: int, threads: int) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "TOKENWIRE_DATA_DIR": str(data_dir),
            "TOKENWIRE_PROVIDER": "llama",
            "TOKENWIRE_PROVIDERS": "",
            "TOKENWIRE_TEMPERATURE": "0",
            "TOKENWIRE_MAX_TOKENS": str(max_tokens),
            "TOKENWIRE_LLAMA_N_CTX": str(n_ctx),
            "TOKENWIRE_LLAMA_THREADS": str(threads),
        }
        self.log = (data_dir / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tokenwire", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait_until_up()
        created = subprocess.run(
            [sys.executable, "-m", "tokenwire", "users", "create", "bench"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = created.stdout.strip().splitlines()[-1]
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"tokenwire serve exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit("tokenwire serve did not come up")

    def run(self) -> tuple[int, float, float | None]:
        """(completion tokens, client-side tokens per second, the server's own figure)."""
        cid = self.client.post("/api/v1/conversations", json={}).json()["id"]
        first = 0.0
        end: dict[str, Any] = {}
        decoder = SSEDecoder()
        with self.client.stream(
            "POST",
            f"/api/v1/conversations/{cid}/messages",
            json={"content": PROMPT},
            headers={"Accept": "text/event-stream"},
        ) as response:
            response.raise_for_status()
            for chunk in response.iter_raw():
                for event in decoder.feed(chunk):
                    data = msgspec.json.decode(event.data)
                    if data["type"] == "message.delta" and not first:
                        first = time.perf_counter()
                    elif data["type"] in ("message.end", "message.error"):
                        end = data
        done = time.perf_counter()
        if end.get("type") != "message.end":
            raise SystemExit(f"the reply failed: {end}")
        count = int(end["usage"]["completion_tokens"])
        return count, count / (done - first), end["timings"].get("tokens_per_second")

    def close(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=256, help="tokens per reply")
    parser.add_argument("--rounds", type=int, default=5, help="measured runs on each side")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--n-ctx", type=int, default=2048)
    args = parser.parse_args()

    direct = Direct(args.n_ctx, args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), args.tokens, args.n_ctx, args.threads)
        try:
            direct.run(args.tokens)  # warm-up: caches, the prompt in the KV cache
            server.run()  # warm-up: loads the model in the server
            direct_rates, server_rates, server_own = [], [], []
            for i in range(args.rounds):
                n_direct, rate_direct = direct.run(args.tokens)
                n_server, rate_server, own = server.run()
                direct_rates.append(rate_direct)
                server_rates.append(rate_server)
                if own is not None:
                    server_own.append(own)
                print(
                    f"round {i + 1}: direct {n_direct} tokens at {rate_direct:.1f} tok/s, "
                    f"server {n_server} tokens at {rate_server:.1f} tok/s"
                )
        finally:
            server.close()
    ratios = [srv / dct for dct, srv in zip(direct_rates, server_rates, strict=True)]
    d, s = statistics.median(direct_rates), statistics.median(server_rates)
    print(f"direct llama-cpp-python: {d:.1f} tokens/s median, {max(direct_rates):.1f} best")
    print(f"through tokenwire (SSE): {s:.1f} tokens/s median, {max(server_rates):.1f} best")
    if server_own:
        print(f"server's own message.end figure: {statistics.median(server_own):.1f} tokens/s")
    # Other processes on the machine slow one side or the other at random: the median of the
    # per-round ratios (each pair measured back to back) and best against best are the two
    # figures that noise disturbs least.
    print(f"ratio server/direct, median of rounds: {statistics.median(ratios):.3f}")
    print(f"ratio server/direct, best vs best: {max(server_rates) / max(direct_rates):.3f}")


if __name__ == "__main__":
    main()
