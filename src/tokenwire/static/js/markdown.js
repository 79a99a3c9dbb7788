// A small Markdown renderer that is safe by construction.
//
// It never produces an HTML string: it builds DOM nodes with createElement and puts every
// piece of source text in with createTextNode. Markup in the source (`<script>`, `<img
// onerror=…>`) therefore shows as the characters it is made of. The only elements it makes
// are the fixed set below (and highlight.js's colour spans, and KaTeX's drawing of math,
// math.js); the only attributes are a class, an ordered list's `start`, and a link's `href`,
// which must parse as http(s) or mailto.
//
// Supported: paragraphs (single newlines are line breaks, as in chat), ATX headings, fenced
// code blocks (an unclosed fence, as while a reply streams, runs to the end), indented
// lists (ordered and not, nested), block quotes, tables, rules, display math ($$…$$ or
// \[…\] on lines of their own); inline code, math, strong, emphasis, strike-through, links
// and bare URLs. Images are shown as links: the page
// fetches nothing a model names.

import { highlight } from "./highlight.js";
import { inline } from "./inline.js";
import { mathNode } from "./math.js";

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^( *)([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$/;
const TABLE_RULE = /^ *\|? *:?-+:? *(?:\| *:?-+:? *)*\|? *$/;
const MATH_OPEN = /^ {0,3}(\$\$|\\\[)/;
const MATH_CLOSE = { $$: "$$", "\\[": "\\]" };

/** Render `source` into a DocumentFragment. */
export function renderMarkdown(source) {
  const fragment = document.createDocumentFragment();
  const lines = String(source).replace(/\r\n?/g, "\n").split("\n");
  renderBlocks(lines, fragment, 0);
  return fragment;
}

function renderBlocks(lines, parent, depth) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      i = codeBlock(lines, i, fence, parent);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const el = document.createElement(`h${heading[1].length}`);
      inline(heading[2] || "", el);
      parent.append(el);
      i += 1;
      continue;
    }
    const math = mathBlock(lines, i);
    if (math) {
      parent.append(mathNode(math.tex, true));
      i = math.next;
      continue;
    }
    if (RULE.test(line)) {
      parent.append(document.createElement("hr"));
      i += 1;
      continue;
    }
    if (QUOTE.test(line)) {
      const inner = [];
      while (i < lines.length && lines[i].trim() && QUOTE.test(lines[i])) {
        inner.push(QUOTE.exec(lines[i])[1]);
        i += 1;
      }
      const quote = document.createElement("blockquote");
      if (depth < 8) renderBlocks(inner, quote, depth + 1);
      else paragraph(inner, quote);
      parent.append(quote);
      continue;
    }
    if (ITEM.test(line) && depth < 8) {
      i = list(lines, i, parent, depth);
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
      i = table(lines, i, parent);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !startsBlock(lines, i)) {
      para.push(lines[i]);
      i += 1;
    }
    if (!para.length) {
      // A line that looks like a block start but could not be one here: show it as text.
      para.push(lines[i]);
      i += 1;
    }
    const p = document.createElement("p");
    paragraph(para, p);
    parent.append(p);
  }
}

/** Display math from line `i`: `$$` (or `\[`) to the line that ends with `$$` (`\]`).
 * Unclosed, as while a reply streams, it is not math yet and shows as text. */
function mathBlock(lines, i) {
  const open = MATH_OPEN.exec(lines[i]);
  if (!open) return null;
  const close = MATH_CLOSE[open[1]];
  const first = lines[i].trim().slice(open[1].length);
  for (let j = i; j < lines.length; j += 1) {
    const text = j === i ? first : lines[j].trimEnd();
    if (j === i && text.includes(close) && !text.endsWith(close)) return null; // inline math
    if (text.endsWith(close) && (j > i || text.length >= close.length)) {
      const body = [...(j === i ? [] : [first]), ...lines.slice(i + 1, j), text.slice(0, -close.length)];
      const tex = body.join("\n").trim();
      return tex ? { tex, next: j + 1 } : null;
    }
  }
  return null;
}

function startsBlock(lines, i) {
  const line = lines[i];
  return (
    Boolean(mathBlock(lines, i)) ||
    FENCE.test(line) ||
    HEADING.test(line) ||
    RULE.test(line) ||
    QUOTE.test(line) ||
    ITEM.test(line) ||
    (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]))
  );
}

function paragraph(lines, parent) {
  lines.forEach((line, n) => {
    if (n) parent.append(document.createElement("br"));
    inline(n ? line.replace(/^\s+/, "") : line.trim(), parent);
  });
}

