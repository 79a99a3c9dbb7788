// The inline part of the Markdown renderer (see markdown.js for the whole of it): code spans,
// math, strong, emphasis, strike-through, links and bare URLs, built as DOM nodes from text
// nodes. A link's href must parse as http(s) or mailto.

import { mathNode } from "./math.js";

const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
const BARE_URL = /^https?:\/\/[^\s<>"]+/i;

/** A link target we are willing to put in href: absolute http(s) or mailto, nothing else. */
export function safeHref(raw) {
  const text = String(raw).trim();
  if (!/^(https?:\/\/|mailto:)/i.test(text)) return null;
  try {
    const url = new URL(text);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(href, children) {
  const a = document.createElement("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  a.append(...children);
  return a;
}

/** Render inline markdown of `text` into `parent`, text nodes for everything else. */
export function inline(text, parent, inLink = false, depth = 0) {
  let buffer = "";
  const flush = () => {
    if (buffer) parent.append(document.createTextNode(buffer));
    buffer = "";
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "$" || (c === "\\" && (text[i + 1] === "(" || text[i + 1] === "["))) {
      const math = mathAt(text, i);
      if (math) {
        flush();
        parent.append(mathNode(math.tex, math.display));
        i = math.next;
        continue;
      }
    }
    if (c === "\\" && i + 1 < text.length && PUNCTUATION.includes(text[i + 1])) {
      buffer += text[i + 1];
      i += 2;
      continue;
    }
    if (c === "`") {
      const run = /^`+/.exec(text.slice(i))[0];
      const close = findRun(text, "`", run.length, i + run.length);
      if (close >= 0) {
        flush();
        let code = text.slice(i + run.length, close).replace(/\n/g, " ");
        if (/^ .*[^ ].* $/.test(code)) code = code.slice(1, -1);
        const el = document.createElement("code");
        el.textContent = code;
        parent.append(el);
        i = close + run.length;
        continue;
      }
      buffer += run;
      i += run.length;
      continue;
    }
    if (depth < 6 && (c === "*" || c === "_" || c === "~")) {
      const span = emphasis(text, i);
      if (span) {
        flush();
        const el = document.createElement(span.tag);
        inline(text.slice(span.start, span.end), el, inLink, depth + 1);
        parent.append(el);
        i = span.next;
        continue;
      }
    }
    if (!inLink && (c === "[" || (c === "!" && text[i + 1] === "["))) {
      const found = linkAt(text, c === "!" ? i + 1 : i);
      if (found) {
        flush();
        const label = document.createElement("span");
        inline(found.label || found.url, label, true, depth + 1);
        const href = safeHref(found.url);
        if (href) parent.append(link(href, [...label.childNodes]));
        else parent.append(...label.childNodes); // an unsafe target: keep only the words
        i = found.next;
        continue;
      }
    }
    if (!inLink && (c === "h" || c === "H") && /[\s(]$|^$/.test(text.slice(Math.max(0, i - 1), i))) {
      const match = BARE_URL.exec(text.slice(i));
      if (match) {
        const url = match[0].replace(/[.,;:!?)\]'"*_]+$/, "");
        const href = safeHref(url);
        if (href) {
          flush();
          parent.append(link(href, [document.createTextNode(url)]));
          i += url.length;
          continue;
        }
      }
    }
    if (c === "<" && !inLink) {
      const auto = /^<(https?:\/\/[^\s<>]+|mailto:[^\s<>]+)>/i.exec(text.slice(i));
      const href = auto && safeHref(auto[1]);
      if (href) {
        flush();
        parent.append(link(href, [document.createTextNode(auto[1])]));
        i += auto[0].length;
        continue;
      }
    }
    buffer += c;
    i += 1;
  }
  flush();
}

/**
 * Math at `i`: $$…$$ and \[…\] (display), \(…\) and $…$ (inline). A single `$` opens math only
 * before a non-space and closes only after one, not before a digit (pandoc's rule), so that
 * "it costs $5 and $10" stays text.
 */
function mathAt(text, i) {
  const pairs = [
    ["$$", "$$", true],
    ["\\[", "\\]", true],
    ["\\(", "\\)", false],
  ];
  for (const [open, close, display] of pairs) {
    if (!text.startsWith(open, i)) continue;
    const end = text.indexOf(close, i + open.length);
    const tex = end < 0 ? "" : text.slice(i + open.length, end).trim();
    return tex ? { tex, display, next: end + close.length } : null;
  }
  if (text[i] !== "$" || /\s/.test(text[i + 1] || " ")) return null;
  for (let end = text.indexOf("$", i + 1); end > 0; end = text.indexOf("$", end + 1)) {
    if (/\s|\\/.test(text[end - 1]) || /\d/.test(text[end + 1] || "")) continue;
    return { tex: text.slice(i + 1, end), display: false, next: end + 1 };
  }
  return null;
}

function findRun(text, char, length, from) {
  let i = from;
  while (i < text.length) {
    const at = text.indexOf(char, i);
    if (at < 0) return -1;
    let end = at;
    while (text[end] === char) end += 1;
    if (end - at === length) return at;
    i = end;
  }
  return -1;
}

function emphasis(text, i) {
  const c = text[i];
  const double = text[i + 1] === c;
  if (c === "~" && !double) return null;
  const width = double ? 2 : 1;
  const marker = c.repeat(width);
  const start = i + width;
  if (start >= text.length || /\s/.test(text[start])) return null;
  // Underscores inside words (snake_case) are not emphasis.
  if (c === "_" && i > 0 && /[\p{L}\p{N}]/u.test(text[i - 1])) return null;
  let j = start;
  while (j < text.length) {
    const at = text.indexOf(marker, j);
    if (at < 0) return null;
    const tooLong = !double && text[at + 1] === c; // `*a **b** c*`: skip the inner pair
    const before = text[at - 1];
    const after = text[at + width];
    const rightFlanking = at > start && !/\s/.test(before);
    const wordAfter = c === "_" && after !== undefined && /[\p{L}\p{N}]/u.test(after);
    if (rightFlanking && !wordAfter && !tooLong) {
      const tag = c === "~" ? "del" : double ? "strong" : "em";
      return { tag, start, end: at, next: at + width };
    }
    j = at + (tooLong ? 2 : 1);
  }
  return null;
}

function linkAt(text, i) {
  let depth = 0;
  let j = i;
  for (; j < text.length; j += 1) {
    if (text[j] === "\\") j += 1;
    else if (text[j] === "[") depth += 1;
    else if (text[j] === "]") {
      depth -= 1;
      if (depth === 0) break;
    }
  }
  if (j >= text.length || text[j + 1] !== "(") return null;
  const rest = /^\(\s*<?([^\s<>()]*(?:\([^\s<>()]*\)[^\s<>()]*)*)>?(?:\s+"[^"]*")?\s*\)/.exec(
    text.slice(j + 1),
  );
  if (!rest) return null;
  const start = text[i - 1] === "!" && i > 0 ? i - 1 : i;
  return {
    label: text.slice(i + 1, j),
    url: rest[1],
    next: j + 1 + rest[0].length,
    image: start !== i,
  };
}
