// store.js - what the panels share: the jobs as last polled (the pages the
// runs table loaded), the selected job and the jobs overlaid for
// comparison. Panels read it and subscribe; the runs table and the form
// change it. Events: "jobs" (a poll), "selection", "summary" (a job's
// best accuracy became known).

export const FINISHED = new Set(["completed", "failed", "cancelled"]);

const listeners = new Set();

export const store = {
  jobs: [], // newest first, as GET /v1/jobs returns them: the pages loaded
  total: 0, // jobs on the server (the list's "total")
  more: false, // the server has jobs older than the loaded ones
  selected: null, // job id
  compared: new Set(), // job ids overlaid on the charts
  serverWorkers: null, // from /healthz: the pool's size

  job(id) {
    return this.jobs.find((j) => j.id === id) || null;
  },
  /* Jobs to plot: the selected one first, then the compared ones. */
  plotted() {
    const ids = [];
    if (this.selected) ids.push(this.selected);
    for (const id of this.compared) if (!ids.includes(id)) ids.push(id);
    return ids.filter((id) => this.job(id));
  },
  subscribe(fn) {
    listeners.add(fn);
  },
  changed(what) {
    for (const fn of listeners) fn(what);
  },
};

export function setJobs(jobs, total = jobs.length, more = false) {
  store.jobs = jobs;
  store.total = total;
  store.more = more;
  const known = new Set(jobs.map((j) => j.id));
  if (store.selected && !known.has(store.selected)) store.selected = null;
  for (const id of [...store.compared]) if (!known.has(id)) store.compared.delete(id);
  if (!store.selected && jobs.length) store.selected = jobs[0].id;
  store.changed("jobs");
}

export function select(id) {
  store.selected = id;
  store.changed("selection");
}

export function setCompared(id, on) {
  if (on) store.compared.add(id);
  else store.compared.delete(id);
  store.changed("selection");
}
