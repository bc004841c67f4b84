// api.js - the page's one door to traind's HTTP API (docs/api.md): JSON in
// and out, every failure turned into an ApiError that names the status,
// the server's sentence and the field at fault, and the bearer token: asked
// for once when a mutation gets 401 (not for a check a form makes while it
// is edited), kept in sessionStorage, sent on POST and DELETE only. A
// request may be aborted (its AbortError is passed on as it is). Paths are
// relative, so the page also works under a prefix.

const TOKEN_KEY = "traind.token";

export class ApiError extends Error {
  constructor(status, message, field = "", said = message) {
    super(message);
    this.status = status; // 0: no answer at all
    this.field = field;
    this.said = said; // the server's own sentence, without the status
  }
}

let askToken = async () => null; // set by the page: resolves to a token or null
let pendingAsk = null; // one dialog however many requests wait on it

export function setTokenAsker(fn) {
  askToken = fn;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function tokenFromUser(refused) {
  if (!pendingAsk)
    pendingAsk = askToken(refused).then((t) => {
      pendingAsk = null;
      if (t) sessionStorage.setItem(TOKEN_KEY, t);
      return t;
    });
  return pendingAsk;
}

/* ask: whether a 401 asks the user for the token; signal: an AbortSignal. */
async function request(method, path, { json, body, contentType, signal, ask = true } = {}, retried = false) {
  const headers = { Accept: "application/json" };
  if (json !== undefined) {
    body = JSON.stringify(json);
    contentType = "application/json";
  }
  if (contentType) headers["Content-Type"] = contentType;
  const sent = method !== "GET" ? token() : "";
  if (sent) headers.Authorization = `Bearer ${sent}`;

  let res;
  try {
    res = await fetch(path, { method, headers, body, cache: "no-store", signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `The server does not answer (${err.message}). Is traind running?`);
  }
  if (res.status === 401 && method !== "GET" && !retried && ask) {
    if (sent && token() === sent) sessionStorage.removeItem(TOKEN_KEY);
    const t = token() || (await tokenFromUser(Boolean(sent)));
    if (t) return request(method, path, { body, contentType, signal }, true);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if ((res.headers.get("Content-Type") || "").startsWith("application/json")) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(res.status, `The server sent malformed JSON (HTTP ${res.status}).`);
    }
  }
  if (!res.ok) {
    const why = data && data.error ? data.error : text.trim() || res.statusText;
    throw new ApiError(res.status, `${why} (HTTP ${res.status})`, (data && data.field) || "", why);
  }
  return data;
}

const id = encodeURIComponent;

export const api = {
  health: () => request("GET", "healthz"),
  datasets: () => request("GET", "v1/datasets"),
  jobOptions: () => request("GET", "v1/job-options"),
  /* One page of the job list, newest first: {jobs, next_cursor, total}. */
  jobs: ({ limit = 50, cursor = null } = {}) =>
    request("GET", `v1/jobs?limit=${limit}${cursor ? `&cursor=${id(cursor)}` : ""}`),
  createJob: (config) => request("POST", "v1/jobs", { json: config }),
  /* The same body checked, nothing queued: {config, model} or the 400.
   * Never asks for the token: a 401 is the caller's to tell. */
  validateJob: (config, signal) => request("POST", "v1/jobs:validate", { json: config, signal, ask: false }),
  jobAction: (jobId, verb) => request("POST", `v1/jobs/${id(jobId)}:${verb}`),
  deleteJob: (jobId) => request("DELETE", `v1/jobs/${id(jobId)}`),
  metrics: (jobId, sinceStep, maxPoints) =>
    request("GET", `v1/jobs/${id(jobId)}/metrics?since_step=${sinceStep}&max_points=${maxPoints}`),
  /* The curve as a CSV file (a plain link: GET needs no token). */
  metricsCsvUrl: (jobId) => `v1/jobs/${id(jobId)}/metrics?format=csv`,
  layers: (jobId, sinceStep, maxPoints) =>
    request("GET", `v1/jobs/${id(jobId)}/layers?since_step=${sinceStep}&max_points=${maxPoints}`),
  histograms: (jobId) => request("GET", `v1/jobs/${id(jobId)}/histograms`),
  explain: (body) => request("POST", "v1/explain", { json: body }),
  models: () => request("GET", "v1/models"),
  confusion: (model) => request("GET", `v1/models/${id(model)}/confusion`),
  predict: (model, instances, preprocess) =>
    request("POST", `v1/models/${id(model)}:predict`, { json: { instances, preprocess } }),
  predictPng: (model, blob, preprocess) =>
    request("POST", `v1/models/${id(model)}:predict?preprocess=${preprocess}`, {
      body: blob,
      contentType: "image/png",
    }),
};
