// Signing in and out (docs/page.md, "Signing in"): the login form trades a token for a
// session cookie; "Sign out" ends the session everywhere this browser is signed in.

import { ApiError } from "./api.js";
import { byId } from "./dom.js";
import { sendErrorText } from "./errors.js";

/** Show the login form (the chat hidden) with `message` above it. */
export function showLoginForm(message = "") {
  byId("shell").hidden = true;
  byId("login").hidden = false;
  byId("login-error").textContent = message;
  byId("login-token").focus();
}

/** Trade a token for a session cookie: `{signedIn}`, the server's answer (`{user, images}`),
 * or `{failure}`, the text to show. */
export async function signIn(api, token) {
  try {
    return { signedIn: await api.signIn(token) };
  } catch (exc) {
    return { failure: exc.status === 401 ? "That token wasn't accepted. Check it and try again." : sendErrorText(exc) };
  }
}

/** Wire the login form and the sign-out button: `onSignedIn(signedIn)` once a token is accepted,
 * `onSignedOut(message)` once the session is ended, `onError(text)` when that fails. */
export function bindLogin({ api, onSignedIn, onSignedOut, onError }) {
  byId("sign-out").addEventListener("click", async () => {
    try {
      await api.signOut();
    } catch (exc) {
      onError(
        exc instanceof ApiError && exc.network ? "Couldn't reach the server to sign out." : `Signing out failed: ${exc.message}`,
      );
      return;
    }
    onSignedOut("You have signed out.");
  });

  byId("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = byId("login-token").value.trim();
    if (!token) return;
    const { signedIn, failure } = await signIn(api, token);
    if (failure) {
      byId("login-error").textContent = failure;
      return;
    }
    byId("login-token").value = "";
    onSignedIn(signedIn);
  });
}
