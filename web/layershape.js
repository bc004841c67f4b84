// layershape.js - the arithmetic of a `layers` list as the server does it
// (src/engine/layerspec.c reads each row, src/engine/model.c sizes it):
// each row's output C x H x W and parameter count from the data set's
// input, the implicit output layer, and each problem worded like the
// server's 400, naming the same field. GET /v1/job-options lists each row
// type's keys but not their ranges, so the ranges, defaults and limits
// below mirror include/traind/layerspec.h and model.h. This is a preview:
// the server stays the validator, and its answer to a submit is shown over
// anything computed here. Pure functions; the editor and the runs table
// use them.

/* Each row type's integer keys in the order the server reads them: the
 * range (max may follow a key read before: maxOf, maxText) and whether the
 * row must give it. */
const KEYS = {
  conv: [
    { key: "filters", min: 1, max: 1024, required: true },
    { key: "kernel", min: 1, max: 15, required: true },
    { key: "stride", min: 1, max: 8 },
    { key: "padding", min: 0, maxOf: (v) => v.kernel - 1, maxText: "kernel − 1" },
  ],
  maxpool: [{ key: "size", min: 1, max: 8, required: true }, { key: "stride", min: 1, max: 8 }],
  dense: [{ key: "units", min: 1, max: 4096, required: true }],
};

/* What an absent key stands for (none for a required key). */
export const DEFAULTS = {
  conv: { stride: () => 1, padding: () => 0 },
  maxpool: { stride: (v) => v.size },
  dense: {},
};

/* A row type's integer keys for a form: [{key, min, max, required}], max
 * as text where it follows another key. */
export function keyInfo(type) {
  return (KEYS[type] || []).map((k) => ({ key: k.key, min: k.min, max: k.maxText ?? k.max, required: Boolean(k.required) }));
}

const MAX_WIDTH = 1 << 17; // values one layer outputs per sample
const MAX_COL = 1 << 21; // a conv's im2col values per sample
const MAX_ACTS = 1 << 19; // values all layers output per sample, together
const MAX_FLOPS = 2e10; // flops of one forward pass of one sample

/* A number as C's %.3g writes it: 2e+10, 1.23e+11. */
function g3(x) {
  const [m, e] = x.toExponential(2).split("e");
  const mant = m.replace(/\.?0+$/, "");
  const exp = Number(e);
  if (exp < -4 || exp >= 3) return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  return String(Number(x.toPrecision(3)));
}

function shown(v) {
  return typeof v === "number" ? String(v) : typeof v === "string" ? "a string" : "not a number";
}

/* The first key of a row out of range, as {key, message}, and the values
 * with defaults filled in. values: key -> number, text or undefined. */
export function checkRow(type, values, i) {
  const keys = KEYS[type];
  if (!keys) return { error: { key: "type", message: `layers[${i}].type must be one of dense, conv, maxpool` } };
  const got = {};
  for (const { key, min: lo, max, maxOf, required } of keys) {
    const field = `layers[${i}].${key}`;
    const hi = maxOf ? maxOf(got) : max;
    const v = values[key];
    if (v === undefined || v === "") {
      if (required) return { error: { key, message: `${field} is missing: give an integer from ${lo} to ${hi}` } };
      got[key] = DEFAULTS[type][key](got);
      continue;
    }
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi)
      return { error: { key, message: `${field} must be an integer from ${lo} to ${hi}, not ${shown(v)}` } };
    got[key] = v;
  }
  return { values: got };
}

/* Row i on an input [c, h, w]: {output, weights, biases} or {error}. */
function sizeRow(type, v, i, [c, h, w]) {
  const at = `the input at layer ${i} is ${c}x${h}x${w}`;
  let out, weights = 0, key;
  if (type === "conv") {
    const k = v.kernel, ph = h + 2 * v.padding, pw = w + 2 * v.padding;
    if (k > ph || k > pw)
      return { error: { key: "kernel", message: `layers[${i}].kernel ${k} is larger than its padded input ${ph}x${pw} (${at}, padding ${v.padding}): the layer leaves no output` } };
    out = [v.filters, Math.floor((ph - k) / v.stride) + 1, Math.floor((pw - k) / v.stride) + 1];
    const col = c * k * k * out[1] * out[2];
    if (col > MAX_COL)
      return { error: { key: "kernel", message: `layer ${i}'s ${k}x${k} patches of its ${c}x${h}x${w} input at ${out[1]}x${out[2]} places are ${col} values per sample; at most ${MAX_COL}` } };
    weights = v.filters * c * k * k;
    key = "filters";
  } else if (type === "maxpool") {
    if (v.size > h || v.size > w)
      return { error: { key: "size", message: `layers[${i}].size ${v.size} is larger than its input ${h}x${w} (${at}): the layer leaves no output` } };
    out = [c, Math.floor((h - v.size) / v.stride) + 1, Math.floor((w - v.size) / v.stride) + 1];
    key = "size";
  } else {
    out = [v.units, 1, 1];
    weights = v.units * c * h * w;
    key = "units";
  }
  const n = out[0] * out[1] * out[2];
  if (n > MAX_WIDTH)
    return { error: { key, message: `layer ${i} outputs ${out.join("x")} = ${n} values per sample from its ${c}x${h}x${w} input; at most ${MAX_WIDTH}` } };
  return { output: out, weights, biases: type === "maxpool" ? 0 : out[0] };
}

