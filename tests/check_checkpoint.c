/*
 * check_checkpoint.c - checkpoints: a job stopped, saved, loaded into a new
 * trainer and continued ends with the uninterrupted run's exact weights;
 * every kind of damage is refused by name; a failed write keeps the old
 * file.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "check_suites.h"
#include "testutil.h"
#include "traind/atomic_file.h"
#include "traind/checkpoint.h"
#include "traind/dataset.h"
#include "traind/train.h"

static struct dataset *blobs(void)
{
	size_t n = 600;
	uint8_t *x = calloc(n, 49), *y = malloc(n);
	struct td_rng r;
	rng_seed(&r, 4);
	for (size_t i = 0; i < n; i++) {
		int c = (int)rng_below(&r, 3);
		y[i] = (uint8_t)c;
		for (int k = 0; k < 12; k++) {
			int p = c * 14 + (int)rng_below(&r, 21);
			x[i * 49 + (size_t)p] = (uint8_t)(100 + rng_below(&r, 156));
		}
	}
	struct dataset *d = dataset_from_memory("blobs", 7, 7, 3, NULL, x, y, 500, x + 500 * 49,
						y + 500, 100);
	free(x);
	free(y);
	return d;
}

static struct job_config config(enum optimizer opt)
{
	struct job_config c;
	jobcfg_defaults(&c);
	c.hidden[0] = 20;
	c.optimizer = opt;
	c.learning_rate = opt == OPT_ADAM ? 0.01 : 0.1;
	c.batch_size = 48;
	c.epochs = 3;
	c.workers = 2;
	c.seed = 5;
	c.lr_schedule = LR_COSINE; /* a function of the step: must resume too */
	return c;
}

static int stop_after;
static long steps_seen;

static void count_steps(void *arg, struct trainer *t, long step, double loss)
{
	(void)arg;
	(void)t;
	(void)loss;
	steps_seen = step;
}

static int stop_at(void *arg)
{
	(void)arg;
	return steps_seen >= stop_after;
}

/* _i: sgd, momentum, adam. Stop mid-epoch 2, save, restore into a fresh
 * trainer, finish: the weights equal the uninterrupted run's. */
