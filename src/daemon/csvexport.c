/*
 * csvexport.c - a job's training curve as CSV (see csvexport.h for the
 * layout).
 *
 * It reads the JSON the job manager gives (jobs_metrics_json), so the CSV
 * and the JSON route can never disagree on what a job recorded: the
 * points [[step, time, loss], ...] and the epoch rows, both in step order,
 * are merged into one table. The text is written to a memory stream; its
 * size is bounded by the points the route asks for.
 */
#include "traind/csvexport.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char csvexport_metrics_header[] =
	"job,name,kind,step,time,loss,epoch,train_loss,test_loss,train_accuracy,"
	"test_accuracy,seconds,samples_per_second";

void csvexport_field(FILE *f, const char *s)
{
	size_t n = strlen(s);
	int quote = n && (s[0] == ' ' || s[n - 1] == ' ');
	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (!quote) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', f);
		fputc(s[i], f);
	}
	fputc('"', f);
}

/* ",value" with `digits` significant digits; "," alone for null/NaN. */
static void num(FILE *f, const json_t *v, int digits)
{
	fputc(',', f);
	if (json_is_integer(v))
		fprintf(f, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v) && isfinite(json_real_value(v)))
		fprintf(f, "%.*g", digits, json_real_value(v));
}

static void row_start(FILE *f, const char *id, const char *name, const char *kind)
{
	csvexport_field(f, id);
	fputc(',', f);
	csvexport_field(f, name);
	fprintf(f, ",%s", kind);
}

/* The time of the point at `step`, or NULL: points are in step order. */
static const json_t *time_at(const json_t *points, long long step)
{
	size_t lo = 0, hi = json_array_size(points);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		long long s = json_integer_value(json_array_get(json_array_get(points, mid), 0));
		if (s == step)
			return json_array_get(json_array_get(points, mid), 1);
		if (s < step)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void point_row(FILE *f, const char *id, const char *name, const json_t *p)
{
	row_start(f, id, name, "point");
	num(f, json_array_get(p, 0), 15);
	num(f, json_array_get(p, 1), 15);
	num(f, json_array_get(p, 2), 9);
	fputs(",,,,,,,\r\n", f);
}

static void epoch_row(FILE *f, const char *id, const char *name, const json_t *points,
		      const json_t *r)
{
	static const char *const cols[] = {"epoch",          "train_loss",    "test_loss",
					   "train_accuracy", "test_accuracy", "seconds",
					   "samples_per_second"};
	const json_t *step = json_object_get(r, "step");
	row_start(f, id, name, "epoch");
	num(f, step, 15);
	num(f, time_at(points, json_integer_value(step)), 15);
	fputc(',', f); /* loss: a point's column */
	for (size_t k = 0; k < sizeof(cols) / sizeof(cols[0]); k++)
		num(f, json_object_get(r, cols[k]), 15);
	fputs("\r\n", f);
}

int csvexport_metrics(const json_t *metrics, const char *id, const char *name, char **buf,
		      size_t *len, struct td_error *e)
{
	const json_t *points = json_object_get(metrics, "points");
	const json_t *epochs = json_object_get(metrics, "epochs");
	*buf = NULL;
	*len = 0;
	if (!json_is_array(points) || !json_is_array(epochs))
		return td_errorf(e, TD_EINVAL, "", "the metrics have no points or epochs");
	FILE *f = open_memstream(buf, len);
	if (!f)
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	fprintf(f, "%s\r\n", csvexport_metrics_header);
	size_t np = json_array_size(points), ne = json_array_size(epochs), i = 0, k = 0;
	while (i < np || k < ne) {
		const json_t *p = json_array_get(points, i), *r = json_array_get(epochs, k);
		/* A point first when its step is not past the epoch's last step. */
		if (i < np && (k == ne || json_integer_value(json_array_get(p, 0)) <=
						  json_integer_value(json_object_get(r, "step")))) {
			point_row(f, id, name, p);
			i++;
		} else {
			epoch_row(f, id, name, points, r);
			k++;
		}
	}
	if (fclose(f) || !*buf) {
		free(*buf);
		*buf = NULL;
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	}
	return 0;
}
