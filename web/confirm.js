// confirm.js - the dialog that asks before a destructive action (deleting
// a job): says what will be lost, answers true only for the explicit
// button; Escape, the backdrop's Cancel and "Keep" answer false.

export function askConfirm({ title, message, action }) {
  const dialog = document.getElementById("confirm-dialog");
  const form = dialog.querySelector("form");
  const yes = dialog.querySelector("#confirm-yes");
  const no = dialog.querySelector("#confirm-no");
  dialog.querySelector("#confirm-title").textContent = title;
  dialog.querySelector("#confirm-message").textContent = message;
  yes.textContent = action;
  return new Promise((resolve) => {
    const done = (value) => (ev) => {
      ev.preventDefault();
      form.removeEventListener("submit", onYes);
      dialog.removeEventListener("cancel", onNo);
      no.removeEventListener("click", onNo);
      dialog.close();
      resolve(value);
    };
    const onYes = done(true);
    const onNo = done(false);
    form.addEventListener("submit", onYes);
    dialog.addEventListener("cancel", onNo);
    no.addEventListener("click", onNo);
    dialog.showModal();
    no.focus(); // the safe answer is the default
  });
}
