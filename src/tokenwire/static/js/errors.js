// What went wrong, in plain words. The server's codes and statuses are for programs; a person
// needs to know what happened and what to do next.

function size(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "")} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

function limitFrom(message) {
  const match = /limit is (\d+)/.exec(message || "");
  return match ? size(Number(match[1])) : null;
}

function wait(seconds) {
  if (!seconds) return "Wait a moment, then try again.";
  const s = Math.max(1, Math.round(seconds));
  return `Try again in ${s} second${s === 1 ? "" : "s"}.`;
}

/** A sentence for an ApiError from sending a message. */
export function sendErrorText(error) {
  if (error.network) return "Couldn't reach the server. Check your connection, then retry.";
  const limit = limitFrom(error.message);
  switch (error.code) {
    case "image_too_large":
      return `That image is too large to send${limit ? ` (the limit is ${limit})` : ""}. Try a smaller one.`;
    case "content_too_long":
      return "Your message is too long. Shorten it and send again.";
    case "payload_too_large":
      return "The message and its images are too large to send together. Remove an image or use smaller ones.";
    case "unsupported_image_type":
      return "That file isn't an image the model can read. Attach a PNG, JPEG, GIF or WebP picture.";
    case "invalid_image":
      return "That image couldn't be read. It may be damaged; try another one.";
    case "images_unsupported":
      return "This model doesn't take images. Remove them and send the text alone.";
    case "empty_content":
      return "Type a message first.";
    case "not_found":
      return "This conversation no longer exists. Start a new chat.";
    default:
      break;
  }
  switch (error.status) {
    case 413:
      return "That's too large to send. Use smaller images or a shorter message.";
    case 422:
      return "The server couldn't use that message or one of its images.";
    case 429:
      return `You're sending messages too quickly. ${wait(error.retryAfter)}`;
    case 503:
      return `The model is busy right now. ${wait(error.retryAfter)}`;
    case 502:
      return "The model failed to answer. Retry in a moment.";
    case 401:
      return "Your sign-in is no longer valid. Open the link the server printed again.";
    default:
      return `Sending failed${error.message ? `: ${error.message}` : "."}`;
  }
}

/** A sentence for a reply that ended in error (a message.error event or a stored error). */
export function replyErrorText(error) {
  const code = error?.code || "";
  if (code === "interrupted") {
    return "The reply was interrupted because the server stopped. The text so far is kept.";
  }
  if (code === "rate_limited") return "The model is rate limited right now. Try again shortly.";
  if (code === "unavailable") return "The model is unavailable right now. Try again shortly.";
  if (code === "timeout") return "The model took too long to answer.";
  const detail = error?.message ? ` (${error.message})` : "";
  return `The model stopped with an error${detail}.`;
}
