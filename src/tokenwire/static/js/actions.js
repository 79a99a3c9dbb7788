// What the user does to the open conversation's replies: stop, regenerate (and "Try again"),
// edit and resend, move between versions, continue. A failure shows in the message box's
// error line, in plain words; the reply stays as it was.

import { ApiError } from "./api.js";
import { announce } from "./dom.js";
import { sendErrorText } from "./errors.js";

/** The actions on `page.session`, the conversation open when each is taken. */
export function replyActions(page) {
  function showActionError(exc) {
    page.composer.showError(exc instanceof ApiError ? sendErrorText(exc) : String(exc.message || exc), { retry: false });
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

  /** "Continue" on a reply cut off at the length limit: the model goes on where it stopped. */
  async function continueReply(reply) {
    try {
      await page.session?.continueReply(reply);
    } catch (exc) {
      showActionError(exc);
    }
  }

  return { stopReply, retryReply, editQuestion, showVersion, continueReply };
}
