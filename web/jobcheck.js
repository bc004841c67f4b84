// jobcheck.js - the new-job form's live check: the form's body, as a
// submit would send it, posted to POST /v1/jobs:validate a moment after
// the last edit. A newer edit aborts the request in flight, and an answer
// that is not the newest request's is dropped, so an older answer never
// shows over a newer one. What an answer shows is the form's business.

import { api } from "./api.js";

const DELAY_MS = 250; // quiet time after an edit before the body is sent

/*
 * body(): the body to check, read when it is sent;
 * onPending(true|false): a check is waiting or in flight, or no longer;
 * onAnswer({config, model}): the server's 200;
 * onError(err): the ApiError of anything else (a 400, no answer at all).
 */
export function createJobCheck({ body, onPending, onAnswer, onError, delay = DELAY_MS }) {
  let timer = null;
  let controller = null;
  let seq = 0; // the newest check's number; any other's answer is stale

  function drop() {
    clearTimeout(timer);
    timer = null;
    if (controller) controller.abort();
    controller = null;
    return ++seq;
  }

  async function send(n) {
    timer = null;
    controller = new AbortController();
    try {
      const answer = await api.validateJob(body(), controller.signal);
      if (n === seq) onAnswer(answer);
    } catch (err) {
      if (n === seq && err.name !== "AbortError") onError(err);
    } finally {
      if (n === seq) {
        controller = null;
        onPending(false);
      }
    }
  }

  return {
    /* Checks the form again after the quiet time, forgetting older checks. */
    schedule() {
      const n = drop();
      onPending(true);
      timer = setTimeout(() => send(n), delay);
    },
    /* Forgets every check not answered yet. */
    cancel() {
      drop();
      onPending(false);
    },
  };
}
