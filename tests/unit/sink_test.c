/*
 * Sinks (spate_sink_register and the `sink` stage): a flow built with the
 * SDK hands its records to registered callbacks, which see every field
 * typed and unescaped, always on one thread, and reject records as record
 * errors; a failing write fails the run with its message; names are
 * unique, unknown names fail the start, release comes once.  Stage types
 * are read through the SDK too.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "spate/spate.h"

struct seen {
	int begins, ends, releases;
	bool end_ok;
	uint32_t records;
	int64_t id_sum;
	char text[256];
	pthread_t thread;
	bool thread_set, other_thread;
	bool fail_write;
};

static int on_begin(void *user, const char *stage_id, char *err, size_t errlen)
{
	struct seen *s = user;

	s->begins++;
	cr_assert_str_eq(stage_id, "out");
	return 0;
}

static void field(struct seen *s, const struct spate_field *f)
{
	if (strcmp(f->name, "id") == 0) {
		cr_assert_eq(f->type, SPATE_VALUE_INT);
		s->id_sum += f->i;
	} else if (strcmp(f->name, "s") == 0 && f->type == SPATE_VALUE_STRING) {
		snprintf(s->text, sizeof(s->text), "%.*s", (int)f->text_len,
			 f->text);
	} else if (strcmp(f->name, "d") == 0) {
		cr_assert_eq(f->type, SPATE_VALUE_DOUBLE);
		cr_assert_float_eq(f->d, 2.5, 1e-12);
	} else if (strcmp(f->name, "o") == 0) {
		cr_assert_eq(f->type, SPATE_VALUE_OBJECT);
		cr_assert_eq(f->text_len, 8);
		cr_assert_eq(memcmp(f->text, "{\"a\": 1}", 8), 0);
	}
}

static int on_write(void *user, struct spate_records *recs, char *err,
		    size_t errlen)
{
	struct seen *s = user;
	struct spate_field f;

	if (!s->thread_set) {
		s->thread = pthread_self();
		s->thread_set = true;
	} else if (!pthread_equal(s->thread, pthread_self())) {
		s->other_thread = true;
	}
	if (s->fail_write) {
		snprintf(err, errlen, "the sink is full");
		return -ENOSPC;
	}
	for (uint32_t i = 0; i < spate_records_count(recs); i++) {
		uint32_t pos = 0;
		int64_t before = s->id_sum;

		while (spate_records_next_field(recs, i, &pos, &f) == 1)
			field(s, &f);
		s->records++;
		if (s->id_sum - before == 3)
			cr_assert_eq(spate_records_fail(recs, i, "three"), 0);
	}
	return 0;
}

static int on_end(void *user, bool ok, char *err, size_t errlen)
{
	struct seen *s = user;

	s->ends++;
	s->end_ok = ok;
	return 0;
}

static void on_release(void *user)
{
	((struct seen *)user)->releases++;
}

static struct spate_flow *sink_flow(const char *name)
{
	struct spate_flow *f = spate_flow_create("sinks");
	struct spate_stage *src = spate_flow_add_stage(f, "dev_raw_data", "in");
	struct spate_stage *out = spate_flow_add_stage(f, "sink", "out");

	cr_assert_eq(spate_stage_set_config(
			 src, "data",
			 " {\"id\": 1, \"s\": \"a\\\"b\\u00e9\"}\n"
			 "{\"id\": 2, \"d\": 2.5, \"o\": {\"a\": 1}}\n"
			 "{\"id\": 3}\n"),
		     0);
	cr_assert_eq(spate_stage_set_config(out, "name", name), 0);
	spate_stage_connect_output(src, out);
	return f;
}

static const struct spate_sink callbacks = {
    .begin = on_begin,
    .write = on_write,
    .end = on_end,
    .release = on_release,
};

Test(sink, hands_records_to_callbacks)
{
	struct seen s = {0};
	struct spate_sink sk = callbacks;
	struct spate_flow *f = sink_flow("test.sink");
	struct spate_run_status st;
	char err[1024];
	int idx;

	sk.user = &s;
	cr_assert_eq(spate_sink_register("test.sink", &sk), 0);
	cr_assert_eq(spate_sink_register("test.sink", &sk), -EEXIST);
	cr_assert_eq(spate_sink_register("bad name", &sk), -EINVAL);
	cr_assert_eq(spate_flow_run(f, NULL, &st, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(s.records, 3);
	cr_assert_eq(s.id_sum, 6);
	cr_assert_str_eq(s.text, "a\"b\xc3\xa9");
	cr_assert_eq(s.begins, 1);
	cr_assert_eq(s.ends, 1);
	cr_assert(s.end_ok);
	cr_assert_not(s.other_thread);
	cr_assert_eq(st.errors, 1);
	cr_assert_eq(st.records_out, 2);

	struct spate_run *run;
	struct spate_stage_status ss;

	cr_assert_eq(spate_flow_start(f, NULL, &run, err, sizeof(err)), 0);
	spate_run_wait(run);
	idx = spate_run_stage_index(run, "out");
	cr_assert_eq(spate_run_stage_status(run, (uint32_t)idx, &ss), 0);
	cr_assert_eq(ss.records_in, 3);
	cr_assert_eq(ss.errors, 1);
	cr_assert_eq(spate_sink_unregister("test.sink"), 0);
	cr_assert_eq(spate_sink_unregister("test.sink"), -ENOENT);
	cr_assert_eq(s.releases, 0); /* the run holds it until destroyed */
	spate_run_destroy(run);
	cr_assert_eq(s.releases, 1);
	spate_flow_destroy(f);
}

