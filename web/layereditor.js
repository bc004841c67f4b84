// layereditor.js - the new-job form's network: a choice between the
// hidden sizes (the `hidden` field, a stack of dense layers) and a layer
// list (the `layers` field), and the list's editor: one row per layer of
// the types GET /v1/job-options lists, with its keys, an activation that
// defaults to the job's, buttons to move it up or down or remove it, and
// its output shape and parameter count from the data set's input
// (layershape.js), then the implicit output layer and the total. A row
// the preview finds wrong is marked with the message, naming its field;
// after a submit, the server's 400 naming layers[i].key marks that row and
// key instead. jobform.js builds it and sends rows() as `layers`.

import { describeLayers, DEFAULTS, keyInfo, shapeText } from "./layershape.js";

/* What a new row of each type starts with; every other key is left empty
 * (the server's default). The user changes them before sending. */
const START = { conv: { filters: "16", kernel: "3" }, maxpool: { size: "2" }, dense: { units: "128" } };

const count = (n) => n.toLocaleString("en-US");
const cap = (s) => s[0].toUpperCase() + s.slice(1);

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/* A number from text, or the text itself so the check names what is
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
  const info = keyInfo(r.type).find((k) => k.key === key);
  const input = el("input", { type: "text", id, name: `layers[${i}].${key}`, inputMode: "numeric", autocomplete: "off", value: r.text[key] ?? "" });
  input.spellcheck = false;
  input.setAttribute("aria-describedby", describedBy);
  if (info) input.title = `${info.min}–${info.max}${info.required ? "" : "; empty: the default"}`;
  input.addEventListener("input", () => onEdit(() => (r.text[key] = input.value)));
  return el("label", { className: "layer-key", htmlFor: id }, cap(key), input);
}

/* A row's problem on its element: the message, and its key aria-invalid. */
function markRow(li, error) {
  for (const c of li.querySelectorAll("input, select")) c.removeAttribute("aria-invalid");
  li.classList.toggle("invalid", Boolean(error));
  li.querySelector(".field-error").textContent = error ? error.message : "";
  const bad = error && error.key && li.querySelector(`[name$=".${error.key}"]`);
  if (bad) bad.setAttribute("aria-invalid", "true");
}

/* The server's default of each empty optional key, as its placeholder. */
function placeholders(r, li) {
  const v = {};
  for (const k of keyInfo(r.type)) v[k.key] = value(r.text[k.key]);
  for (const [key, def] of Object.entries(DEFAULTS[r.type] || {})) {
    const input = li.querySelector(`input[name$=".${key}"]`);
    const d = def(v);
    if (input) input.placeholder = d === undefined ? "" : String(d);
  }
}

