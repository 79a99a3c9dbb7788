// The page: sign-in, the conversation list, one open conversation, the message box.
// Routes live in the hash (#/new, #/c/<id>) so that a reload reopens the same conversation.

import { replyActions } from "./actions.js";
import { Api, ApiError, takeToken } from "./api.js";
import { showBadge } from "./badge.js";
import { Composer } from "./composer.js";
import { ConversationSession } from "./conversation.js";
import { announce, byId } from "./dom.js";
import { bindDrawer, closeDrawer, drawerOpen, setDrawer } from "./drawer.js";
import { sendErrorText } from "./errors.js";
import { awaitTitle, showHeader } from "./header.js";
import { bindLogin, showLoginForm, signIn } from "./login.js";
import { chosenPersona, showPersonas } from "./personas.js";
import { Search } from "./search.js";
import { Sidebar } from "./sidebar.js";
import { ChatView } from "./view.js";

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

const actions = replyActions(page);

// ---- sign-in ----------------------------------------------------------------------------

function showLogin(message = "") {
  page.session?.close();
  page.session = null;
  showLoginForm(message);
}

/** The session is gone (signed out here, in another tab, or revoked): back to sign-in. */
function signedOut(message) {
  if (window.location.hash) window.history.replaceState(null, "", window.location.pathname);
  showLogin(message);
}

bindLogin({
  api: page.api,
  onSignedIn: (signedIn) => start(signedIn),
  onSignedOut: signedOut,
  onError: (text) => page.composer?.showError(text, { retry: false }),
});

// ---- the connection badge ----------------------------------------------------------------

function setBadge(state, transport = page.transport) {
  showBadge(state, transport);
}

function idleBadge() {
  if (!page.session) setBadge(navigator.onLine ? "connected" : "offline");
}

window.addEventListener("online", idleBadge);
window.addEventListener("offline", () => setBadge("offline"));

bindDrawer();

// ---- conversations -----------------------------------------------------------------------

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
      awaitTitle({
        api: page.api,
        sidebar: page.sidebar,
        id,
        onTitle: (conversation) => {
          page.sidebar.touch(conversation);
          if (page.session?.id === id) showHeader(conversation);
        },
      });
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

// ---- sending, and the earlier messages ---------------------------------------------------

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

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.defaultPrevented) return;
  if (drawerOpen()) {
    closeDrawer();
    return;
  }
  if (page.session?.chat.streaming().length) {
    event.preventDefault();
    actions.stopReply();
  }
});

// ---- start -------------------------------------------------------------------------------

/** Show the chat for the session `signedIn` (`{user, images}`, the server's answer). */
async function start(signedIn) {
  byId("login").hidden = true;
  byId("shell").hidden = false;
  page.view ||= new ChatView({
    log: byId("log"),
    scroller: byId("scroller"),
    jump: byId("jump"),
    onRetryReply: actions.retryReply,
    onContinueReply: actions.continueReply,
    onEdit: actions.editQuestion,
    onVersion: actions.showVersion,
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
    onStop: actions.stopReply,
  });
  page.composer.takeImages(signedIn.images);
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
    await Promise.all([
      page.sidebar.refresh(),
      showPersonas(page.api).then((personas) => {
        page.personas = personas;
      }),
    ]);
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
    const { signedIn, failure } = await signIn(page.api, token);
    if (failure) {
      showLogin(failure);
      return;
    }
    start(signedIn);
    return;
  }
  try {
    start(await page.api.whoami());
  } catch (exc) {
    showLogin(exc instanceof ApiError && exc.status === 401 ? "" : sendErrorText(exc));
  }
}

boot();