Test(sink, failing_write_fails_the_run)
{
	struct seen s = {.fail_write = true};
	struct spate_sink sk = callbacks;
	struct spate_flow *f = sink_flow("full");
	char err[1024];

	sk.user = &s;
	cr_assert_eq(spate_sink_register("full", &sk), 0);
	struct spate_run_status st;

	cr_assert_eq(spate_flow_run(f, NULL, &st, err, sizeof(err)), -EIO);
	cr_assert(strstr(err, "stage 'out': the sink is full"), "%s", err);
	cr_assert_eq(st.errors, 3); /* not taken */
	cr_assert_eq(s.ends, 1);
	cr_assert_not(s.end_ok);
	spate_sink_unregister("full");
	cr_assert_eq(s.releases, 1);
	spate_flow_destroy(f);
}

Test(sink, unknown_name_fails_the_start)
{
	struct spate_flow *f = sink_flow("nobody");
	char err[1024];

	int rc = spate_flow_run(f, NULL, NULL, err, sizeof(err));

	cr_assert_eq(rc, -ENOENT, "%d: %s", rc, err);
	cr_assert(strstr(err, "no sink 'nobody' is registered"), "%s", err);
	spate_flow_destroy(f);
}

Test(sink, stage_types_and_options)
{
	struct spate_stage_type_info ti;
	struct spate_option_info oi;
	const char *names[64];
	size_t n = spate_stage_types(names, 64);
	bool found = false;

	cr_assert_gt(n, 10);
	for (size_t i = 0; i < n; i++)
		found |= strcmp(names[i], "sink") == 0;
	cr_assert(found);
	cr_assert_eq(spate_stage_type_info("sink", &ti), 0);
	cr_assert_str_eq(ti.kind, "destination");
	cr_assert_eq(ti.noptions, 1);
	cr_assert_eq(spate_stage_type_option("sink", 0, &oi), 0);
	cr_assert_str_eq(oi.name, "name");
	cr_assert_str_eq(oi.type, "string");
	cr_assert(oi.required);
	cr_assert_eq(spate_stage_type_option("sink", 1, &oi), -ENOENT);
	cr_assert_eq(spate_stage_type_info("nope", &ti), -ENOENT);
	cr_assert_eq(spate_stage_type_info("dev_data_generator", &ti), 0);
	cr_assert_eq(spate_stage_type_option("dev_data_generator", 0, &oi), 0);
	cr_assert_str_eq(oi.name, "records");
	cr_assert_str_eq(oi.def, "1000");
}
