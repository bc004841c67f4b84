// tokendialog.js - the small dialog that asks for the bearer token when the
// server answers 401 to a POST or DELETE (api.js calls it once and keeps
// the answer for the browser tab's session).

export function askTokenDialog(refused) {
  const dialog = document.getElementById("token-dialog");
  const form = dialog.querySelector("form");
  const input = dialog.querySelector("#token-input");
  dialog.querySelector("#token-why").textContent = refused
    ? "The server refused the token this page had. Enter the right one."
    : "This server needs a token to start, stop or delete jobs and to predict.";
  input.value = "";
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("cancel", onCancel);
      dialog.querySelector("#token-cancel").removeEventListener("click", onCancel);
      dialog.close();
      resolve(value);
    };
    const onSubmit = (ev) => {
      ev.preventDefault();
      done(input.value.trim() || null);
    };
    const onCancel = (ev) => {
      ev.preventDefault();
      done(null);
    };
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("cancel", onCancel);
    dialog.querySelector("#token-cancel").addEventListener("click", onCancel);
    dialog.showModal();
    input.focus();
  });
}
