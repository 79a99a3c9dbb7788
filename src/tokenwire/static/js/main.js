// The page: sign-in, the conversation list, one open conversation, the message box.
// Routes live in the hash (#/new, #/c/<id>) so that a reload reopens the same conversation.

import { Api, ApiError, takeToken } from "./api.js";
import { Composer } from "./composer.js";
import { ConversationSession } from "./conversation.js";
import { announce, byId, h } from "./dom.js";
import { sendErrorText } from "./errors.js";
import { Search } from "./search.js";
import { Sidebar, titleOf } from "./sidebar.js";
import { ChatView } from "./view.js";

const BADGE_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

const page = {
  api: new Api({
    onUnauthorized: () => signedOut("That sign-in is no longer valid. Open the link the server printed, or paste a token."),
  }),
  started: false,
  session: null,
  sidebar: null,
  view: null,
  composer: null,
  personas: [],
  search: null,
  transport: "ws", // becomes "sse" for the rest of the page's life once WebSocket is refused
};

function humanize(name) {
  const words = String(name).replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// ---- sign-in ----------------------------------------------------------------------------

function showLogin(message = "") {
  page.session?.close();
  page.session = null;
  byId("shell").hidden = true;
  byId("login").hidden = false;
  byId("login-error").textContent = message;
  byId("login-token").focus();
}

/** The session is gone (signed out here, in another tab, or revoked): back to sign-in. */
function signedOut(message) {
  if (window.location.hash) window.history.replaceState(null, "", window.location.pathname);
  showLogin(message);
}

byId("sign-out").addEventListener("click", async () => {
  try {
    await page.api.signOut();
  } catch (exc) {
    page.composer?.showError(
      exc instanceof ApiError && exc.network ? "Couldn't reach the server to sign out." : `Signing out failed: ${exc.message}`,
      { retry: false },
    );
    return;
  }
  signedOut("You have signed out.");
});

/** Trade a token for a session cookie; the text to show when that fails, else "". */
async function signIn(token) {
  try {
    await page.api.signIn(token);
    return "";
  } catch (exc) {
    return exc.status === 401 ? "That token wasn't accepted. Check it and try again." : sendErrorText(exc);
  }
}

byId("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = byId("login-token").value.trim();
  if (!token) return;
  const failure = await signIn(token);
  if (failure) {
    byId("login-error").textContent = failure;
    return;
  }
  byId("login-token").value = "";
  start();
});

// ---- the connection badge ----------------------------------------------------------------

function setBadge(state, transport = page.transport) {
  const badge = byId("badge");
  badge.dataset.state = state;
  badge.dataset.transport = transport;
  let text = BADGE_TEXT[state] || state;
  if (state === "connected" && transport === "sse") text = "Connected · SSE";
  byId("badge-text").textContent = text;
  badge.title =
    transport === "sse"
      ? "WebSocket is blocked on this network; replies stream over server-sent events."
      : "Live updates over WebSocket.";
  document.body.dataset.transport = transport;
}

function idleBadge() {
  if (!page.session) setBadge(navigator.onLine ? "connected" : "offline");
}

window.addEventListener("online", idleBadge);
window.addEventListener("offline", () => setBadge("offline"));

// ---- the narrow-screen drawer --------------------------------------------------------------

function setDrawer(open) {
  const shell = byId("shell");
  shell.classList.toggle("sidebar-open", open);
  byId("scrim").hidden = !open;
  byId("open-sidebar").setAttribute("aria-expanded", String(open));
  if (open) byId("new-chat").focus();
}

byId("open-sidebar").addEventListener("click", () => setDrawer(true));
byId("close-sidebar").addEventListener("click", () => {
  setDrawer(false);
  byId("open-sidebar").focus();
});
byId("scrim").addEventListener("click", () => setDrawer(false));

// ---- personas --------------------------------------------------------------------------

async function loadPersonas() {
  page.personas = await page.api.personas();
  const options = page.personas.length
    ? page.personas
    : [{ name: "", description: "The server's default assistant." }];
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
}

function chosenPersona() {
  const checked = document.querySelector('input[name="persona"]:checked');
  return checked && checked.value ? checked.value : undefined;
}

// ---- conversations -----------------------------------------------------------------------

function showHeader(conversation) {
  byId("chat-title").textContent = conversation ? titleOf(conversation) : "New chat";
  document.title = conversation ? `${titleOf(conversation)} · tokenwire` : "tokenwire";
  const tag = byId("chat-persona");
  tag.hidden = !conversation?.persona;
  tag.textContent = conversation?.persona ? humanize(conversation.persona) : "";
}

