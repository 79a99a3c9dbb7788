"""A seed's web app on another origin, in Chromium: ``tokenwire serve --cors ORIGIN`` lets
its page stream (seed 002's ``fetch`` with an ``Authorization`` header, so a preflight
first) and open seed 004's socket; without ``--cors`` the browser blocks the same page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from tests.helpers.server import Server, free_port, start_server

# Seed 002's sendMessageStream and ChatPage refresh, and seed 004's socket handler, as a
# page of their own origin would run them.
PAGE = """<!doctype html><meta charset="utf-8"><title>seed app</title>
<pre id="out"></pre>
<script>
const q = new URLSearchParams(location.search);
const api = q.get("api"), token = q.get("token");
const out = document.getElementById("out");
const report = (key, value) => { out.dataset[key] = value; };
async function seed002() {
  try {
    const response = await fetch(`${api}/sessions/browser/messages/stream`, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": `Bearer ${token}`},
      body: JSON.stringify({content: "Hello from another origin", role: "user"}),
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", text = "";
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      const lines = buffer.split("\\n");
      buffer = lines.pop();
      for (const line of lines) {
        if (!line.startsWith("data: ")) continue;
        const chunk = JSON.parse(line.slice(6));
        if (chunk.type === "token") text += chunk.content;
      }
    }
    report("sse", text);
    const list = await fetch(`${api}/sessions/browser/messages`,
                             {headers: {"Authorization": `Bearer ${token}`}});
    const messages = await list.json();
    report("dates", messages.map(m => String(new Date(m.timestamp))).join("|"));
  } catch (error) {
    report("sse", "blocked: " + error.name);
  }
}
function seed004() {
  const ws = new WebSocket(api.replace("http", "ws") + `/ws/chat?token=${token}`);
  let streaming = "";
  ws.onopen = () => ws.send(JSON.stringify({type: "message", content: "Socket hello"}));
  ws.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.type !== "message_stream") return;
    if (data.stream_start) streaming = "";
    else if (data.stream_chunk) streaming += data.chunk;
    else if (data.stream_end) report("ws", streaming);
  };
  ws.onerror = () => report("ws", "blocked");
}
seed002();
seed004();
</script>
"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def app_origin() -> Iterator[str]:
    """The seed app's own origin: another port, so another origin."""
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), _Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def serve(data: Path, origin: str | None) -> Server:
    env = {"TOKENWIRE_SCRIPTED_DELAY_MS": "20"}
    return start_server(data, env, args=["--cors", origin] if origin else [])


def test_a_page_on_another_origin_streams_with_cors(
    context: BrowserContext, app_origin: str, tmp_path: Path
) -> None:
    server = serve(tmp_path / "cors", app_origin)
    try:
        page = context.new_page()
        page.goto(f"{app_origin}/?api={server.url}&token={server.token}")
        page.wait_for_function("document.getElementById('out').dataset.dates !== undefined")
        page.wait_for_function("document.getElementById('out').dataset.ws !== undefined")
        data = page.eval_on_selector("#out", "el => ({...el.dataset})")
    finally:
        server.stop()
    assert data["sse"] == "Hello from another origin"
    dates = data["dates"].split("|")
    assert len(dates) == 2
    assert "Invalid Date" not in dates
    assert data["ws"] == "Socket hello"


def test_without_cors_the_browser_blocks_the_same_page(
    context: BrowserContext, app_origin: str, tmp_path: Path
) -> None:
    server = serve(tmp_path / "closed", None)
    try:
        page = context.new_page()
        page.goto(f"{app_origin}/?api={server.url}&token={server.token}")
        page.wait_for_function("document.getElementById('out').dataset.sse !== undefined")
        page.wait_for_function("document.getElementById('out').dataset.ws !== undefined")
        data = page.eval_on_selector("#out", "el => ({...el.dataset})")
    finally:
        server.stop()
    assert data["sse"] == "blocked: TypeError"
    assert data["ws"] == "blocked"  # the socket's Origin is checked against the same list
