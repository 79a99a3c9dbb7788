// The personas a new chat can start with, as radio buttons on the welcome screen
// (`GET /api/v1/personas`); "general" is chosen unless the user picks another.

import { byId, h } from "./dom.js";

/** A persona's name as a person would write it: "code_review" becomes "Code review". */
export function humanize(name) {
  const words = String(name).replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Fetch the personas and show them to choose from; returns them. */
export async function showPersonas(api) {
  const personas = await api.personas();
  const options = personas.length ? personas : [{ name: "", description: "The server's default assistant." }];
  const preferred = options.find((p) => p.name === "general") || options[0];
  byId("persona-options").replaceChildren(
    ...options.map((persona) =>
      h(
        "label",
        { class: "persona" },
        h("input", {
          type: "radio",
          name: "persona",
          value: persona.name,
          checked: persona === preferred,
        }),
        h(
          "span",
          { class: "persona-text" },
          h("span", { class: "persona-name" }, persona.name ? humanize(persona.name) : "Default"),
          persona.description ? h("span", { class: "persona-desc" }, persona.description) : null,
        ),
      ),
    ),
  );
  return personas;
}

/** The persona chosen for the next new chat; undefined for the server's default. */
export function chosenPersona() {
  const checked = document.querySelector('input[name="persona"]:checked');
  return checked && checked.value ? checked.value : undefined;
}