function closeSession() {
  page.session?.close();
  page.session = null;
  byId("earlier").hidden = true;
  page.composer.setStreaming(false);
}

function openNew() {
  closeSession();
  page.view.bind(null);
  byId("welcome").hidden = false;
  document.body.dataset.view = "new";
  showHeader(null);
  page.sidebar.setActive(null);
  idleBadge();
  page.composer.focus();
}

/** Bring message `mid` into view and mark it for a moment (a search hit). */
function reveal(mid) {
  const el = document.querySelector(`article[data-message-id="${CSS.escape(mid)}"]`);
  if (!el) return;
  el.scrollIntoView({ block: "center" });
  el.classList.add("found");
  setTimeout(() => el.classList.remove("found"), 2400);
}

/** The server titles a conversation in the background once its first reply ends: ask for
 * it a few times, then show it. */
async function awaitTitle(id) {
  for (const wait of [700, 1500, 3000, 6000]) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    if (page.sidebar.get(id)?.title) return;
    let conversation;
    try {
      conversation = await page.api.conversation(id);
    } catch {
      return;
    }
    if (conversation.title) {
      page.sidebar.touch(conversation);
      if (page.session?.id === id) showHeader(conversation);
      return;
    }
  }
}

async function openConversation(id, known = null, leaf = null) {
  if (page.session?.id === id) {
    if (leaf) {
      page.session.leaf = leaf;
      await page.session.reloadBranch().catch(() => {});
      reveal(leaf);
    }
    return;
  }
  closeSession();
  const session = new ConversationSession({
    api: page.api,
    conversationId: id,
    leaf,
    transport: page.transport,
    onStatus: (state, transport) => {
      if (page.session === session) setBadge(state, transport);
    },
    onActivity: () => page.sidebar.touch(page.sidebar.get(id) || { id }),
    onGone: () => {
      if (page.session !== session) return;
      announce("That conversation no longer exists.");
      page.sidebar.refresh().catch(() => {});
      navigate("#/new");
    },
    onFallback: () => {
      page.transport = "sse";
    },
  });
  page.session = session;
  page.view.bind(session.chat);
  session.chat.subscribe((message) => {
    page.composer.setStreaming(session.chat.streaming().length > 0);
    if (message.role === "assistant" && message.status === "complete" && !page.sidebar.get(id)?.title) {
      awaitTitle(id);
    }
  });
  byId("welcome").hidden = true;
  document.body.dataset.view = "chat";
  page.sidebar.setActive(id);
  const conversation = known || page.sidebar.get(id);
  showHeader(conversation || { id, title: "" });
  // Whatever opened it (a link in the list, a reload, a new tab), the next thing to do is
  // to write: focus would otherwise fall back to the body.
  page.composer.focus();
  if (!conversation) {
    page.api
      .conversation(id)
      .then((c) => page.session === session && showHeader(c))
      .catch(() => {});
  }
  byId("earlier").hidden = true;
  try {
    await session.open();
  } catch (exc) {
    if (page.session === session && exc instanceof ApiError && exc.network) setBadge("offline");
  }
  if (page.session === session) byId("earlier").hidden = !session.earlier;
  session.onBranch = () => {
    if (page.session === session) byId("earlier").hidden = !session.earlier;
  };
  if (leaf && page.session === session) reveal(leaf);
  page.composer.setStreaming(session.chat.streaming().length > 0);
}

function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function route() {
  setDrawer(false);
  const match = /^#\/c\/([^/]+)(?:\/m\/([^/]+))?$/.exec(window.location.hash);
  if (match) openConversation(decodeURIComponent(match[1]), null, match[2] ? decodeURIComponent(match[2]) : null);
  else openNew();
}

// ---- sending and stopping ----------------------------------------------------------------

async function sendDraft(draft) {
  try {
    if (!page.session) {
      // No title: the server writes one from the first exchange (plain text, short).
      const conversation = await page.api.createConversation({ persona: chosenPersona() });
      page.sidebar.touch(conversation);
      window.history.pushState(null, "", `#/c/${encodeURIComponent(conversation.id)}`);
      openConversation(conversation.id, conversation);
    }
    page.view.toBottom(false);
    await page.session.send(draft);
  } catch (exc) {
    exc.userMessage = exc instanceof ApiError ? sendErrorText(exc) : String(exc.message || exc);
    throw exc;
  }
}

