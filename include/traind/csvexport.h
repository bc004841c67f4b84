/*
 * csvexport.h - a job's training curve as CSV (RFC 4180), for
 * GET /v1/jobs/{id}/metrics?format=csv.
 *
 * One table in long format, so that the files of several jobs can simply
 * be concatenated (minus their header lines) and filtered by column:
 *
 *   job,name,kind,step,time,loss,epoch,train_loss,test_loss,
 *   train_accuracy,test_accuracy,seconds,samples_per_second
 *
 * `kind` is `point` (one training step: step, time, loss) or `epoch` (one
 * finished epoch: step is its last step, time that step's time when the
 * curve still holds it, then epoch and its figures). Columns a kind does
 * not use are empty, as is an unknown value (JSON null). Rows are in step
 * order; an epoch's row follows the point of its last step. Fields that
 * need it (a job name with a comma, a quote or a space at an end) are
 * quoted, quotes doubled; lines end in CRLF. Numbers are printed as the
 * JSON API prints them (15 significant digits), the loss of a point with 9
 * (it is stored as a 32-bit float, which 9 digits give back exactly).
 */
#ifndef TRAIND_CSVEXPORT_H
#define TRAIND_CSVEXPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "traind/error.h"

/* The header line's columns, comma-separated, without the line end. */
extern const char csvexport_metrics_header[];

/* Writes one field, quoted when it must be (RFC 4180). */
void csvexport_field(FILE *f, const char *s);

/* The CSV of `metrics` (a jobs_metrics_json answer) of job `id` named
 * `name`, in a malloc'd buffer (*buf, *len). 0, or TD_ENOMEM / TD_EINVAL
 * (a metrics object without its arrays) with `e` filled. */
int csvexport_metrics(const json_t *metrics, const char *id, const char *name, char **buf,
		      size_t *len, struct td_error *e);

#endif
