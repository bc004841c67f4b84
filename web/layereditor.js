// layereditor.js - the new-job form's network: a choice between the
// hidden sizes (the `hidden` field, a stack of dense layers) and a layer
// list (the `layers` field), and the list's editor: one row per layer of
// the types GET /v1/job-options lists, with its keys, an activation that
// defaults to the job's, and buttons to move it up or down or remove it.
// The editor knows no rule of the rows: each row's output shape and
// parameters, the output layer, the total and the value an empty key
// stands for are the server's answer to the form's body (POST
// /v1/jobs:validate, which jobform.js sends after each edit), and a 400
// naming layers[i].key marks that row and key with the server's sentence.
// Until the next answer the last one stays shown, "checking…" beside the
// total. jobform.js builds it and sends rows() as `layers`.

import { shapeText } from "./format.js";

const count = (n) => Number(n).toLocaleString("en-US");
const cap = (s) => s[0].toUpperCase() + s.slice(1);

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/* A number from text, or the text itself so the server names what is
 * wrong; undefined for an empty key. */
function value(text) {
  const t = (text ?? "").trim();
  if (t === "") return undefined;
  return Number.isFinite(Number(t)) ? Number(t) : t;
}

function button(text, label, onClick, cls = "") {
  const b = el("button", { type: "button", textContent: text, className: cls, title: label });
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

/* The choice between the hidden sizes and the layer list. */
function modeToggle(onPick) {
  const wrap = el("fieldset", { className: "field field-wide network-mode", id: "network-mode" });
  wrap.append(el("legend", { textContent: "Network" }));
  for (const [mode, text] of [["hidden", "Hidden sizes"], ["layers", "Layer list"]]) {
    const radio = el("input", { type: "radio", name: "network", value: mode, id: `network-${mode}`, checked: mode === "hidden" });
    radio.addEventListener("change", () => onPick(mode));
    wrap.append(el("label", { className: "inline", htmlFor: radio.id }, radio, ` ${text}`));
  }
  return wrap;
}

/* A row's key: a text field for an integer, a select for the activation. */
function keyInput(r, i, key, activations, onEdit) {
  const id = `layer-${r.uid}-${key}`;
  const describedBy = `layer-${r.uid}-error`;
  if (key === "activation") {
    const sel = el("select", { id, name: `layers[${i}].activation` }, new Option("job's", ""),
      ...activations.map((a) => new Option(a, a)));
    sel.value = r.activation;
    sel.setAttribute("aria-describedby", describedBy);
    sel.addEventListener("change", () => onEdit(() => (r.activation = sel.value)));
    return el("label", { className: "layer-key layer-key-wide", htmlFor: id }, "Activation", sel);
  }
  const input = el("input", { type: "text", id, name: `layers[${i}].${key}`, inputMode: "numeric", autocomplete: "off", value: r.text[key] ?? "" });
  input.spellcheck = false;
  input.setAttribute("aria-describedby", describedBy);
  input.addEventListener("input", () => onEdit(() => (r.text[key] = input.value)));
  return el("label", { className: "layer-key", htmlFor: id }, cap(key), input);
}

/* A row's problem on its element: the message, and its key aria-invalid. */
function markRow(li, problem) {
  for (const c of li.querySelectorAll("input, select")) c.removeAttribute("aria-invalid");
  li.classList.toggle("invalid", Boolean(problem));
  li.querySelector(".field-error").textContent = problem ? problem.message : "";
  const bad = problem && problem.key && li.querySelector(`[name$=".${problem.key}"]`);
  if (bad) bad.setAttribute("aria-invalid", "true");
}

/* What the server made of each empty key of the row (its last answer), as
 * the key's placeholder. */
function placeholders(r, li) {
  for (const input of li.querySelectorAll("input[name]")) {
    const key = input.name.replace(/^.*\./, "");
    const v = r.given ? r.given[key] : undefined;
    input.placeholder = v === undefined || v === null ? "" : String(v);
  }
}

class LayerEditor {
  /*
   * option: the `layers` entry of GET /v1/job-options; activations: the
   * values of the job's activation option; context(): what the form shows
   * now, {activation}; onMode(mode) is told "hidden" or "layers" when the
   * choice changes, onChange() after every change of the rows.
   */
  constructor({ option, activations, context, onMode, onChange }) {
    Object.assign(this, { option, activations, context, onMode, onChange });
    // {uid, type, text: {key: string}, activation: "", out: the server's
    //  layer or null, given: the server's row (every key) or null}
    this.list = [];
    this.uid = 0;
    this.model = null; // the last answer's model for these rows, or null
    this.problem = null; // the last 400 on these rows: {uid (null: the list), key, message}
    this.refused = false; // the last answer was a 400, here or elsewhere
    this.pending = false;
    this.note = ""; // why the rows could not be checked
    this.toggle = modeToggle((m) => this.setMode(m));
    this.build();
    this.render();
  }

  build() {
    const o = this.option;
    this.rowsEl = el("ol", { className: "layer-rows", id: "layer-rows" });
    this.outputEl = el("li", { className: "layer-output", id: "layer-output" });
    this.totalEl = el("p", { className: "layer-total", id: "layer-total" });
    this.totalEl.setAttribute("aria-live", "polite");
    this.checkEl = el("p", { className: "layer-check help", id: "layer-check" });
    this.errorEl = el("p", { className: "field-error", id: "err-layers" });
    this.errorEl.setAttribute("aria-live", "polite");
    const types = Object.keys(o.rows || {});
    this.addType = el("select", { id: "layer-add-type" }, ...types.map((t) => new Option(t, t)));
    this.addType.setAttribute("aria-label", "Type of the layer to add");
    this.addButton = el("button", { type: "button", id: "layer-add", textContent: "Add layer" });
    this.addButton.addEventListener("click", () => this.add(this.addType.value));
    const help = el("p", { className: "help", id: "help-layers",
      textContent: `Input first, the output layer implicit; up to ${o.max_items} rows. Shapes are channels×height×width, as the server computes them.` });
    this.element = el("fieldset", { className: "field field-wide field-layers layer-editor", id: "f-layers", hidden: true, title: o.help },
      el("legend", { textContent: o.label }), help, this.rowsEl, el("ul", { className: "layer-rows" }, this.outputEl),
      el("div", { className: "layer-status" }, this.totalEl, this.checkEl), this.errorEl,
      el("div", { className: "layer-add" }, this.addType, this.addButton));
    this.element.dataset.option = o.name;
    this.element.setAttribute("aria-describedby", "help-layers err-layers");
  }

  mode() {
    return this.toggle.querySelector("input:checked").value;
  }

  setMode(m) {
    this.toggle.querySelector(`#network-${m}`).checked = true;
    this.element.hidden = m !== "layers";
    this.onMode(m);
    this.refresh();
  }

  /* ---- changing the rows ---------------------------------------------- */

  changed() {
    this.onChange();
    this.render();
  }

  add(type) {
    this.list.push({ uid: ++this.uid, type, text: {}, activation: "", out: null, given: null });
    this.changed();
    this.rowsEl.lastElementChild.querySelector("input, select").focus();
  }

  remove(i) {
    this.list.splice(i, 1);
    this.changed();
    const next = this.rowsEl.children[Math.min(i, this.list.length - 1)];
    (next ? next.querySelector("[data-remove]") : this.addButton).focus();
  }

  move(i, by) {
    const j = i + by;
    if (j < 0 || j >= this.list.length) return;
    [this.list[i], this.list[j]] = [this.list[j], this.list[i]];
    this.changed();
    const li = this.rowsEl.children[j];
    const same = li.querySelector(by < 0 ? "[data-up]" : "[data-down]");
    (same.disabled ? li.querySelector("[data-remove]") : same).focus();
  }

  /* A key typed or picked: the row's name attributes stay, so no redraw. */
  edited(change) {
    change();
    this.onChange();
  }

  /* The rows as the server takes them: empty keys left out. */
  rows() {
    return this.list.map((r) => {
      const out = { type: r.type };
      for (const key of this.option.rows[r.type]) {
        if (key === "activation") {
          if (r.activation) out.activation = r.activation;
        } else if (value(r.text[key]) !== undefined) out[key] = value(r.text[key]);
      }
      return out;
    });
  }

  /* ---- the server's answers ------------------------------------------- */

  /* A 200 for the form's body: {config, model}, model.layers being the
   * rows' layers then the output layer. */
  showAnswer({ config, model }) {
    const n = this.list.length;
    const ours = n > 0 && config.layers && config.layers.length === n;
    this.list.forEach((r, i) => {
      r.out = ours ? model.layers[i] : null;
      r.given = ours ? config.layers[i] : null;
    });
    this.model = ours ? model : null;
    this.problem = null;
    this.refused = false;
    this.note = "";
    this.refresh();
  }

  /* A 400 for the form's body, naming `field` (layers[i].key or layers
   * marks the row or the list; another field is the form's to mark): the
   * server sized nothing, so no shapes. */
  showRefusal(field, message) {
    for (const r of this.list) r.out = null;
    this.model = null;
    this.refused = true;
    this.note = "";
    const m = /^layers(?:\[(\d+)\](?:\.(\w+))?)?$/.exec(field || "");
    const row = m && m[1] !== undefined ? this.list[Number(m[1])] : null;
    this.problem = !m ? null : row ? { uid: row.uid, key: m[2] || "", message } : { uid: null, key: "", message };
    this.refresh();
  }

  /* Puts the focus on what the last 400 marked here. */
  focusProblem() {
    const p = this.problem;
    const li = p && p.uid !== null ? this.rowsEl.querySelector(`#layer-${p.uid}`) : null;
    const target = li ? li.querySelector('[aria-invalid="true"]') || li.querySelector("input, select") : this.element;
    if (target === this.element) this.element.tabIndex = -1;
    target.focus();
  }

  /* A check on its way (true) or answered (false): the shown values stay. */
  setPending(on) {
    this.pending = on;
    this.element.setAttribute("aria-busy", String(on));
    this.showCheck();
  }

  /* Why the rows are not checked now ("" once they are): a line, no more. */
  setNote(text) {
    this.note = text;
    this.showCheck();
  }

  clearErrors() {
    this.problem = null;
    this.refresh();
  }

  reset() {
    this.list.length = 0;
    this.model = null;
    this.problem = null;
    this.refused = false;
    this.note = "";
    this.render();
    this.setMode("hidden");
  }

  /* ---- drawing -------------------------------------------------------- */

  rowElement(r, i) {
    const name = `layer ${i + 1} (${r.type})`;
    const li = el("li", { className: "layer-row", id: `layer-${r.uid}` });
    li.dataset.type = r.type;
    const up = button("↑", `Move ${name} up`, () => this.move(i, -1));
    const down = button("↓", `Move ${name} down`, () => this.move(i, 1));
    const rm = button("✕", `Remove ${name}`, () => this.remove(i), "danger");
    up.dataset.up = down.dataset.down = rm.dataset.remove = "";
    up.disabled = i === 0;
    down.disabled = i === this.list.length - 1;
    const onEdit = (change) => this.edited(change);
    const keys = this.option.rows[r.type].map((k) => keyInput(r, i, k, this.activations, onEdit));
    li.append(
      el("div", { className: "layer-head" }, el("span", { className: "layer-name", textContent: `${i + 1} · ${r.type}` }),
        el("span", { className: "layer-out" }), el("span", { className: "layer-buttons" }, up, down, rm)),
      el("div", { className: "layer-keys" }, ...keys),
      el("p", { className: "field-error", id: `layer-${r.uid}-error` }));
    li.lastChild.setAttribute("aria-live", "polite");
    return li;
  }

  render() {
    this.rowsEl.replaceChildren(...this.list.map((r, i) => this.rowElement(r, i)));
    const full = this.list.length >= this.option.max_items;
    this.addButton.disabled = full;
    this.addButton.title = full ? `A job takes at most ${this.option.max_items} rows` : "";
    this.refresh();
  }

  showRow(li, r, activation) {
    const out = li.querySelector(".layer-out");
    out.textContent = r.out ? `→ ${shapeText(r.out.output)} · ${count(r.out.parameters)} parameters` : "→ –";
    out.dataset.shape = r.out ? r.out.output.join("x") : "";
    out.dataset.parameters = r.out ? String(r.out.parameters) : "";
    const act = li.querySelector('select[name$=".activation"]');
    if (act) act.options[0].textContent = `job's (${activation})`;
    placeholders(r, li);
    const p = this.problem;
    markRow(li, p && p.uid === r.uid ? p : null);
  }

  showTotal() {
    const m = this.model;
    const last = m ? m.layers[m.layers.length - 1] : null;
    this.outputEl.hidden = !this.list.length;
    this.outputEl.dataset.shape = last ? last.output.join("x") : "";
    this.outputEl.dataset.parameters = last ? String(last.parameters) : "";
    this.outputEl.textContent = last
      ? `output · ${last.type} (${last.activation}) → ${shapeText(last.output)} · ${count(last.parameters)} parameters`
      : "output layer → –";
    this.totalEl.dataset.parameters = m ? String(m.parameters) : "";
    let text;
    if (!this.list.length) text = "No rows yet: an empty list trains the default hidden sizes instead. Add a layer.";
    else if (m) text = `Total: ${count(m.parameters)} parameters, ${count(Math.round(m.flops_per_sample))} flops per sample, from a ${shapeText(m.layers[0].input)} input.`;
    else if (this.refused) text = `Total: – (fix the marked ${!this.problem ? "field" : this.problem.uid === null ? "list" : "row"})`;
    else text = "Total: – (not checked yet)";
    this.totalEl.textContent = text;
    const p = this.problem;
    this.errorEl.textContent = p && p.uid === null ? p.message : "";
  }

  showCheck() {
    this.checkEl.textContent = this.pending ? "checking…" : this.note;
    this.checkEl.dataset.state = this.pending ? "pending" : this.note ? "failed" : "idle";
  }

  /* Draws the rows, the output layer and the total as last answered. */
  refresh() {
    const { activation } = this.context();
    [...this.rowsEl.children].forEach((li, i) => this.showRow(li, this.list[i], activation));
    this.showTotal();
    this.showCheck();
  }
}

export function createLayerEditor(options) {
  return new LayerEditor(options);
}
