"""The page's markdown renderer, run in the browser on its own: source text in, the HTML the
DOM serialises to out. Markup in the source must come out as text, never as elements."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route

STATIC = Path(__file__).resolve().parents[2] / "src" / "tokenwire" / "static"
ORIGIN = "http://page.test"
LINK = 'target="_blank" rel="noopener noreferrer nofollow"'

RENDER = """async (source) => {
  const { renderMarkdown } = await import("/js/markdown.js");
  const box = document.createElement("div");
  box.append(renderMarkdown(source));
  return box.innerHTML;
}"""


def serve_static(route: Route) -> None:
    path = route.request.url.removeprefix(ORIGIN).split("?")[0]
    if path == "/":
        route.fulfill(body="<!doctype html><title>markdown</title>", content_type="text/html")
        return
    file = (STATIC / path.lstrip("/")).resolve()
    if STATIC in file.parents and file.is_file():
        route.fulfill(path=file, content_type="text/javascript")
    else:
        route.fulfill(status=404)


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    """A page on a made-up origin whose files come straight from the package: no server."""
    context = browser.new_context()
    page = context.new_page()
    page.route(f"{ORIGIN}/**", serve_static)
    page.goto(f"{ORIGIN}/")
    yield page
    context.close()


CASES = [
    ("plain text", "<p>plain text</p>"),
    (
        "**b**, *i*, _u_, ~~s~~ and `c`",
        "<p><strong>b</strong>, <em>i</em>, <em>u</em>, <del>s</del> and <code>c</code></p>",
    ),
    ("snake_case_name and 2 * 3 * 4", "<p>snake_case_name and 2 * 3 * 4</p>"),
    ("one\ntwo\n\nthree", "<p>one<br>two</p><p>three</p>"),
    ("# Title", "<h1>Title</h1>"),
    ("### Third ###", "<h3>Third</h3>"),
    ("> quoted\n> more", "<blockquote><p>quoted<br>more</p></blockquote>"),
    ("- a\n- b\n\n1. x\n2. y", "<ul><li>a</li><li>b</li></ul><ol><li>x</li><li>y</li></ol>"),
    ("3. three\n4. four", '<ol start="3"><li>three</li><li>four</li></ol>'),
    ("- a\n  - nested\n- b", "<ul><li><p>a</p><ul><li>nested</li></ul></li><li>b</li></ul>"),
    ("---", "<hr>"),
    (
        "```js\nlet a = '<b>' && 1;\n```",
        '<div class="codeblock"><div class="codeblock-head"><span class="codeblock-lang">js</span>'
        '<button type="button" class="copy-btn" data-copy="code" '
        'aria-label="Copy js to the clipboard">Copy</button></div>'
        '<pre tabindex="0"><code class="language-js"><span class="tok-k">let</span> a = '
        '<span class="tok-s">\'&lt;b&gt;\'</span> &amp;&amp; <span class="tok-n">1</span>;'
        "</code></pre></div>",
    ),
    (
        "| a | b |\n|---|--:|\n| 1 | 2 |",
        '<div class="table-wrap" tabindex="0"><table><thead><tr><th>a</th>'
        '<th class="align-right">b</th></tr></thead><tbody><tr><td>1</td>'
        '<td class="align-right">2</td></tr></tbody></table></div>',
    ),
    (
        "[site](https://example.com/a?b=1&c=2)",
        f'<p><a href="https://example.com/a?b=1&amp;c=2" {LINK}>site</a></p>',
    ),
    (
        "see https://example.com/x.",
        f'<p>see <a href="https://example.com/x" {LINK}>https://example.com/x</a>.</p>',
    ),
    ("\\*not em\\*", "<p>*not em*</p>"),
    # Everything below must stay text.
    ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
    ('<img src=x onerror="alert(1)">', '<p>&lt;img src=x onerror="alert(1)"&gt;</p>'),
    ("[x](javascript:alert(1))", "<p>x</p>"),
    ("[x](JaVaScRiPt:alert(1))", "<p>x</p>"),
    ("[x](data:text/html,<b>hi</b>)", "<p>[x](data:text/html,&lt;b&gt;hi&lt;/b&gt;)</p>"),
    ("[x](vbscript:msgbox)", "<p>x</p>"),
    ("<javascript:alert(1)>", "<p>&lt;javascript:alert(1)&gt;</p>"),
    (
        "![alt](https://example.com/i.png)",
        f'<p><a href="https://example.com/i.png" {LINK}>alt</a></p>',
    ),
    ("`<b>bold</b>`", "<p><code>&lt;b&gt;bold&lt;/b&gt;</code></p>"),
    ("**<i>x</i>**", "<p><strong>&lt;i&gt;x&lt;/i&gt;</strong></p>"),
]


@pytest.mark.parametrize(("source", "html"), CASES, ids=[c[0][:30] for c in CASES])
def test_render(page: Page, source: str, html: str) -> None:
    assert page.evaluate(RENDER, source) == html


HIGHLIGHT = [
    (
        "py",
        'def f(x):  # "note"\n    return len("a#b") + 0x1F',
        '<span class="tok-k">def</span> <span class="tok-f">f</span>(x):  '
        '<span class="tok-c"># "note"</span>\n    <span class="tok-k">return</span> '
        '<span class="tok-f">len</span>(<span class="tok-s">"a#b"</span>) + '
        '<span class="tok-n">0x1F</span>',
    ),
    (
        "ts",
        "const s = `<img src=x onerror=alert(1)>`; // done",
        '<span class="tok-k">const</span> s = <span class="tok-s">`&lt;img src=x '
        'onerror=alert(1)&gt;`</span>; <span class="tok-c">// done</span>',
    ),
    ("brainfuck", "<script>+-</script>", "&lt;script&gt;+-&lt;/script&gt;"),
    ("py", 'x = "unterminated', 'x = "unterminated'),
]


@pytest.mark.parametrize(("lang", "code", "html"), HIGHLIGHT, ids=[c[0] for c in HIGHLIGHT])
def test_code_is_coloured_by_tokens_that_stay_text(
    page: Page, lang: str, code: str, html: str
) -> None:
    got = page.evaluate(RENDER, f"```{lang}\n{code}\n```")
    assert got.split("<code")[1].split(">", 1)[1].removesuffix("</code></pre></div>") == html


def test_an_unclosed_fence_is_an_open_code_block(page: Page) -> None:
    # While a reply streams, its code block has not closed yet.
    html = page.evaluate(RENDER, "Here:\n\n```text\nprint(1)\n")
    assert '<div class="codeblock" data-open="true">' in html
    assert '<code class="language-text">print(1)\n</code>' in html