class LayerEditor {
  /*
   * option: the `layers` entry of GET /v1/job-options; activations: the
   * values of the job's activation option; context(): what the form shows
   * now, {activation, output, input: [c, h, w] or null, classes};
   * onMode(mode) is told "hidden" or "layers" when the choice changes.
   */
  constructor({ option, activations, context, onMode }) {
    Object.assign(this, { option, activations, context, onMode });
    this.list = []; // {uid, type, text: {key: string}, activation: ""}
    this.uid = 0;
    this.server = null; // the last 400 on these rows: {index, key, message}
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
    this.errorEl = el("p", { className: "field-error", id: "err-layers" });
    this.errorEl.setAttribute("aria-live", "polite");
    const types = Object.keys(o.rows || {});
    this.addType = el("select", { id: "layer-add-type" }, ...types.map((t) => new Option(t, t)));
    this.addType.setAttribute("aria-label", "Type of the layer to add");
    this.addButton = el("button", { type: "button", id: "layer-add", textContent: "Add layer" });
    this.addButton.addEventListener("click", () => this.add(this.addType.value));
    const help = el("p", { className: "help", id: "help-layers",
      textContent: `Input first, the output layer implicit; up to ${o.max_items} rows. Shapes are channels×height×width.` });
    this.element = el("fieldset", { className: "field field-wide field-layers layer-editor", id: "f-layers", hidden: true, title: o.help },
      el("legend", { textContent: o.label }), help, this.rowsEl, el("ul", { className: "layer-rows" }, this.outputEl),
      this.totalEl, this.errorEl, el("div", { className: "layer-add" }, this.addType, this.addButton));
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

  add(type) {
    this.list.push({ uid: ++this.uid, type, text: { ...START[type] }, activation: "" });
    this.server = null;
    this.render();
    this.rowsEl.lastElementChild.querySelector("input, select").focus();
  }

  remove(i) {
    this.list.splice(i, 1);
    this.server = null;
    this.render();
    const next = this.rowsEl.children[Math.min(i, this.list.length - 1)];
    (next ? next.querySelector("[data-remove]") : this.addButton).focus();
  }

  move(i, by) {
    const j = i + by;
    if (j < 0 || j >= this.list.length) return;
    [this.list[i], this.list[j]] = [this.list[j], this.list[i]];
    this.server = null;
    this.render();
    const li = this.rowsEl.children[j];
    const same = li.querySelector(by < 0 ? "[data-up]" : "[data-down]");
    (same.disabled ? li.querySelector("[data-remove]") : same).focus();
  }

  edited(change) {
    change();
    this.server = null;
    this.refresh();
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

  showRow(li, i, d, ctx) {
    const row = d ? d.rows[i] : null;
    const ok = row && row.output;
    const out = li.querySelector(".layer-out");
    out.textContent = ok ? `→ ${shapeText(row.output)} · ${count(row.parameters)} parameters` : "→ –";
    out.dataset.shape = ok ? row.output.join("x") : "";
    out.dataset.parameters = ok ? String(row.parameters) : "";
    const act = li.querySelector('select[name$=".activation"]');
    if (act) act.options[0].textContent = `job's (${ctx.activation})`;
    placeholders(this.list[i], li);
    const s = this.server;
    markRow(li, s && s.index === i ? s : row && row.error);
  }

  showTotal(d, ctx) {
    const o = d && d.output;
    this.outputEl.hidden = !this.list.length;
    this.outputEl.dataset.shape = o ? o.output.join("x") : "";
    this.outputEl.textContent = `output · dense (${ctx.output}) → ${o ? `${shapeText(o.output)} · ${count(o.parameters)} parameters` : "–"}`;
    this.totalEl.dataset.parameters = d && d.parameters != null ? String(d.parameters) : "";
    let text;
    if (!this.list.length) text = "No rows yet: an empty list trains the default hidden sizes instead. Add a layer.";
    else if (!ctx.input) text = "The data set's image size is not known yet, so no shapes.";
    else if (d.parameters == null) text = "Total: – (fix the marked rows)";
    else text = `Total: ${count(d.parameters)} parameters, ${count(Math.round(d.flops))} flops per sample, from a ${shapeText(ctx.input)} input.`;
    this.totalEl.textContent = text;
    const s = this.server;
    this.errorEl.textContent = (s && s.index < 0 ? s.message : "") || (d && d.error) || "";
  }

  /* Recomputes every row's shape and problems from the form as it is now. */
  refresh() {
    const ctx = this.context();
    const parsed = this.list.map((r) => ({ type: r.type, values: Object.fromEntries(Object.keys(r.text).map((k) => [k, value(r.text[k])])) }));
    const outputs = ctx.output === "sigmoid" && ctx.classes === 2 ? 1 : ctx.classes;
    const d = ctx.input ? describeLayers(parsed, { input: ctx.input, classes: ctx.classes, outputs,
      maxParameters: this.option.max_parameters, maxItems: this.option.max_items }) : null;
    [...this.rowsEl.children].forEach((li, i) => this.showRow(li, i, d, ctx));
    this.showTotal(d, ctx);
  }

  /* A 400 from the server: marks the row and key it names, or the list. */
  showServerError(err) {
    const m = /^layers\[(\d+)\](?:\.(\w+))?$/.exec(err.field || "");
    const index = m && Number(m[1]) < this.list.length ? Number(m[1]) : -1;
    this.server = { index, key: index >= 0 ? m[2] || "" : "", message: err.message };
    this.refresh();
    const li = index >= 0 ? this.rowsEl.children[index] : null;
    const target = li ? li.querySelector('[aria-invalid="true"]') || li.querySelector("input, select") : this.element;
    if (target === this.element) this.element.tabIndex = -1;
    target.focus();
  }

  clearErrors() {
    this.server = null;
    this.refresh();
  }

  reset() {
    this.list.length = 0;
    this.server = null;
    this.render();
    this.setMode("hidden");
  }
}

export function createLayerEditor(options) {
  return new LayerEditor(options);
}
