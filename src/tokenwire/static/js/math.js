// TeX in replies ($…$, $$…$$, \(…\), \[…\]), drawn by the vendored KaTeX (static/vendor/katex,
// copied from npm by scripts/vendor.sh): nothing is fetched from elsewhere, and it runs under
// the strict CSP because KaTeX's `render` builds DOM nodes and sets styles through the CSSOM,
// never through a style attribute in HTML. The renderer (markdown.js, inline.js) makes a
// `.math` element holding the TeX as text; `typeset` swaps it for KaTeX's output. KaTeX is
// loaded the first time a reply has math in it. `trust` stays off: \href, \url and the
// like cannot make links or run anything.

const BASE = new URL("../vendor/katex/", import.meta.url);
const OPTIONS = { throwOnError: false, trust: false, strict: "ignore", maxSize: 20, maxExpand: 500 };
let loading = null;

/** An element standing for TeX `tex`, shown as its source until `typeset` draws it. */
export function mathNode(tex, display) {
  const el = document.createElement(display ? "div" : "span");
  el.className = display ? "math math-display" : "math math-inline";
  el.textContent = tex;
  return el;
}

function load() {
  loading ||= new Promise((resolve, reject) => {
    const style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = new URL("katex.min.css", BASE).href;
    document.head.append(style);
    const script = document.createElement("script");
    script.src = new URL("katex.min.js", BASE).href;
    script.onload = () => resolve(window.katex);
    script.onerror = () => reject(new Error("KaTeX did not load"));
    document.head.append(script);
  });
  return loading;
}

/**
 * Draw every `.math` element under `root` with KaTeX. When KaTeX is not loaded yet this
 * starts loading it and calls `again` once it is there (the caller draws anew); the TeX shows
 * as text meanwhile.
 */
export function typeset(root, again) {
  const pending = root.querySelectorAll(".math:not([data-typeset])");
  if (!pending.length) return;
  if (!window.katex) {
    load().then(again, (exc) => console.warn("tokenwire:", exc.message));
    return;
  }
  for (const el of pending) {
    const tex = el.textContent;
    try {
      window.katex.render(tex, el, { ...OPTIONS, displayMode: el.classList.contains("math-display") });
      el.dataset.typeset = "true";
    } catch {
      el.textContent = tex; // beyond KaTeX: the source stays readable
    }
  }
}
