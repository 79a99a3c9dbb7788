// The conversation list as a drawer on narrow screens: the menu button opens it; its close
// button, the scrim around it and Esc close it.

import { byId } from "./dom.js";

export function setDrawer(open) {
  const shell = byId("shell");
  shell.classList.toggle("sidebar-open", open);
  byId("scrim").hidden = !open;
  byId("open-sidebar").setAttribute("aria-expanded", String(open));
  if (open) byId("new-chat").focus();
}

export function drawerOpen() {
  return byId("shell").classList.contains("sidebar-open");
}

/** Close the drawer and give focus back to the button that opens it. */
export function closeDrawer() {
  setDrawer(false);
  byId("open-sidebar").focus();
}

export function bindDrawer() {
  byId("open-sidebar").addEventListener("click", () => setDrawer(true));
  byId("close-sidebar").addEventListener("click", closeDrawer);
  byId("scrim").addEventListener("click", () => setDrawer(false));
}
