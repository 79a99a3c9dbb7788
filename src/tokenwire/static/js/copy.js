// Copying text to the clipboard. The Clipboard API exists only in a secure context (HTTPS or
// localhost), so a page opened over plain HTTP on a LAN (http://192.168.1.20:8000) has none.
// There the older way still works: select the text in an off-screen textarea and run the
// "copy" command inside the click. When even that is refused, the text is left selected on
// the page and the user is told to press Ctrl+C.

import { announce, h } from "./dom.js";

async function viaClipboardApi(text) {
  if (!window.isSecureContext || !navigator.clipboard?.writeText) return false;
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

function viaSelection(text) {
  const focused = document.activeElement;
  const buffer = h("textarea", { class: "copy-buffer", readonly: true, tabindex: "-1", "aria-hidden": "true" });
  buffer.value = text;
  document.body.append(buffer);
  buffer.select();
  let done = false;
  try {
    done = document.execCommand("copy");
  } catch {
    done = false;
  }
  buffer.remove();
  focused?.focus?.();
  return done;
}

/**
 * Copy `text`; confirm on `button` (and to screen readers). `source` is the element showing
 * that text, selected for the user when no way of copying works.
 * @returns {Promise<boolean>} whether the text reached the clipboard
 */
export async function copy(text, button, source = null) {
  // The selection fallback must run within the click, before anything is awaited, when the
  // Clipboard API is missing altogether.
  const done = (window.isSecureContext && navigator.clipboard?.writeText ? await viaClipboardApi(text) : false) || viaSelection(text);
  if (!done) {
    if (source) window.getSelection()?.selectAllChildren(source);
    announce("Copying is blocked here: the text is selected, press Ctrl+C to copy it.");
    button.title = "Selected: press Ctrl+C";
    return false;
  }
  button.classList.add("copied");
  if (button.dataset.copy) button.textContent = "Copied";
  announce("Copied to the clipboard.");
  setTimeout(() => {
    button.classList.remove("copied");
    if (button.dataset.copy) button.textContent = "Copy";
  }, 1500);
  return true;
}
