// Small DOM helpers. Text always goes into the page as text nodes, never as markup: nothing
// here parses HTML, so nothing a model or another user writes can become an element.

/** The element with this id (the page's fixed skeleton, from index.html). */
export const byId = (id) => document.getElementById(id);

/**
 * Build an element. `attrs` keys: `class`, `dataset` (an object), `on<event>` (a listener,
 * attached with addEventListener, never as an attribute), anything else as an attribute.
 * Children are nodes or strings; strings become text nodes.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Append nodes or strings (as text) to `parent`; null, undefined and false are skipped. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** A copy of one of the SVG icons kept in <template id="icon-NAME"> in index.html. */
export function icon(name) {
  const template = byId(`icon-${name}`);
  return template.content.firstElementChild.cloneNode(true);
}

/** Say something to screen readers through the page's polite status region. */
export function announce(text) {
  const region = byId("announcer");
  region.textContent = "";
  // A new text node in a separate task makes repeated identical messages be read again.
  setTimeout(() => {
    region.textContent = text;
  }, 30);
}