/* Whole-model limits once every row fits: the message, or "". */
function modelLimit(sum, input, classes, maxParameters) {
  const [c, h, w] = input;
  if (sum.acts > MAX_ACTS)
    return `this model's layers output ${sum.acts} values per sample for ${w}x${h}x${c} inputs; at most ${MAX_ACTS}`;
  if (sum.flops > MAX_FLOPS)
    return `this model takes ${g3(sum.flops)} flops per sample for ${w}x${h}x${c} inputs; at most ${g3(MAX_FLOPS)}`;
  if (maxParameters && sum.parameters > maxParameters)
    return `this model has ${sum.parameters} parameters for ${w}x${h} inputs and ${classes} classes; the server allows at most ${maxParameters}`;
  return "";
}

/*
 * The whole list. rows: [{type, values}] (values as checkRow takes them);
 * model: {input: [c, h, w], classes, outputs (units of the output layer),
 * maxParameters, maxItems}. Returns {rows: [{output, parameters, error}],
 * output: {input, output, parameters} or null, parameters, flops, error}:
 * a row's output and parameters are null when it or a row before it has a
 * problem; error is the message of a problem of the whole list, or "".
 */
export function describeLayers(rows, model) {
  const out = { rows: [], output: null, parameters: null, flops: null, error: "" };
  let shape = model.input, ok = true;
  const sum = { parameters: 0, flops: 0, acts: shape[0] * shape[1] * shape[2] };
  rows.forEach((r, i) => {
    const read = checkRow(r.type, r.values, i);
    const sized = read.error || !ok ? null : sizeRow(r.type, read.values, i, shape);
    const error = read.error || (sized && sized.error) || null;
    if (error || !sized) {
      ok = false;
      out.rows.push({ output: null, parameters: null, error });
      return;
    }
    const parameters = sized.weights + sized.biases;
    sum.parameters += parameters;
    sum.flops += 2 * sized.weights * sized.output[1] * sized.output[2];
    sum.acts += sized.output[0] * sized.output[1] * sized.output[2];
    shape = sized.output;
    out.rows.push({ output: shape, parameters, error: null });
  });
  if (model.maxItems && rows.length > model.maxItems)
    out.error = `layers may list at most ${model.maxItems} rows, not ${rows.length}`;
  if (!ok || out.error) return out;
  const last = sizeRow("dense", { units: model.outputs }, rows.length, shape);
  const parameters = last.weights + last.biases;
  out.output = { input: shape, output: last.output, parameters };
  sum.parameters += parameters;
  sum.flops += 2 * last.weights;
  sum.acts += model.outputs;
  out.parameters = sum.parameters;
  out.flops = sum.flops;
  out.error = modelLimit(sum, model.input, model.classes, model.maxParameters);
  return out;
}

/* A shape as the page writes it: 8×28×28, or 32 for a vector. */
export function shapeText(s) {
  if (!s) return "–";
  return s[1] === 1 && s[2] === 1 ? String(s[0]) : s.join("×");
}

/* A row of a job's config.layers (the server's echo) in a few characters:
 * conv8k5p2, conv16k3s2, maxpool2, maxpool3s2, dense32; the activation
 * after a slash when it is not the job's. */
export function rowText(r, jobActivation) {
  let t;
  if (r.type === "conv") t = `conv${r.filters}k${r.kernel}${r.stride > 1 ? `s${r.stride}` : ""}${r.padding ? `p${r.padding}` : ""}`;
  else if (r.type === "maxpool") t = `maxpool${r.size}${r.stride && r.stride !== r.size ? `s${r.stride}` : ""}`;
  else if (r.type === "dense") t = `dense${r.units}`;
  else return JSON.stringify(r);
  return r.activation && r.activation !== jobActivation ? `${t}/${r.activation}` : t;
}
