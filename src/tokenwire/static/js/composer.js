// The message box: Enter sends, Shift+Enter adds a line, Esc stops a streaming reply.
// Images come from the attach button, a paste or a drop, as data URLs. A draft that fails to
// send comes back into the box with the error in plain words and a Retry that sends the same
// draft (same client_message_id, so a send that did reach the server is not made twice).

import { announce, h, icon } from "./dom.js";

const MAX_IMAGES = 8;
const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/** A random id that works outside secure contexts too (crypto.randomUUID does not). */
export function newId() {
  if (window.crypto?.randomUUID) return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.addEventListener("load", () => resolve(reader.result));
    reader.addEventListener("error", () => reject(reader.error));
    reader.readAsDataURL(file);
  });
}

export class Composer {
  constructor({ form, input, send, stop, attach, fileInput, list, error, errorText, retry, dismiss, dropZone, onSend, onStop }) {
    Object.assign(this, { form, input, send, stop, attach, fileInput, list, error, errorText, retry, dismiss });
    this.onSend = onSend;
    this.onStop = onStop;
    this.images = []; // {name, url}
    this.imagesTaken = true; // whether the server's model reads images (takeImages)
    this.failed = null; // the draft that failed, for Retry
    this.streaming = false;
    this.busy = false;
    // Chromium sizes the box to its text by CSS (field-sizing); elsewhere, by script.
    this.autoGrow = !CSS.supports("field-sizing", "content");
    input.addEventListener("input", () => this.grow());
    input.addEventListener("input", () => this.update());
    input.addEventListener("keydown", (event) => this.keydown(event));
    input.addEventListener("paste", (event) => this.pasted(event));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    stop.addEventListener("click", () => this.onStop());
    attach.addEventListener("click", () => fileInput.click());
    fileInput.addEventListener("change", () => {
      this.addFiles([...fileInput.files]);
      fileInput.value = "";
    });
    retry.addEventListener("click", () => this.retryFailed());
    dismiss.addEventListener("click", () => this.clearError());
    dropZone.addEventListener("dragover", (event) => {
      if ([...event.dataTransfer.types].includes("Files")) {
        event.preventDefault();
        dropZone.classList.add("dropping");
      }
    });
    dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dropping"));
    dropZone.addEventListener("drop", (event) => {
      dropZone.classList.remove("dropping");
      if (!event.dataTransfer.files.length) return;
      event.preventDefault();
      this.addFiles([...event.dataTransfer.files]);
    });
    this.update();
  }

  keydown(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey) {
      event.preventDefault();
      this.submit();
    }
  }

  grow() {
    if (!this.autoGrow) return;
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 240)}px`;
  }

  update() {
    const empty = !this.input.value.trim();
    this.send.disabled = this.busy || empty;
    this.send.hidden = this.streaming;
    this.stop.hidden = !this.streaming;
  }

  setStreaming(streaming) {
    if (this.streaming === streaming) return;
    const hadFocus = document.activeElement === this.stop || document.activeElement === this.send;
    this.streaming = streaming;
    this.update();
    if (hadFocus) (streaming ? this.stop : this.input).focus();
  }

  focus() {
    this.input.focus();
  }

  draft() {
    const content = this.input.value;
    const images = this.images.map((image) => image.url);
    // Sending the very draft that failed again keeps its id: the server may have stored it.
    const same =
      this.failed &&
      this.failed.content === content &&
      this.failed.images.length === images.length &&
      this.failed.images.every((url, n) => url === images[n]);
    return { content, images, clientId: same ? this.failed.clientId : newId() };
  }

  submit() {
    if (this.streaming || this.busy || !this.input.value.trim()) return;
    this.dispatch(this.draft());
  }

  retryFailed() {
    if (!this.failed || this.busy) return;
    this.dispatch(this.failed);
  }

  async dispatch(draft) {
    this.clearError();
    this.busy = true;
    this.input.value = "";
    this.setImages([]);
    this.grow();
    this.update();
    try {
      await this.onSend(draft);
      this.failed = null;
    } catch (exc) {
      this.failed = draft;
      // The words come back into the box, unless something new was typed meanwhile.
      if (!this.input.value.trim()) {
        this.input.value = draft.content;
        this.setImages(draft.images.map((url, n) => ({ name: `image ${n + 1}`, url })));
        this.grow();
      }
      this.showError(exc.userMessage || String(exc.message || exc));
    } finally {
      this.busy = false;
      this.update();
    }
  }

  showError(text, { retry = true } = {}) {
    this.errorText.textContent = text;
    this.retry.hidden = !retry || !this.failed;
    this.error.hidden = false;
  }

  clearError() {
    this.error.hidden = true;
    this.errorText.textContent = "";
  }

  /** Offer images (the attach button, paste, drop) only when the model reads them: a model
   * without eyes would refuse the message (422 images_unsupported) after it was written. */
  takeImages(taken) {
    this.imagesTaken = taken;
    this.attach.hidden = !taken;
    if (!taken) this.setImages([]);
  }

  pasted(event) {
    const files = [...(event.clipboardData?.files || [])].filter((f) => f.type.startsWith("image/"));
    if (files.length) {
      event.preventDefault();
      this.addFiles(files);
    }
  }

  async addFiles(files) {
    if (!this.imagesTaken) {
      this.showError("This server's model doesn't read images: send the message as text.", { retry: false });
      return;
    }
    for (const file of files) {
      if (!IMAGE_TYPES.includes(file.type)) {
        this.showError(`“${file.name}” isn't a picture the model can read. Attach a PNG, JPEG, GIF or WebP image.`, { retry: false });
        continue;
      }
      if (this.images.length >= MAX_IMAGES) {
        this.showError(`You can attach up to ${MAX_IMAGES} images to one message.`, { retry: false });
        break;
      }
      try {
        this.setImages([...this.images, { name: file.name, url: await readAsDataUrl(file) }]);
        announce(`Attached ${file.name}.`);
      } catch {
        this.showError(`“${file.name}” couldn't be read.`, { retry: false });
      }
    }
    this.input.focus();
  }

  setImages(images) {
    this.images = images;
    this.list.replaceChildren(
      ...images.map((image, n) =>
        h(
          "li",
          { class: "attachment" },
          h("img", { src: image.url, alt: image.name }),
          h(
            "button",
            {
              type: "button",
              class: "attachment-remove",
              "aria-label": `Remove ${image.name}`,
              onclick: () => {
                this.setImages(this.images.filter((_, k) => k !== n));
                this.input.focus();
              },
            },
            icon("x"),
          ),
        ),
      ),
    );
    this.list.hidden = images.length === 0;
  }
}
