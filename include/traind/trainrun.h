/*
 * trainrun.h - `traind train` as a worker: what the daemon (or a script)
 * needs from a run it does not host - progress as JSON lines, checkpoints,
 * resuming from one, and a graceful stop on SIGUSR1 (which mpirun forwards
 * to every rank). With several ranks every rank runs this and rank 0
 * alone writes; the ranks stop at the same step (train.h).
 *
 * Lines on stdout, one JSON object each (with --progress):
 *   {"step": N, "loss": L, "time": T}  at most every 0.1 s, and each
 *                                       epoch's last step
 *   {"epoch": E, "step": N, ...}       each epoch's figures (--json)
 *   {"checkpoint": "FILE", "step": N}  after each checkpoint was written
 *   {"stopped": true, "step": N}       stopped on request, checkpointed
 *   {"done": true, ...}                the end (--json)
 */
#ifndef TRAIND_TRAINRUN_H
#define TRAIND_TRAINRUN_H

#include "traind/dataset.h"
#include "traind/dist.h"
#include "traind/error.h"
#include "traind/train.h"

struct trainrun {
	const char *checkpoint;    /* write checkpoints here (rank 0), or NULL */
	double checkpoint_seconds; /* and at least this often; 0: each epoch only */
	int progress;              /* print step lines */
	const struct dataset *ds;
	const struct dist *dist;
	double last_line, last_ckpt;
};

/* SIGUSR1 and SIGTERM ask the run to stop at the next step boundary. */
void trainrun_catch_signals(void);
int trainrun_stop_requested(void);

/* The trainer restored from a checkpoint file: rank 0 reads it and sends
 * its bytes to the other ranks, so the file need be on rank 0's host only.
 * Collective. */
int trainrun_resume(struct trainer *t, struct dist *d, const char *path, struct td_error *e);

/* Hooks, called from the CLI's own. */
void trainrun_on_step(struct trainrun *r, struct trainer *t, long step, double loss);
void trainrun_on_epoch(struct trainrun *r, struct trainer *t, double test_accuracy);
/* After a stop on request: checkpoint and say so. */
void trainrun_stopped(struct trainrun *r, struct trainer *t);

/* `traind train --ranks N` outside mpirun: runs the same command under
 * `mpirun -np N` (MPIRUN in the environment, else mpirun on the PATH) and
 * returns its exit status; -1 when it cannot be started. */
int trainrun_launch(int ranks, int argc, char **argv);

#endif
