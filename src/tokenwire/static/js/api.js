// The canonical HTTP API, as the page uses it. Every failure becomes an ApiError carrying
// the HTTP status and the server's {"error": {"code", "message"}}, or `network: true` when
// the server could not be reached at all.

/**
 * The login token of `?token=`, when the page was opened with one. It is taken out of the
 * address bar at once (so it is not bookmarked, shared or kept in history) and traded for a
 * session cookie (`Api.signIn`); the page keeps no copy of it.
 */
export function takeToken() {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    url.searchParams.delete("token");
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  }
  return fromUrl || null;
}

export class ApiError extends Error {
  constructor({ status = 0, code = "network_error", message = "", retryAfter = null, network = false }) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.network = network;
  }
}

/**
 * Every request carries the session cookie (HttpOnly, SameSite=Strict), which the browser
 * sends by itself to this origin: the page never holds a credential after signing in.
 */
export class Api {
  constructor({ onUnauthorized = () => {} } = {}) {
    this.onUnauthorized = onUnauthorized;
  }

  headers(extra = {}) {
    return { ...extra };
  }

  /** Trade a login token for a session cookie; resolves to {user}. */
  signIn(token) {
    return this.request("POST", "/api/v1/session", { bearer: token, quiet: true });
  }

  /** Who the cookie signs in; rejects with status 401 when it signs in no one. */
  whoami() {
    return this.request("GET", "/api/v1/session", { quiet: true });
  }

  /** End this browser's session: the server deletes it and clears the cookie. */
  signOut() {
    return this.request("DELETE", "/api/v1/session", { quiet: true });
  }

  async request(method, path, { body, signal, query, bearer, quiet = false } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const init = { method, headers: this.headers(), signal, cache: "no-store", credentials: "same-origin" };
    if (bearer) init.headers.Authorization = `Bearer ${bearer}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (exc) {
      if (exc.name === "AbortError") throw exc;
      throw new ApiError({ network: true, message: String(exc.message || exc) });
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      const retry = Number.parseFloat(response.headers.get("Retry-After") || "");
      const failure = new ApiError({
        status: response.status,
        code: error.code || `http_${response.status}`,
        message: error.message || response.statusText,
        retryAfter: Number.isFinite(retry) ? retry : null,
      });
      if (response.status === 401 && !quiet) this.onUnauthorized(failure);
      throw failure;
    }
    return data;
  }

  conversations(limit = 100) {
    return this.request("GET", "/api/v1/conversations", { query: { limit } });
  }

  conversation(cid) {
    return this.request("GET", `/api/v1/conversations/${encodeURIComponent(cid)}`);
  }

  createConversation(body) {
    return this.request("POST", "/api/v1/conversations", { body });
  }

  updateConversation(cid, body) {
    return this.request("PATCH", `/api/v1/conversations/${encodeURIComponent(cid)}`, { body });
  }

  deleteConversation(cid) {
    return this.request("DELETE", `/api/v1/conversations/${encodeURIComponent(cid)}`);
  }

  /**
   * One page of the current branch, oldest first; `before` is the `next_before` of the page
   * after it; `leaf` reads the branch through that message instead.
   */
  messages(cid, { limit = 50, before, leaf } = {}) {
    return this.request("GET", `/api/v1/conversations/${encodeURIComponent(cid)}/messages`, {
      query: { limit, before, leaf },
    });
  }

  /** Make the branch through `mid` the conversation's current one. */
  switchBranch(cid, mid) {
    return this.updateConversation(cid, { current_leaf_id: mid });
  }

  /** A new reply to the same question, beside `mid` (which is kept); answers the turn. */
  regenerate(mid) {
    return this.request("POST", `/api/v1/messages/${encodeURIComponent(mid)}/regenerate`, {
      query: { wait: "false" },
    });
  }

  /** The user's own messages and titles matching `q`, best first. */
  search(q, limit = 20) {
    return this.request("GET", "/api/v1/search", { query: { q, limit } });
  }

  /** Go on with a reply that ended at the length limit (or was stopped); answers the reply. */
  continueReply(mid) {
    return this.request("POST", `/api/v1/messages/${encodeURIComponent(mid)}/continue`, {
      query: { wait: "false" },
    });
  }

  /**
   * Send without waiting for the reply: 202 with both messages and the reply's events_url.
   * `parentId` (a reply's id, or null for a new first message) sends under an earlier
   * message: an edit resent, on a branch of its own. Left out, the send continues the leaf.
   */
  send(cid, { content, clientMessageId, images, parentId }) {
    const body = { content, client_message_id: clientMessageId };
    if (images && images.length) body.images = images;
    if (parentId !== undefined) body.parent_id = parentId;
    return this.request("POST", `/api/v1/conversations/${encodeURIComponent(cid)}/messages`, {
      body,
      query: { wait: "false" },
    });
  }

  message(mid) {
    return this.request("GET", `/api/v1/messages/${encodeURIComponent(mid)}`);
  }

  cancel(mid) {
    return this.request("POST", `/api/v1/messages/${encodeURIComponent(mid)}/cancel`);
  }

  /** The personas the server offers; an empty list when it offers none (or no such route). */
  async personas() {
    try {
      const data = await this.request("GET", "/api/v1/personas");
      const list = Array.isArray(data) ? data : data?.items || data?.personas || [];
      return list
        .map((p) => (typeof p === "string" ? { name: p, description: "" } : p))
        .filter((p) => p && typeof p.name === "string");
    } catch (exc) {
      if (exc instanceof ApiError && exc.status !== 401) return [];
      throw exc;
    }
  }

  socketUrl(cid) {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const path = `/api/v1/conversations/${encodeURIComponent(cid)}/ws`;
    return `${scheme}://${window.location.host}${path}`;
  }

  eventsUrl(mid, after) {
    const url = new URL(`/api/v1/messages/${encodeURIComponent(mid)}/events`, window.location.origin);
    url.searchParams.set("after", String(after));
    return url;
  }
}