async function stopReply() {
  try {
    if (await page.session?.stop()) announce("Reply stopped.");
  } catch (exc) {
    page.composer.showError(
      exc instanceof ApiError && exc.network ? "Couldn't reach the server to stop the reply." : `Stopping failed: ${exc.message}`,
      { retry: false },
    );
  }
}

function showActionError(exc) {
  page.composer.showError(exc instanceof ApiError ? sendErrorText(exc) : String(exc.message || exc), { retry: false });
}

/** Regenerate (and "Try again" on a failed reply): a new version of the reply beside it. */
async function retryReply(reply) {
  try {
    await page.session?.regenerate(reply);
  } catch (exc) {
    showActionError(exc);
  }
}

/** An edited question resent: a new branch from there; the old one stays a version. */
async function editQuestion(question, text) {
  try {
    await page.session?.edit(question, text);
  } catch (exc) {
    showActionError(exc);
    throw exc;
  }
}

async function showVersion(id) {
  try {
    await page.session?.showVersion(id);
  } catch (exc) {
    showActionError(exc);
  }
}

byId("earlier").addEventListener("click", async () => {
  const session = page.session;
  const button = byId("earlier");
  if (!session) return;
  button.disabled = true;
  try {
    page.view.keepPosition();
    const more = await session.loadEarlier();
    if (page.session === session) button.hidden = !more;
  } catch (exc) {
    page.composer.showError(exc instanceof ApiError ? sendErrorText(exc) : String(exc), { retry: false });
  } finally {
    button.disabled = false;
  }
});

/** "Continue" on a reply cut off at the length limit: the model goes on where it stopped. */
async function continueReply(reply) {
  try {
    await page.session?.continueReply(reply);
  } catch (exc) {
    showActionError(exc);
  }
}

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.defaultPrevented) return;
  if (byId("shell").classList.contains("sidebar-open")) {
    setDrawer(false);
    byId("open-sidebar").focus();
    return;
  }
  if (page.session?.chat.streaming().length) {
    event.preventDefault();
    stopReply();
  }
});

// ---- start -------------------------------------------------------------------------------

async function start() {
  byId("login").hidden = true;
  byId("shell").hidden = false;
  page.view ||= new ChatView({
    log: byId("log"),
    scroller: byId("scroller"),
    jump: byId("jump"),
    onRetryReply: retryReply,
    onContinueReply: continueReply,
    onEdit: editQuestion,
    onVersion: showVersion,
  });
  page.search ||= new Search({
    api: page.api,
    input: byId("search-input"),
    results: byId("search-results"),
    list: byId("conversation-groups"),
  });
  page.composer ||= new Composer({
    form: byId("composer"),
    input: byId("input"),
    send: byId("send"),
    stop: byId("stop"),
    attach: byId("attach"),
    fileInput: byId("file-input"),
    list: byId("attachments"),
    error: byId("send-error"),
    errorText: byId("send-error-text"),
    retry: byId("retry"),
    dismiss: byId("dismiss-error"),
    dropZone: byId("main"),
    onSend: sendDraft,
    onStop: stopReply,
  });
  page.sidebar ||= new Sidebar({
    api: page.api,
    container: byId("conversation-groups"),
    empty: byId("conversation-empty"),
    onDeleted: (conversation) => {
      if (page.session?.id === conversation.id) navigate("#/new");
    },
    onRenamed: (conversation) => {
      if (page.session?.id === conversation.id) showHeader(conversation);
    },
    onError: (exc) => page.composer.showError(sendErrorText(exc), { retry: false }),
  });
  try {
    await Promise.all([page.sidebar.refresh(), loadPersonas()]);
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 401) return;
    setBadge("offline");
  }
  route();
}

window.addEventListener("hashchange", route);
window.addEventListener("focus", () => page.sidebar?.refresh().catch(() => {}));

/** Open the page: with the link's token, sign in; else the cookie may sign us in already. */
async function boot() {
  const token = takeToken();
  if (token) {
    const failure = await signIn(token);
    if (failure) {
      showLogin(failure);
      return;
    }
  } else {
    try {
      await page.api.whoami();
    } catch (exc) {
      showLogin(exc instanceof ApiError && exc.status === 401 ? "" : sendErrorText(exc));
      return;
    }
  }
  start();
}

boot();
