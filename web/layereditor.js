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

/* A number from text, or the text itself so the check names what is wrong. */
function value(text) {
  const t = text.trim();
  if (t === "") return undefined;
  return Number.isFinite(Number(t)) ? Number(t) : t;
}

function button(text, label, onClick, cls = "") {
  const b = el("button", { type: "button", textContent: text, className: cls });
  b.setAttribute("aria-label", label);
  b.title = label;
  b.addEventListener("click", onClick);
  return b;
}

/*
 * option: the `layers` entry of GET /v1/job-options; activations: the
 * values of the job's activation option; context(): what the form shows
 * now, {activation, output, input: [c, h, w] or null, classes}; onMode(mode)
 * is told "hidden" or "layers" when the choice changes.
 */
export function createLayerEditor({ option, activations, context, onMode }) {
  const rows = []; // {uid, type, text: {key: string}, activation: ""}
  const server = { index: -1, key: "", message: "", list: "" }; // the last 400 on these rows
  let uid = 0;

  const types = Object.keys(option.rows || {});
  const toggle = buildToggle();
  const list = el("ol", { className: "layer-rows", id: "layer-rows" });
  const outputRow = el("li", { className: "layer-output", id: "layer-output" });
  const total = el("p", { className: "layer-total", id: "layer-total" });
  const listError = el("p", { className: "field-error", id: "err-layers" });
  listError.setAttribute("aria-live", "polite");
  const addType = el("select", { id: "layer-add-type" }, ...types.map((t) => new Option(t, t)));
  addType.setAttribute("aria-label", "Type of the layer to add");
  const addButton = el("button", { type: "button", id: "layer-add", textContent: "Add layer" });
  addButton.addEventListener("click", () => add(addType.value));
  const editor = buildEditor();

  function buildToggle() {
    const wrap = el("fieldset", { className: "field field-wide network-mode", id: "network-mode" });
    wrap.append(el("legend", { textContent: "Network" }));
    for (const [mode, text] of [["hidden", "Hidden sizes"], ["layers", "Layer list"]]) {
      const radio = el("input", { type: "radio", name: "network", value: mode, id: `network-${mode}`, checked: mode === "hidden" });
      radio.addEventListener("change", () => setMode(mode));
      wrap.append(el("label", { className: "inline", htmlFor: radio.id }, radio, ` ${text}`));
    }
    return wrap;
  }

  function buildEditor() {
    const wrap = el("fieldset", { className: "field field-wide field-layers layer-editor", id: "f-layers", hidden: true });
    wrap.dataset.option = option.name;
    wrap.title = option.help;
    const legend = el("legend", { textContent: option.label });
    const help = el("p", { className: "help", id: "help-layers" });
    help.textContent = `Input first, the output layer implicit; up to ${option.max_items} rows. Shapes are channels×height×width.`;
    wrap.setAttribute("aria-describedby", "help-layers err-layers");
    const adder = el("div", { className: "layer-add" }, addType, addButton);
    wrap.append(legend, help, list, el("ul", { className: "layer-rows" }, outputRow), total, listError, adder);
    return wrap;
  }

  function mode() {
    return toggle.querySelector("input:checked").value;
  }

  function setMode(m) {
    toggle.querySelector(`#network-${m}`).checked = true;
    editor.hidden = m !== "layers";
    onMode(m);
    refresh();
  }

  /* ---- the rows' data ------------------------------------------------- */

  function add(type) {
    rows.push({ uid: ++uid, type, text: { ...START[type] }, activation: "" });
    clearServer();
    render();
    const first = list.lastElementChild && list.lastElementChild.querySelector("input, select");
    if (first) first.focus();
  }

  function remove(i) {
    rows.splice(i, 1);
    clearServer();
    render();
    const next = list.children[Math.min(i, rows.length - 1)];
    (next ? next.querySelector("[data-remove]") : addButton).focus();
  }

  function move(i, by) {
    const j = i + by;
    if (j < 0 || j >= rows.length) return;
    [rows[i], rows[j]] = [rows[j], rows[i]];
    clearServer();
    render();
    const moved = list.children[j].querySelector(by < 0 ? "[data-up]" : "[data-down]");
    (moved.disabled ? list.children[j].querySelector("[data-remove]") : moved).focus();
  }

  /* The rows as the server takes them: empty keys left out. */
  function bodyRows() {
    return rows.map((r) => {
      const out = { type: r.type };
      for (const key of option.rows[r.type]) {
        if (key === "activation") {
          if (r.activation) out.activation = r.activation;
        } else if (value(r.text[key] ?? "") !== undefined) out[key] = value(r.text[key]);
      }
      return out;
    });
  }

  /* ---- drawing -------------------------------------------------------- */

  function keyInput(r, i, key) {
    const id = `layer-${r.uid}-${key}`;
    if (key === "activation") {
      const sel = el("select", { id, name: `layers[${i}].activation` }, new Option("job's", ""),
        ...activations.map((a) => new Option(a, a)));
      sel.value = r.activation;
      sel.addEventListener("change", () => edited(() => (r.activation = sel.value)));
      return el("label", { className: "layer-key layer-key-wide", htmlFor: id }, "Activation", sel);
    }
    const info = keyInfo(r.type).find((k) => k.key === key);
    const input = el("input", { type: "text", id, name: `layers[${i}].${key}`, inputMode: "numeric", autocomplete: "off", value: r.text[key] ?? "" });
    input.spellcheck = false;
    if (info) input.title = `${info.min}–${info.max}${info.required ? "" : "; empty: the default"}`;
    input.addEventListener("input", () => edited(() => (r.text[key] = input.value)));
    return el("label", { className: "layer-key", htmlFor: id }, cap(key), input);
  }

  function rowElement(r, i) {
    const name = `layer ${i + 1} (${r.type})`;
    const li = el("li", { className: "layer-row", id: `layer-${r.uid}` });
    li.dataset.type = r.type;
    const title = el("span", { className: "layer-name", textContent: `${i + 1} · ${r.type}` });
    const out = el("span", { className: "layer-out" });
    const up = button("↑", `Move ${name} up`, () => move(i, -1));
    const down = button("↓", `Move ${name} down`, () => move(i, 1));
    const rm = button("✕", `Remove ${name}`, () => remove(i), "danger");
    up.dataset.up = down.dataset.down = rm.dataset.remove = "";
    up.disabled = i === 0;
    down.disabled = i === rows.length - 1;
    const keys = el("div", { className: "layer-keys" }, ...option.rows[r.type].map((k) => keyInput(r, i, k)));
    const err = el("p", { className: "field-error", id: `layer-${r.uid}-error` });
    err.setAttribute("aria-live", "polite");
    li.append(el("div", { className: "layer-head" }, title, out, el("span", { className: "layer-buttons" }, up, down, rm)), keys, err);
    return li;
  }

  function render() {
    list.replaceChildren(...rows.map(rowElement));
    addButton.disabled = rows.length >= option.max_items;
    addButton.title = addButton.disabled ? `A job takes at most ${option.max_items} rows` : "";
    refresh();
  }

  function edited(change) {
    change();
    clearServer();
    refresh();
  }

  /* ---- shapes and problems -------------------------------------------- */

  function clearServer() {
    Object.assign(server, { index: -1, key: "", message: "", list: "" });
  }

  function placeholders(r, li) {
    const v = {};
    for (const k of keyInfo(r.type)) v[k.key] = value(r.text[k.key] ?? "");
    for (const [key, def] of Object.entries(DEFAULTS[r.type])) {
      const input = li.querySelector(`input[name$=".${key}"]`);
      const d = def(v);
      if (input) input.placeholder = d === undefined ? "" : String(d);
    }
  }

  function markRow(li, error) {
    for (const c of li.querySelectorAll("input, select")) c.removeAttribute("aria-invalid");
    li.classList.toggle("invalid", Boolean(error));
    li.querySelector(".field-error").textContent = error ? error.message : "";
    const bad = error && error.key && li.querySelector(`[name$=".${error.key}"]`);
    if (bad) bad.setAttribute("aria-invalid", "true");
  }

  function showRow(li, r, i, d, ctx) {
    const row = d ? d.rows[i] : null;
    const out = li.querySelector(".layer-out");
    out.textContent = row && row.output ? `→ ${shapeText(row.output)} · ${count(row.parameters)} parameters` : "→ –";
    out.dataset.shape = row && row.output ? row.output.join("x") : "";
    out.dataset.parameters = row && row.output ? String(row.parameters) : "";
    const act = li.querySelector('select[name$=".activation"]');
    if (act) act.options[0].textContent = `job's (${ctx.activation})`;
    placeholders(r, li);
    const error = server.index === i ? { key: server.key, message: server.message } : row && row.error;
    markRow(li, error);
  }

  function showOutput(d, ctx) {
    const o = d && d.output;
    outputRow.hidden = !rows.length;
    outputRow.dataset.shape = o ? o.output.join("x") : "";
    outputRow.textContent = `output · dense (${ctx.output}) → ${o ? `${shapeText(o.output)} · ${count(o.parameters)} parameters` : "–"}`;
    total.dataset.parameters = d && d.parameters != null ? String(d.parameters) : "";
    if (!rows.length) total.textContent = `No rows yet: an empty list trains the default hidden sizes instead. Add a layer.`;
    else if (!ctx.input) total.textContent = "The data set's image size is not known yet, so no shapes.";
    else if (d.parameters == null) total.textContent = "Total: – (fix the marked rows)";
    else total.textContent = `Total: ${count(d.parameters)} parameters, ${count(Math.round(d.flops))} flops per sample, from a ${shapeText(ctx.input)} input.`;
    listError.textContent = server.list || (d && d.error) || "";
  }

  /* Recomputes every row's shape and problems from the form as it is now. */
  function refresh() {
    const ctx = context();
    const parsed = rows.map((r) => ({ type: r.type, values: Object.fromEntries(Object.entries(r.text).map(([k, t]) => [k, value(t)])) }));
    const outputs = ctx.output === "sigmoid" && ctx.classes === 2 ? 1 : ctx.classes;
    const d = ctx.input ? describeLayers(parsed, { input: ctx.input, classes: ctx.classes, outputs, maxParameters: option.max_parameters, maxItems: option.max_items }) : null;
    [...list.children].forEach((li, i) => showRow(li, rows[i], i, d, ctx));
    showOutput(d, ctx);
  }

  /* A 400 from the server: marks the row and key it names. */
  function showServerError(err) {
    const m = /^layers\[(\d+)\](?:\.(\w+))?$/.exec(err.field || "");
    clearServer();
    if (m && Number(m[1]) < rows.length) Object.assign(server, { index: Number(m[1]), key: m[2] || "", message: err.message });
    else server.list = err.message;
    refresh();
    const li = m && list.children[Number(m[1])];
    const target = (li && (li.querySelector('[aria-invalid="true"]') || li.querySelector("input, select"))) || editor;
    if (target === editor) editor.tabIndex = -1;
    target.focus();
  }

  function reset() {
    rows.length = 0;
    clearServer();
    render();
    setMode("hidden");
  }

  render();
  return {
    toggle, editor, mode, refresh, reset, showServerError,
    rows: bodyRows,
    clearErrors: () => {
      clearServer();
      refresh();
    },
  };
}
