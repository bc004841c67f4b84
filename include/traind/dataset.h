/*
 * dataset.h - labelled image sets in memory and the registry that names them.
 *
 * A data set is immutable once loaded: n samples of `features` unsigned
 * bytes (0..255, row-major images of width x height) and one label byte
 * each, split into train and test. Training converts each minibatch to
 * floats in [0,1] when it is used, so memory holds one byte a pixel.
 *
 * Requests name data sets, never files: the registry maps a name to the
 * files the server configuration gave it, loads each set once on first use
 * (thread-safe) and keeps it until the registry is freed, so a pointer from
 * registry_get() stays valid for the registry's lifetime.
 */
#ifndef TRAIND_DATASET_H
#define TRAIND_DATASET_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "traind/error.h"

#define DATASET_NAME_MAX 64
#define DATASET_MAX_CLASSES 256
#define DATASET_MAX_FEATURES (1 << 16)
/* dataset_load refuses any one file larger than this once decompressed. */
#define DATASET_MAX_FILE_BYTES ((size_t)1 << 30)

struct dataset {
	char name[DATASET_NAME_MAX];
	char source[256];   /* where it came from, for people */
	int width, height;  /* features = width * height */
	int features;
	int n_classes;
	char **class_names; /* n_classes strings */
	size_t n_train, n_test;
	uint8_t *train_x, *train_y; /* n_train * features, n_train */
	uint8_t *test_x, *test_y;   /* n_test * features, n_test */
	double train_density;       /* share of train_x's bytes that are not 0 */
	int train_half; /* the pixel that halves the first layer's work on train_x (a multiple of 4), 0 none */
};

enum dataset_format { DATASET_IDX, DATASET_CSV };

struct dataset_spec {
	char name[DATASET_NAME_MAX];
	enum dataset_format format;
	/* IDX: four files. CSV: train_images and test_images are the CSV files,
	 * the label paths are unused. Plain or .gz. */
	char train_images[PATH_MAX], train_labels[PATH_MAX];
	char test_images[PATH_MAX], test_labels[PATH_MAX];
	int width, height;  /* CSV only (IDX files carry their size); 0 = 28 */
	char classes[1024]; /* comma-separated class names; "" = "0".."9" */
	char source[256];
};

/* Loads the files of `spec`, validating every one: image and label counts
 * agree, labels are below the class count, train and test have one size. */
int dataset_load(const struct dataset_spec *spec, struct dataset **out, struct td_error *e);

/* Builds a data set from memory (copies everything); for tests and
 * synthetic problems. `class_names` may be NULL ("0", "1", ...). */
struct dataset *dataset_from_memory(const char *name, int width, int height, int n_classes,
				    const char *const *class_names, const uint8_t *train_x,
				    const uint8_t *train_y, size_t n_train, const uint8_t *test_x,
				    const uint8_t *test_y, size_t n_test);

void dataset_free(struct dataset *d);

struct dataset_registry;

struct dataset_registry *registry_create(void);
void registry_free(struct dataset_registry *r);

/* Registers a name (unique, [A-Za-z0-9_.-]{1,63}); files are not read yet. */
int registry_add(struct dataset_registry *r, const struct dataset_spec *spec,
		 struct td_error *e);

/* Registers a data set already in memory under its own name; the
 * registry owns it from then on (on failure the caller still does). */
int registry_add_loaded(struct dataset_registry *r, struct dataset *ds, struct td_error *e);

/* Registers "digits" (data_dir/digits/{train,t10k}-*-ubyte.gz, made by
 * `traind convert-digits`) and "fashion" (Debian's dataset-fashion-mnist
 * under fashion_dir). Missing files are not an error here: loading them is. */
int registry_add_defaults(struct dataset_registry *r, const char *data_dir,
			  const char *fashion_dir);

/* Loads on first use and returns the shared, immutable data set. */
int registry_get(struct dataset_registry *r, const char *name, const struct dataset **out,
		 struct td_error *e);

/* Registered names, in registration order. */
size_t registry_count(const struct dataset_registry *r);
const struct dataset_spec *registry_spec(const struct dataset_registry *r, size_t i);

#endif
