/*
 * layerspec.h - the job field `layers`: a list of layer rows as the user
 * writes them, input first, the output layer implicit.
 *
 *   {"type": "conv", "filters": F, "kernel": k, "stride": 1, "padding": 0,
 *    "activation": "relu"}
 *   {"type": "maxpool", "size": k, "stride": k}
 *   {"type": "dense", "units": n, "activation": "relu"}
 *
 * Defaults: stride 1 (conv) or the pool's size (maxpool), padding 0,
 * activation the job's `activation`. This module checks each row on its
 * own (types, known keys, ranges), naming the field as "layers[2].kernel";
 * the shapes that depend on the input are model_describe's (model.c).
 */
#ifndef TRAIND_LAYERSPEC_H
#define TRAIND_LAYERSPEC_H

#include <jansson.h>

#include "traind/error.h"
#include "traind/model.h"

#define LAYERSPEC_MAX_FILTERS 1024
#define LAYERSPEC_MAX_KERNEL 15
#define LAYERSPEC_MAX_STRIDE 8
#define LAYERSPEC_MAX_POOL 8

struct layer_spec {
	enum layer_kind kind;
	int units;   /* dense: units; conv: filters */
	int kernel;  /* conv: k; maxpool: size */
	int stride;  /* 0: the default */
	int padding; /* conv */
	int act;     /* enum activation, or -1: the job's */
};

/* Parses a JSON array of rows into specs[0..*n); at most MODEL_MAX_SPECS. */
int layerspec_from_json(struct layer_spec *specs, int *n, const json_t *arr, struct td_error *e);

/* The same from text (the CLI's --layers); "" or "none" is no rows. */
int layerspec_from_text(struct layer_spec *specs, int *n, const char *text, struct td_error *e);

/* The rows as JSON, every default filled in (act: the job's activation). */
json_t *layerspec_to_json(const struct layer_spec *specs, int n, enum activation job_act);

#endif