START_TEST(test_resume_from_checkpoint_is_bit_identical)
{
	const enum optimizer opts[3] = {OPT_SGD, OPT_MOMENTUM, OPT_ADAM};
	struct dataset *d = blobs();
	struct job_config c = config(opts[_i]);
	struct pool *p;
	ck_assert_int_eq(pool_create(2, &p, NULL), 0);
	struct trainer *a, *b;
	struct td_error e;
	ck_assert_int_eq(trainer_create(&c, d, p, &a, &e), 0);
	ck_assert_int_eq(trainer_run(a, NULL), 0);
	char ref[17], got[17];
	model_digest(trainer_params(a), trainer_param_count(a), ref);
	trainer_free(a);

	char *dir = test_tmpdir(), *file = test_path(dir, "ck.bin");
	ck_assert_int_eq(trainer_create(&c, d, p, &a, &e), 0);
	steps_seen = 0;
	stop_after = 15; /* 11 steps an epoch: stops inside epoch 2 */
	struct train_hooks h = {.on_step = count_steps, .should_stop = stop_at};
	ck_assert_int_eq(trainer_run(a, &h), 1);
	struct checkpoint ck, back;
	checkpoint_from_trainer(&ck, "j-test", a, d, NAN);
	ck_assert_int_eq(checkpoint_save(file, &ck, &e), 0);
	trainer_free(a);

	ck_assert_msg(checkpoint_load(file, &back, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(back.job_id, "j-test");
	ck_assert_int_eq(back.state.epoch, 1);
	ck_assert_int_eq(back.n_moments, optim_moments(opts[_i]));
	ck_assert_int_eq(trainer_create(&back.cfg, d, p, &b, &e), 0);
	/* The optimizer's moments must come along (none for sgd). */
	if (back.n_moments > 0)
		ck_assert_int_eq(trainer_restore(b, &back.state, back.params, back.n_params,
						 back.moment, 0, &e), TD_EFORMAT);
	ck_assert_msg(trainer_restore(b, &back.state, back.params, back.n_params, back.moment,
				      back.n_moments, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(trainer_run(b, NULL), 0);
	model_digest(trainer_params(b), trainer_param_count(b), got);
	ck_assert_str_eq(ref, got);
	trainer_free(b);
	checkpoint_free(&back);
	pool_free(p);
	dataset_free(d);
	test_rmtree(dir);
	free(dir);
	free(file);
}
END_TEST

/* Every byte matters: damage anywhere is refused with a reason. */
START_TEST(test_damage_is_refused_by_name)
{
	struct dataset *d = blobs();
	struct job_config c = config(OPT_MOMENTUM);
	c.epochs = 1;
	struct pool *p;
	struct trainer *t;
	ck_assert_int_eq(pool_create(1, &p, NULL), 0);
	c.workers = 1;
	ck_assert_int_eq(trainer_create(&c, d, p, &t, NULL), 0);
	struct checkpoint ck, back;
	checkpoint_from_trainer(&ck, "j-x", t, d, 0.5);
	void *buf;
	size_t len;
	struct td_error e;
	ck_assert_int_eq(checkpoint_encode(&ck, &buf, &len, &e), 0);
	ck_assert_int_eq(checkpoint_parse(buf, len, &back, &e), 0);
	ck_assert_double_eq(back.test_accuracy, 0.5);
	ck_assert_int_eq(memcmp(back.params, trainer_params(t), sizeof(float) * back.n_params), 0);
	checkpoint_free(&back);
	unsigned char *b = buf;
	/* wrong magic, newer version, flipped payload bit, truncated, padded */
	unsigned char *copy = malloc(len + 8);
	memcpy(copy, b, len);
	copy[0] = 'X';
	ck_assert_int_eq(checkpoint_parse(copy, len, &back, &e), TD_EFORMAT);
	ck_assert_str_eq(e.field, "magic");
	memcpy(copy, b, len);
	copy[8] = CHECKPOINT_VERSION + 1;
	ck_assert_int_eq(checkpoint_parse(copy, len, &back, &e), TD_EFORMAT);
	ck_assert_str_eq(e.field, "version");
	memcpy(copy, b, len);
	copy[len - 100] ^= 0x10;
	ck_assert_int_eq(checkpoint_parse(copy, len, &back, &e), TD_EFORMAT);
	ck_assert_str_eq(e.field, "crc");
	ck_assert_int_eq(checkpoint_parse(b, len - 1, &back, &e), TD_EFORMAT);
	memcpy(copy, b, len);
	memset(copy + len, 0, 8);
	ck_assert_int_eq(checkpoint_parse(copy, len + 8, &back, &e), TD_EFORMAT);
	for (size_t cut = 0; cut < 64; cut++)
		ck_assert_int_eq(checkpoint_parse(b, cut, &back, &e), TD_EFORMAT);
	/* A header without "config" (found by fuzz_checkpoint: a NULL deref),
	 * with a CRC that matches, so only the header is at fault. */
	memcpy(copy, b, len);
	char *cfg = memmem(copy + 16, len - 16, "\"config\"", 8);
	ck_assert_ptr_nonnull(cfg);
	memcpy(cfg, "\"cOnfig\"", 8);
	uLong crc = crc32(0L, copy, (uInt)(len - 4));
	for (int i = 0; i < 4; i++)
		copy[len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
	ck_assert_int_eq(checkpoint_parse(copy, len, &back, &e), TD_EFORMAT);
	ck_assert_str_eq(e.field, "config");
	free(copy);
	free(buf);
	trainer_free(t);
	pool_free(p);
	dataset_free(d);
}
END_TEST

/* A write that cannot finish leaves the previous file as it was. */
START_TEST(test_failed_write_keeps_the_old_file)
{
	char *dir = test_tmpdir(), *file = test_path(dir, "f.bin");
	struct iovec v1 = {(void *)"first version", 13};
	struct td_error e;
	ck_assert_int_eq(atomic_write(file, &v1, 1, &e), 0);
	/* A path whose directory does not exist fails at "create". */
	char *missing = test_path(dir, "no/such/dir/f.bin");
	ck_assert_int_eq(atomic_write(missing, &v1, 1, &e), TD_EIO);
	ck_assert_ptr_nonnull(strstr(e.msg, "temporary"));
	/* Replacing the file by a directory's name fails at "rename". */
	char *sub = test_path(dir, "sub");
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	char *inner = test_path(sub, "x");
	ck_assert_int_eq(test_write_file(inner, "x", 1), 0);
	struct iovec v2 = {(void *)"second", 6};
	ck_assert_int_eq(atomic_write(sub, &v2, 1, &e), TD_EIO);
	ck_assert_ptr_nonnull(strstr(e.msg, "rename"));
	size_t n;
	char *back = test_read_file(file, &n);
	ck_assert_uint_eq(n, 13);
	ck_assert_int_eq(memcmp(back, "first version", 13), 0);
	/* No temporaries left behind. */
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls %s | grep tmp)\"", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(back);
	free(inner);
	free(sub);
	free(missing);
	test_rmtree(dir);
	free(dir);
	free(file);
}
END_TEST

Suite *suite_checkpoint(void)
{
	Suite *s = suite_create("checkpoint");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_resume_from_checkpoint_is_bit_identical, 0, 3);
	tcase_add_test(tc, test_damage_is_refused_by_name);
	tcase_add_test(tc, test_failed_write_keeps_the_old_file);
	suite_add_tcase(s, tc);
	return s;
}