function codeBlock(lines, start, fence, parent) {
  const marker = fence[1];
  const closing = new RegExp(`^ {0,3}${marker[0] === "`" ? "`" : "~"}{${marker.length},}\\s*$`);
  const body = [];
  let i = start + 1;
  let closed = false;
  while (i < lines.length) {
    if (closing.test(lines[i])) {
      closed = true;
      i += 1;
      break;
    }
    body.push(lines[i]);
    i += 1;
  }
  const lang = (fence[2] || "").toLowerCase().replace(/[^a-z0-9_+#.-]/g, "").slice(0, 24);
  parent.append(codeFigure(body.join("\n"), lang, closed));
  return i;
}

function codeFigure(code, lang, closed) {
  const figure = document.createElement("div");
  figure.className = "codeblock";
  if (!closed) figure.dataset.open = "true";
  const head = document.createElement("div");
  head.className = "codeblock-head";
  const label = document.createElement("span");
  label.className = "codeblock-lang";
  label.textContent = lang || "code";
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "copy-btn";
  copy.dataset.copy = "code";
  copy.textContent = "Copy";
  copy.setAttribute("aria-label", `Copy ${lang || "code"} to the clipboard`);
  head.append(label, copy);
  const pre = document.createElement("pre");
  const el = document.createElement("code");
  if (lang) el.className = `language-${lang}`;
  highlight(code, lang, el);
  pre.append(el);
  pre.tabIndex = 0; // a long line scrolls sideways: keyboard users can reach it
  figure.append(head, pre);
  return figure;
}

function list(lines, start, parent, depth) {
  const first = ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const el = document.createElement(ordered ? "ol" : "ul");
  if (ordered) {
    const n = Number.parseInt(first[2], 10);
    if (n !== 1) el.start = n;
  }
  let i = start;
  let loose = false;
  const items = [];
  while (i < lines.length) {
    const m = ITEM.exec(lines[i]);
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) break;
    const width = m[1].length + m[2].length + 1;
    const body = [m[3] || ""];
    i += 1;
    while (i < lines.length) {
      const line = lines[i];
      if (!line.trim()) {
        const next = lines.slice(i + 1).find((l) => l.trim());
        const nextItem = next === undefined ? null : ITEM.exec(next);
        if (next !== undefined && leading(next) >= width) {
          body.push("");
          loose = true;
          i += 1;
          continue;
        }
        if (nextItem && nextItem[1].length === indent && /\d/.test(nextItem[2]) === ordered) {
          loose = true; // items of this list apart by a blank line
        }
        break;
      }
      const sub = ITEM.exec(line);
      if (sub && sub[1].length <= indent) break;
      if (leading(line) >= width) body.push(line.slice(width));
      else if (sub || startsBlock(lines, i)) break;
      else body.push(line.trim()); // a lazy continuation of the item's paragraph
      i += 1;
    }
    items.push(body);
    if (i < lines.length && !lines[i].trim()) i += 1;
  }
  for (const body of items) {
    const li = document.createElement("li");
    let simple = !loose && body.every((l) => l.trim());
    for (let n = 1; simple && n < body.length; n += 1) simple = !startsBlock(body, n);
    if (simple) paragraph(body, li);
    else renderBlocks(body, li, depth + 1);
    el.append(li);
  }
  parent.append(el);
  // Stop at the first line that ends this list, even a blank one consumed above.
  return i;
}

function leading(line) {
  return line.length - line.trimStart().length;
}

function cells(line) {
  let text = line.trim();
  if (text.startsWith("|")) text = text.slice(1);
  if (text.endsWith("|") && !text.endsWith("\\|")) text = text.slice(0, -1);
  const out = [];
  let cell = "";
  for (let i = 0; i < text.length; i += 1) {
    if (text[i] === "\\" && text[i + 1] === "|") {
      cell += "|";
      i += 1;
    } else if (text[i] === "|") {
      out.push(cell.trim());
      cell = "";
    } else cell += text[i];
  }
  out.push(cell.trim());
  return out;
}

function table(lines, start, parent) {
  const head = cells(lines[start]);
  const aligns = cells(lines[start + 1]).map((c) =>
    c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : "",
  );
  const wrap = document.createElement("div");
  wrap.className = "table-wrap";
  wrap.tabIndex = 0;
  const el = document.createElement("table");
  const thead = document.createElement("thead");
  const tr = document.createElement("tr");
  head.forEach((text, n) => tr.append(cell("th", text, aligns[n])));
  thead.append(tr);
  el.append(thead);
  const tbody = document.createElement("tbody");
  let i = start + 2;
  while (i < lines.length && lines[i].trim() && lines[i].includes("|")) {
    const row = document.createElement("tr");
    const values = cells(lines[i]);
    head.forEach((_, n) => row.append(cell("td", values[n] ?? "", aligns[n])));
    tbody.append(row);
    i += 1;
  }
  el.append(tbody);
  wrap.append(el);
  parent.append(wrap);
  return i;
}

function cell(tag, text, align) {
  const el = document.createElement(tag);
  if (align) el.className = `align-${align}`;
  inline(text, el);
  return el;
}
