/*
 * checkpoint.h - the checkpoint file: a model, its training configuration
 * and, for a job in progress, everything needed to continue it bit for bit.
 *
 * Layout (integers and floats little-endian):
 *
 *   offset  size  field
 *   0       8     magic "TRAINDCK"
 *   8       4     format version (CHECKPOINT_VERSION, 2; bumped on any
 *                 incompatible change; a newer file is refused by name;
 *                 version 1 files, dense stacks only, still load)
 *   12      4     H, the header's length in bytes (at most 1 MiB)
 *   16      H     header: a UTF-8 JSON object -
 *                   "job", "config" (the job options, as the API shows them),
 *                   "layers" (the flattened widths, input first),
 *                   "model" (version 2: the layer rows of model_layer_json -
 *                     type, input and output [c, h, w], kernel/size,
 *                     stride, padding, activation, parameters; the model
 *                     is what "config" describes for width x height, and
 *                     a file whose rows differ is refused),
 *                   "activation", "output", "loss",
 *                   "dataset", "width", "height", "classes",
 *                   "parameters" (P), "moments" (K: 0 sgd, 1 momentum, 2 adam),
 *                   "state": {"epoch", "step_in_epoch", "global_step",
 *                             "epoch_loss_sum", "epoch_correct",
 *                             "epoch_samples", "epoch_seconds"} or null
 *                             for a weights-only export,
 *                   "test_accuracy" (or null)
 *   16+H    4P    parameters, float32, in model.h's layout: layer by
 *                 layer W then b; a dense W is [in][out], a conv W
 *                 [filters][in_channels][k][k] and b [filters] (PyTorch's
 *                 Conv2d weight as is; a dense W is the transpose of
 *                 Linear's, its input the map flattened in (channel, row,
 *                 column) order as torch.nn.Flatten gives it)
 *   ...     4PK   optimizer moments, K buffers of P float32
 *   end-4   4     CRC-32 (zlib's) of every byte before it
 *
 * The shuffle of every epoch and every augmentation shift derive from the
 * seed, the epoch and the sample, so "state" is all the RNG state there is.
 * Every field is validated on reading: a bad file is an error naming what
 * is wrong, never a crash.
 */
#ifndef TRAIND_CHECKPOINT_H
#define TRAIND_CHECKPOINT_H

#include <stddef.h>

#include "traind/error.h"
#include "traind/jobcfg.h"
#include "traind/model.h"
#include "traind/train.h"

#define CHECKPOINT_MAGIC "TRAINDCK"
#define CHECKPOINT_VERSION 2
#define CHECKPOINT_MAX_HEADER (1u << 20)
#define CHECKPOINT_MAX_BYTES ((size_t)1 << 31)

struct checkpoint {
	char job_id[16];
	struct job_config cfg;
	struct model_shape shape;
	char dataset[64];
	int width, height, n_classes;
	char **class_names;        /* n_classes */
	int has_state;             /* 0: weights only */
	struct trainer_state state;
	size_t n_params;
	int n_moments;
	const float *params;       /* n_params */
	const float *moment[2];    /* n_moments buffers of n_params */
	double test_accuracy;      /* NaN when unknown */
	void *owned;               /* storage behind the pointers when parsed */
	int owns_names;            /* class_names were allocated by parsing */
};

/* A view of a live trainer (pointers borrowed: valid while it is paused
 * in a hook). ds gives the class names and image size. */
void checkpoint_from_trainer(struct checkpoint *c, const char *job_id, const struct trainer *t,
			     const struct dataset *ds, double test_accuracy);

/* The file's bytes in a new buffer. */
int checkpoint_encode(const struct checkpoint *c, void **buf, size_t *len, struct td_error *e);

/* Validates and decodes; on success `out` owns its storage. */
int checkpoint_parse(const void *buf, size_t len, struct checkpoint *out, struct td_error *e);

/* encode + atomic_write (temp, fsync, rename, fsync dir). */
int checkpoint_save(const char *path, const struct checkpoint *c, struct td_error *e);
int checkpoint_load(const char *path, struct checkpoint *out, struct td_error *e);

/* Frees what checkpoint_parse allocated (a view needs no freeing). */
void checkpoint_free(struct checkpoint *c);

#endif
