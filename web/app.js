// app.js - the dashboard's entry point: wires the token dialog into the API
// client and starts each panel (runs table, new-job form, curves,
// prediction, confusion matrix). Each panel lives in its own module.

import { setTokenAsker } from "./api.js";
import { startConfusion } from "./confusion.js";
import { startCurves } from "./curves.js";
import { startJobForm } from "./jobform.js";
import { startRuns } from "./runs.js";
import { notify } from "./notice.js";
import { startPredict } from "./predict.js";
import { askTokenDialog } from "./tokendialog.js";

setTokenAsker(askTokenDialog);
try {
  startPredict();
  startCurves();
  startConfusion();
  startRuns();
  startJobForm();
} catch (err) {
  notify("start", `The dashboard failed to start: ${err.message}`);
  throw err;
}
