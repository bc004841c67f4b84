// notice.js - the page's message bar: errors a person must see (the server
// is down, a 409, a refused token) as one line each, keyed so that a
// repeating problem (a failing poll) shows once and clears itself when it
// goes away. Nothing the page fails at is left as a silent blank.

const bar = () => document.getElementById("notices");
const shown = new Map(); // key -> element

/* Shows `message` under `key`, replacing what that key showed before. */
export function notify(key, message, kind = "error") {
  let el = shown.get(key);
  if (!el) {
    el = document.createElement("div");
    el.className = "notice";
    const text = document.createElement("span");
    const close = document.createElement("button");
    close.type = "button";
    close.className = "notice-close";
    close.textContent = "×";
    close.setAttribute("aria-label", "Dismiss this message");
    close.addEventListener("click", () => clearNotice(key));
    el.append(text, close);
    bar().append(el);
    shown.set(key, el);
  }
  el.dataset.kind = kind;
  el.dataset.key = key;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.firstChild.textContent = message;
}

export function clearNotice(key) {
  const el = shown.get(key);
  if (el) {
    el.remove();
    shown.delete(key);
  }
}

/* An API failure as a message: the server's own sentence, or why there was none. */
export function describe(err) {
  if (!err || err.status === undefined) return `Unexpected error: ${err && err.message}`;
  if (err.status === 401) return `Not authorised: ${err.message}. The page asks for the token again at your next action.`;
  return err.message;
}
