/*
 * Cluster mode end to end: a real nats-server with JetStream (started
 * here on loopback with a temporary store), `spate worker` processes and
 * `spate submit`.  The flow is the expenses job over 24 input files of
 * about 1.3 MB, cut into shards by --shard-size: 1M splits each file into
 * two byte ranges (48 shards), 4M groups about three files per shard.
 * Every output record is read back and compared with what the input says
 * it must be, lane by lane, exactly once; error records carry the line
 * of the file they came from, also from a file's second range.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "support/e2e.h"
#include "support/expenses.h"
#include "support/s3srv.h"

#define FILES 24
#define RECORDS 20000
#define RANGE_SHARDS (2 * FILES) /* --shard-size 1M */
#define LIMIT_S 120

static bool jobs_key_exists(const char *url, const char *key);

struct nats {
	pid_t pid;
	char *dir;
	char url[128];
};

static bool have_nats_server(void)
{
	const char *path = getenv("PATH");
	char *copy = strdup(path ? path : "/usr/bin:/usr/sbin"), *save = NULL;
	bool found = false;

	for (char *d = strtok_r(copy, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char *p = e2e_join(d, "nats-server");
		found = access(p, X_OK) == 0;
		free(p);
	}
	free(copy);
	return found || access("/usr/sbin/nats-server", X_OK) == 0;
}

/* nats-server in its own session, logging to n->dir/log; with a config
 * file (a cluster node) or as a single JetStream server. */
static void nats_spawn(struct nats *n, const char *conf)
{
	char *log = e2e_join(n->dir, "log");

	n->pid = fork();
	cr_assert(n->pid >= 0);
	if (n->pid == 0) {
		setsid();
		/* a failed test stops its servers too */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (conf)
			execlp("nats-server", "nats-server", "-c", conf,
			       "--ports_file_dir", n->dir, "-l", log,
			       (char *)NULL);
		else
			execlp("nats-server", "nats-server", "-a", "127.0.0.1",
			       "-p", "-1", "-js", "-sd", n->dir,
			       "--ports_file_dir", n->dir, "-l", log,
			       (char *)NULL);
		_exit(127);
	}
	free(log);
}

/* Waits for the server's "ready" line and takes its client URL from the
 * ports file. */
static void nats_ready(struct nats *n)
{
	char *log = e2e_join(n->dir, "log");
	char *text = NULL;
	for (int i = 0; i < 500; i++) {
		free(text);
		text = e2e_read(log, NULL);
		if (text && strstr(text, "Server is ready"))
			break;
		e2e_sleep_ms(10);
	}
	cr_assert(text && strstr(text, "Server is ready"),
		  "nats-server did not start: %s", text ? text : "(no log)");
	free(text);
	free(log);
	char *pattern = e2e_join(n->dir, "*.ports");
	glob_t g;
	int gr = GLOB_NOMATCH;
	for (int i = 0; i < 500 && gr != 0; i++) {
		gr = glob(pattern, 0, NULL, &g);
		if (gr != 0)
			e2e_sleep_ms(10);
	}
	cr_assert_eq(gr, 0, "no ports file in %s", n->dir);
	/* the file may be there before the server has written it */
	char *ports = NULL;
	for (int i = 0; i < 500; i++) {
		free(ports);
		ports = e2e_read(g.gl_pathv[0], NULL);
		if (ports && strstr(ports, "nats://"))
			break;
		e2e_sleep_ms(10);
	}
	globfree(&g);
	free(pattern);
	const char *u = ports ? strstr(ports, "nats://") : NULL;
	cr_assert(u, "no URL in the ports file");
	size_t l = strcspn(u, "\"");
	snprintf(n->url, sizeof(n->url), "%.*s", (int)l, u);
	free(ports);
}

static void nats_start(struct nats *n)
{
	if (!have_nats_server())
		cr_skip_test("nats-server is not installed (Debian package "
			     "nats-server; scripts/deps installs it)");
	n->dir = e2e_tmpdir();
	nats_spawn(n, NULL);
	nats_ready(n);
}

static void nats_stop(struct nats *n)
{
	if (n->pid > 0) {
		kill(n->pid, SIGTERM);
		waitpid(n->pid, NULL, 0);
	}
	e2e_rmrf(n->dir);
	free(n->dir);
}

struct expect {
	struct e2e_text lane[3]; /* high, low, rest */
	unsigned bad;
};

/* 24 files of RECORDS lines; every sixth file has one broken line in
 * its first half (line 101), every sixth from the fourth one in its
 * second half (line 15001). */
static void make_input(const char *dir, struct expect *x)
{
	uint64_t seed = 42;
	unsigned id = 0;

	memset(x, 0, sizeof(*x));
	e2e_put_str(dir, "flow.yaml", expenses_saved_yaml);
	for (int f = 0; f < FILES; f++) {
		struct e2e_text t = {0};
		char name[64];
		for (int i = 0; i < RECORDS; i++) {
			if ((f % 6 == 0 && i == 100) ||
			    (f % 6 == 3 && i == 15000)) {
				e2e_text_add(&t, "{\"id\": broken\n", 14);
				x->bad++;
				continue;
			}
			id++;
			long e = (long)(e2e_lcg(&seed) % 40000) - 20000;
			e2e_text_printf(
			    &t,
			    "{\"id\":%u,\"user\":\"u%u\",\"expense\":"
			    "%ld,\"tags\":[\"a\",\"b\"]}\n",
			    id, id, e);
			int lane = e >= 10000 ? 0 : e < -10000 ? 1 : 2;
			e2e_text_printf(&x->lane[lane],
					"{\"id\":%u,\"user_name\":\"u%u\","
					"\"expense\":%ld}\n",
					id, id, e);
		}
		snprintf(name, sizeof(name), "data/part-%02d.jsonl", f);
		e2e_put_str(dir, name, t.p);
		free(t.p);
	}
}

/* The records of dir/sub are want's lines (sorted in place), in any
 * order: shards finish in any order. */
static void assert_out_any_order(const char *dir, const char *sub, char *want,
				 const char *what)
{
	size_t len = 0, wlen = want ? strlen(want) : 0;
	char *got = e2e_read_out(dir, sub, &len);

	cr_assert(got, "no output in %s", sub);
	e2e_sort_lines(got, len);
	e2e_sort_lines(want, wlen);
	e2e_assert_same(got, len, want, wlen, what, sub);
	free(got);
}

/* Every record in its lane exactly once, the broken lines as errors,
 * and nothing hidden left beside the outputs. */
static void check_output(const char *dir, struct expect *x)
{
	static const char *lanes[] = {"out/high", "out/low", "out/rest"};

	for (int l = 0; l < 3; l++)
		assert_out_any_order(dir, lanes[l], x->lane[l].p, "cluster");
	size_t len = 0;
	char *err = e2e_read_out(dir, "out/errors", &len);
	cr_assert_eq(e2e_count_lines(err, len), x->bad);
	unsigned first = 0, second = 0;
	for (char *p = err; p && *p; p = strchr(p, '\n') + 1) {
		cr_assert(strstr(p, "\"spate_error\"") && strstr(p, "broken"),
			  "not an error record: %.200s", p);
		char *nl = strchr(p, '\n');
		*nl = '\0';
		first += strstr(p, ".jsonl:101\"") != NULL;
		second += strstr(p, ".jsonl:15001\"") != NULL;
		*nl = '\n';
	}
	/* the line numbers of the file, wherever its range began */
	cr_assert_eq(first + second, x->bad, "error lines wrong: %s", err);
	free(err);
	char *out = e2e_join(dir, "out");
	cr_assert_eq(e2e_count_files(out, NULL, true), 4,
		     "staging areas left in %s", out);
	free(out);
}

static void expect_fini(struct expect *x)
{
	for (int l = 0; l < 3; l++)
		free(x->lane[l].p);
}

static pid_t start_worker(const char *dir, const char *url, int i)
{
	char out[64], err[64];
	const char *argv[] = {"worker", "--nats",     url, "--workers",
			      "1",	"--ack-wait", "2", NULL};

	snprintf(out, sizeof(out), "%s/worker%d.out", dir, i);
	snprintf(err, sizeof(err), "%s/worker%d.err", dir, i);
	return e2e_bg_start(dir, NULL, argv, out, err, NULL);
}

static void stop_worker(pid_t pid)
{
	kill(pid, SIGTERM);
	cr_assert_eq(e2e_bg_wait(pid, 30), 0, "worker did not stop cleanly");
}

/* shards committed, from `spate jobs --json` (-1: no job yet) */
static int shards_done(const char *dir, const char *url)
{
	struct e2e_result r;
	const char *argv[] = {"jobs", "--nats", url, "--json", NULL};

	e2e_run_timed(&r, dir, NULL, NULL, argv, 30);
	const char *d = r.exit_code == 0 ? e2e_after_key(r.out, "done") : NULL;
	int n = d ? atoi(d) : -1;
	e2e_result_free(&r);
	return n;
}

static char *manifests(const char *dir)
{
	struct e2e_text t = {0};
	static const char *m[] = {
	    "out/high/_manifest.json", "out/low/_manifest.json",
	    "out/rest/_manifest.json", "out/errors/_manifest.json"};
	for (int i = 0; i < 4; i++) {
		char *p = e2e_join(dir, m[i]);
		char *s = e2e_read(p, NULL);
		cr_assert(s, "no %s", m[i]);
		e2e_text_printf(&t, "%s\n", s);
		free(s);
		free(p);
	}
	return t.p;
}

Test(cluster, worker_killed_mid_job_output_exactly_once)
{
	struct nats n = {0};
	struct expect x;
	char *dir = e2e_tmpdir();
	pid_t w[3];

	nats_start(&n);
	make_input(dir, &x);
	for (int i = 0; i < 3; i++)
		w[i] = start_worker(dir, n.url, i);
	const char *argv[] = {"submit",	      "flow.yaml", "--nats",
			      n.url,	      "--wait",	   "--json",
			      "--shard-size", "1M",	   NULL};
	char *sout = e2e_join(dir, "submit.out"),
	     *serr = e2e_join(dir, "submit.err");
	pid_t sub = e2e_bg_start(dir, NULL, argv, sout, serr, NULL);
	int done = -1;
	for (int i = 0; i < 600 && done < 3; i++) {
		e2e_sleep_ms(50);
		done = shards_done(dir, n.url);
	}
	cr_assert(done >= 3 && done < RANGE_SHARDS,
		  "the kill came too late: %d shards committed", done);
	kill(w[0], SIGKILL);
	cr_assert_eq(e2e_bg_wait(w[0], 10), 128 + SIGKILL);
	cr_assert_eq(e2e_bg_wait(sub, LIMIT_S), 0, "submit --wait failed: %s",
		     e2e_read(serr, NULL));
	char *status = e2e_read(sout, NULL);
	cr_assert(strstr(status, "\"state\": \"published\"") &&
		      strstr(status, "\"shards\": 48,") &&
		      strstr(status, "\"done\": 48,"),
		  "%s", status);
	check_output(dir, &x);
	/* a published job keeps its records, not its fence key */
	const char *jid = e2e_after_key(status, "job");
	cr_assert(jid && *jid == '"', "%s", status);
	char key[64];
	snprintf(key, sizeof(key), "%.16s", jid + 1);
	cr_assert(jobs_key_exists(n.url, key), "no job record %s", key);
	snprintf(key, sizeof(key), "%.16s.fence", jid + 1);
	cr_assert(!jobs_key_exists(n.url, key), "%s left behind", key);

	/* the same submission again loads nothing and changes nothing */
	char *before = manifests(dir);
	struct e2e_result r;
	e2e_run_timed(&r, dir, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.out, "nothing to do: 24 file(s) loaded before"),
		  "%s", r.out);
	e2e_result_free(&r);
	char *after = manifests(dir);
	cr_assert_str_eq(after, before);
	check_output(dir, &x);

	for (int i = 1; i < 3; i++)
		stop_worker(w[i]);
	free(before);
	free(after);
	free(status);
	free(sout);
	free(serr);
	expect_fini(&x);
	nats_stop(&n);
	e2e_rmrf(dir);
	free(dir);
}

/* Whether key is in the spate_jobs bucket (a purged key is not). */
static bool jobs_key_exists(const char *url, const char *key)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	kvStore *kv = NULL;
	kvEntry *e = NULL;

	cr_assert_eq(natsConnection_ConnectTo(&nc, url), NATS_OK);
	cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	cr_assert_eq(js_KeyValue(&kv, js, "spate_jobs"), NATS_OK);
	natsStatus s = kvStore_Get(&e, kv, key);
	cr_assert(s == NATS_OK || s == NATS_NOT_FOUND, "%s: %s", key,
		  natsStatus_GetText(s));
	kvEntry_Destroy(e);
	kvStore_Destroy(kv);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return s == NATS_OK;
}

struct task_copy {
	char subject[128];
	char *data;
	int len;
};

/* The task with stream sequence seq, as it is queued. */
static void task_get(const char *url, uint64_t seq, struct task_copy *t)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	natsMsg *m = NULL;

	cr_assert_eq(natsConnection_ConnectTo(&nc, url), NATS_OK);
	cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	natsStatus s = js_GetMsg(&m, js, "SPATE_TASKS", seq, NULL, NULL);
	cr_assert_eq(s, NATS_OK, "message %llu: %s", (unsigned long long)seq,
		     nats_GetLastError(NULL));
	snprintf(t->subject, sizeof(t->subject), "%s", natsMsg_GetSubject(m));
	t->len = natsMsg_GetDataLength(m);
	t->data = malloc((size_t)t->len);
	memcpy(t->data, natsMsg_GetData(m), (size_t)t->len);
	natsMsg_Destroy(m);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}

/* Queues t again under another Nats-Msg-Id: it is delivered twice. */
static void task_put(const char *url, const struct task_copy *t, const char *id)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsPubOptions po;

	cr_assert_eq(natsConnection_ConnectTo(&nc, url), NATS_OK);
	cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	jsPubOptions_Init(&po);
	po.MsgId = id;
	cr_assert_eq(
	    js_Publish(NULL, js, t->subject, t->data, t->len, &po, NULL),
	    NATS_OK);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
}

Test(cluster, task_delivered_twice_does_not_duplicate_output)
{
	struct nats n = {0};
	struct expect x;
	char *dir = e2e_tmpdir();
	struct e2e_result r;

	nats_start(&n);
	make_input(dir, &x);
	const char *submit[] = {"submit",	"flow.yaml", "--nats", n.url,
				"--shard-size", "4M",	     NULL};
	e2e_run_timed(&r, dir, NULL, NULL, submit, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	/* 24 files of 1.3 MB, 32 MB: 8 shards of about 4 MB, 3 files each */
	cr_assert(strstr(r.err, "8 shard(s), 8 task(s) queued"), "%s", r.err);
	e2e_result_free(&r);
	/* the same tasks again: de-duplicated by their message ids */
	e2e_run_timed(&r, dir, NULL, NULL, submit, LIMIT_S);
	cr_assert(strstr(r.err, "0 task(s) queued"), "%s", r.err);
	e2e_result_free(&r);
	struct task_copy t[3];
	for (int i = 0; i < 3; i++)
		task_get(n.url, (uint64_t)i + 1, &t[i]);
	task_put(n.url, &t[0], "again-1");
	task_put(n.url, &t[1], "again-2");
	pid_t w[2];
	for (int i = 0; i < 2; i++)
		w[i] = start_worker(dir, n.url, i);
	const char *wait[] = {"submit", "flow.yaml",	"--nats", n.url,
			      "--wait", "--shard-size", "4M",	  NULL};
	e2e_run_timed(&r, dir, NULL, NULL, wait, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.out, "published") || strstr(r.out, "nothing to do"),
		  "%s", r.out);
	e2e_result_free(&r);
	check_output(dir, &x);
	/* a task delivered after the job was published */
	char *before = manifests(dir);
	task_put(n.url, &t[2], "late-3");
	e2e_sleep_ms(1500);
	char *after = manifests(dir);
	cr_assert_str_eq(after, before);
	check_output(dir, &x);
	for (int i = 0; i < 2; i++)
		stop_worker(w[i]);
	for (int i = 0; i < 3; i++)
		free(t[i].data);
	free(before);
	free(after);
	expect_fini(&x);
	nats_stop(&n);
	e2e_rmrf(dir);
	free(dir);
}

Test(cluster, failing_shard_fails_the_job)
{
	struct nats n = {0};
	char *dir = e2e_tmpdir();
	struct e2e_result r;

	nats_start(&n);
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: strict\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: 'in/*.jsonl',\n"
	    "     on_record_error: stop}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out}\n");
	e2e_put_str(dir, "in/a.jsonl", "{\"a\":1}\n");
	e2e_put_str(dir, "in/b.jsonl", "{\"a\":2}\n{\"a\": oops\n");
	pid_t w = start_worker(dir, n.url, 0);
	const char *argv[] = {"submit", "flow.yaml", "--nats", n.url,
			      "--wait", "--json",    NULL};
	e2e_run_timed(&r, dir, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 1, "%s", r.err);
	cr_assert(strstr(r.out, "\"state\": \"failed\""), "%s", r.out);
	/* both small files are one shard; the reason names the file */
	cr_assert(strstr(r.err, "shard 0 (") &&
		      strstr(r.err, "a.jsonl and 1 more file") &&
		      strstr(r.err, "b.jsonl"),
		  "%s", r.err);
	char *out = e2e_join(dir, "out");
	cr_assert_eq(access(out, F_OK), -1, "a failed job published %s", out);
	e2e_result_free(&r);
	stop_worker(w);
	free(out);
	nats_stop(&n);
	e2e_rmrf(dir);
	free(dir);
}

/* A CSV file with a header, quoted commas, quotes and newlines inside
 * fields, quotes inside unquoted fields, split into byte ranges (each shard
 * reads the header from the file's start), next to small CSV files grouped into
 * one shard.  Every record once, and a bad row's error names its line in the
 * file. */
Test(cluster, csv_ranges_keep_header_and_quoted_newlines)
{
	struct nats n = {0};
	struct e2e_text big = {0}, want = {0};
	char *dir = e2e_tmpdir();
	struct e2e_result r;
	unsigned line = 4, bad_line = 0;

	nats_start(&n);
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: csvjob\n"
	    "error_stage: errors\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: 'in/*.csv',\n"
	    "     format: csv, ignore_lines: 2}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out,\n"
	    "     fsync: false}\n"
	    "  - {id: errors, type: file_writer, dir: errors,\n"
	    "     fsync: false}\n");
	/* two lines the reader skips unparsed, one with a lone quote */
	e2e_text_printf(&big, "\"exported by tool\n# v2\nid,note,n\n");
	for (unsigned i = 1; i <= 6000; i++) {
		if (i == 5000) { /* one column too many */
			bad_line = line;
			e2e_text_printf(&big, "%u,x,1,extra\n", i);
			line++;
			continue;
		}
		if (i % 3 == 0) {
			e2e_text_printf(&big,
					"%u,\"a, b\nc \"\"q\"\" %u\",%u\n", i,
					i, i * 7);
			e2e_text_printf(&want,
					"{\"id\":\"%u\",\"note\":\"a, b\\nc "
					"\\\"q\\\" %u\",\"n\":\"%u\"}\n",
					i, i, i * 7);
			line += 2;
		} else if (i % 7 == 0) { /* a quote inside an unquoted
					  * field is a character */
			e2e_text_printf(&big, "%u,5\" pipe %u,%u\n", i, i,
					i * 7);
			e2e_text_printf(&want,
					"{\"id\":\"%u\",\"note\":\"5\\\" pipe "
					"%u\",\"n\":\"%u\"}\n",
					i, i, i * 7);
			line++;
		} else {
			e2e_text_printf(&big, "%u,plain %u,%u\n", i, i, i * 7);
			e2e_text_printf(&want,
					"{\"id\":\"%u\",\"note\":\"plain "
					"%u\",\"n\":\"%u\"}\n",
					i, i, i * 7);
			line++;
		}
	}
	e2e_put_str(dir, "in/big.csv", big.p);
	for (unsigned f = 0; f < 3; f++) {
		char name[32], body[64];
		snprintf(name, sizeof(name), "in/small%u.csv", f);
		snprintf(body, sizeof(body), "#\n#\nid,note,n\n%u,small,0\n",
			 10000 + f);
		e2e_put_str(dir, name, body);
		e2e_text_printf(&want,
				"{\"id\":\"%u\",\"note\":\"small\","
				"\"n\":\"0\"}\n",
				10000 + f);
	}
	pid_t w = start_worker(dir, n.url, 0);
	const char *argv[] = {"submit", "flow.yaml",	"--nats", n.url,
			      "--wait", "--shard-size", "32K",	  NULL};
	e2e_run_timed(&r, dir, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s%s", r.out, r.err);
	/* about 150 KB in ranges of 32K or less, the small files together */
	const char *sh = strstr(r.err, " shard(s)");
	cr_assert(sh, "%s", r.err);
	while (sh > r.err && sh[-1] >= '0' && sh[-1] <= '9')
		sh--;
	cr_assert(atoi(sh) >= 5, "%s", r.err);
	e2e_result_free(&r);
	assert_out_any_order(dir, "out", want.p, "csv ranges");
	size_t len = 0;
	char *err = e2e_read_out(dir, "errors", &len);
	char at[32];
	snprintf(at, sizeof(at), "big.csv:%u\"", bad_line);
	cr_assert(err && e2e_count_lines(err, len) == 1 && strstr(err, at),
		  "want one error at line %u: %s", bad_line, err);
	stop_worker(w);
	free(err);
	free(big.p);
	free(want.p);
	nats_stop(&n);
	e2e_rmrf(dir);
	free(dir);
}

/* Input on S3: the submitter lists the objects of an s3:// glob, the
 * worker reads its shard's objects (a zstd one among them) with its own
 * AWS_* variables; every record once; the resubmission loads nothing. */
Test(cluster, s3_objects_as_input)
{
	struct nats n = {0};
	struct s3srv srv;
	struct e2e_text want = {0};
	char *dir = e2e_tmpdir();
	struct e2e_result r;
	char endpoint[128];

	S3SRV_START_OR_SKIP(&srv, "src");
	nats_start(&n);
	snprintf(endpoint, sizeof(endpoint), "AWS_ENDPOINT_URL=%s",
		 srv.endpoint);
	const char *const env[] = {"AWS_ACCESS_KEY_ID=S3RVER",
				   "AWS_SECRET_ACCESS_KEY=S3RVER", endpoint,
				   NULL};
	for (unsigned o = 0; o < 6; o++) {
		struct e2e_text t = {0};
		for (unsigned i = 0; i < 500; i++) {
			unsigned id = o * 1000 + i;
			e2e_text_printf(
			    &t, "{\"id\":%u,\"s\":\"h\u00e9 %u\"}\n", id, id);
			e2e_text_printf(&want,
					"{\"id\":%u,\"s\":\"h\u00e9 %u\"}\n",
					id, id);
		}
		char name[64], key[64];
		snprintf(name, sizeof(name), "o%u.jsonl", o);
		e2e_put_str(dir, name, t.p);
		char *path = e2e_join(dir, name);
		if (o == 5) { /* one object compressed */
			char cmd[512];
			snprintf(cmd, sizeof(cmd),
				 "zstd -q -f --rm %s -o %s.zst", path, path);
			cr_assert_eq(system(cmd), 0);
			char *z = NULL;
			cr_assert(asprintf(&z, "%s.zst", path) > 0);
			free(path);
			path = z;
		}
		snprintf(key, sizeof(key), "in/o%u.jsonl%s", o,
			 o == 5 ? ".zst" : "");
		cr_assert_eq(s3srv_put(&srv, "src", key, path), 0);
		free(path);
		free(t.p);
	}
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: s3job\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: 's3://src/in/*'}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out,\n"
	    "     fsync: false}\n");
	char *wout = e2e_join(dir, "worker.out"),
	     *werr = e2e_join(dir, "worker.err");
	const char *wargv[] = {"worker",    "--nats", n.url,
			       "--workers", "1",      NULL};
	pid_t w = e2e_bg_start(dir, env, wargv, wout, werr, NULL);
	const char *argv[] = {"submit", "flow.yaml",	"--nats", n.url,
			      "--wait", "--shard-size", "32K",	  NULL};
	e2e_run_timed(&r, dir, env, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s%s%s", r.out, r.err,
		     e2e_read(werr, NULL));
	/* six objects of about 11 KB (one compressed), two a shard */
	cr_assert(strstr(r.err, " 3 shard(s)"), "%s", r.err);
	e2e_result_free(&r);
	assert_out_any_order(dir, "out", want.p, "s3 input");
	/* loaded: the same submission finds nothing to do */
	e2e_run_timed(&r, dir, env, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.out, "nothing to do: 6 file(s) loaded before"),
		  "%s%s", r.out, r.err);
	e2e_result_free(&r);
	stop_worker(w);
	free(wout);
	free(werr);
	free(want.p);
	nats_stop(&n);
	s3srv_stop(&srv);
	e2e_rmrf(dir);
	free(dir);
}

/* A file rewritten between submit and the worker: its ranges would start
 * mid-record in the new content, so the shard fails, the job fails with
 * the reason and nothing is published. */
Test(cluster, input_changed_after_submit_fails_the_job)
{
	struct nats n = {0};
	struct e2e_text t = {0};
	char *dir = e2e_tmpdir();
	struct e2e_result r;

	nats_start(&n);
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: changed\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: 'in/*.jsonl'}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out,\n"
	    "     fsync: false}\n");
	for (int i = 0; i < 4000; i++)
		e2e_text_printf(&t, "{\"id\":%d,\"pad\":\"xxxxxxxxxx\"}\n", i);
	e2e_put_str(dir, "in/a.jsonl", t.p);
	const char *submit[] = {"submit",	"flow.yaml", "--nats", n.url,
				"--shard-size", "16K",	     NULL};
	e2e_run_timed(&r, dir, NULL, NULL, submit, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	e2e_text_printf(&t, "{\"id\":-1}\n");
	e2e_put_str(dir, "in/a.jsonl", t.p); /* grown and rewritten */
	pid_t w = start_worker(dir, n.url, 0);
	const char *jobs[] = {"jobs", "--nats", n.url, "--json", NULL};
	bool failed = false;
	for (int i = 0; i < 600 && !failed; i++) {
		e2e_sleep_ms(50);
		e2e_run_timed(&r, dir, NULL, NULL, jobs, 30);
		failed = strstr(r.out, "\"state\": \"failed\"") != NULL;
		if (failed)
			cr_assert(strstr(r.out, "changed since the job was "
						"submitted"),
				  "%s", r.out);
		e2e_result_free(&r);
	}
	cr_assert(failed, "the job did not fail");
	char *out = e2e_join(dir, "out");
	cr_assert_eq(access(out, F_OK), -1, "a failed job published %s", out);
	stop_worker(w);
	free(out);
	free(t.p);
	nats_stop(&n);
	e2e_rmrf(dir);
	free(dir);
}

/* A loopback TCP port free right now (for the cluster routes, which
 * must be known before the nodes start). */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Three JetStream nodes on loopback, routed to each other, each with its
 * own store; returns once a metadata leader is elected. */
static void nats_cluster_start(struct nats n[3], char *urls, size_t size)
{
	int port[3];

	if (!have_nats_server())
		cr_skip_test("nats-server is not installed (Debian package "
			     "nats-server; scripts/deps installs it)");
	for (int i = 0; i < 3; i++)
		port[i] = free_port();
	for (int i = 0; i < 3; i++) {
		struct e2e_text c = {0};
		n[i].dir = e2e_tmpdir();
		e2e_text_printf(&c,
				"server_name: n%d\nlisten: 127.0.0.1:-1\n"
				"jetstream { store_dir: \"%s/js\" }\n"
				"cluster {\n  name: spate-test\n"
				"  listen: 127.0.0.1:%d\n  routes: [\n",
				i, n[i].dir, port[i]);
		for (int j = 0; j < 3; j++)
			if (j != i)
				e2e_text_printf(
				    &c, "    nats-route://127.0.0.1:%d\n",
				    port[j]);
		e2e_text_printf(&c, "  ]\n}\n");
		e2e_put_str(n[i].dir, "node.conf", c.p);
		free(c.p);
		char *conf = e2e_join(n[i].dir, "node.conf");
		nats_spawn(&n[i], conf);
		free(conf);
	}
	urls[0] = 0;
	for (int i = 0; i < 3; i++) {
		nats_ready(&n[i]);
		snprintf(urls + strlen(urls), size - strlen(urls), "%s%s",
			 i ? "," : "", n[i].url);
	}
	bool leader = false;
	for (int t = 0; t < 1000 && !leader; t++) {
		for (int i = 0; i < 3 && !leader; i++) {
			char *log = e2e_join(n[i].dir, "log");
			char *text = e2e_read(log, NULL);
			leader = text && strstr(text, "metadata leader");
			free(text);
			free(log);
		}
		if (!leader)
			e2e_sleep_ms(20);
	}
	cr_assert(leader, "the 3-node cluster elected no JetStream leader");
}

static const char *const info_env[] = {"SPATE_LOG=info", NULL};

/* shards committed, as the three workers logged them */
static int commits_logged(const char *dir)
{
	int n = 0;

	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "worker%d.err", i);
		char *p = e2e_join(dir, name);
		char *t = e2e_read(p, NULL);
		for (const char *c = t; c && (c = strstr(c, " committed: "));
		     c++)
			n += c > t && c[-1] >= '0' && c[-1] <= '9';
		free(t);
		free(p);
	}
	return n;
}

/* R3: the stream and buckets on three nodes, workers and the submitter
 * given all three URLs; one node is killed with -9 mid-job and the job
 * still publishes every record exactly once. */
Test(cluster, r3_cluster_survives_node_loss)
{
	struct nats n[3] = {0};
	struct expect x;
	char urls[400];
	char *dir = e2e_tmpdir();
	pid_t w[3];

	nats_cluster_start(n, urls, sizeof(urls));
	make_input(dir, &x);
	for (int i = 0; i < 3; i++) {
		char out[64], err[64];
		const char *argv[] = {
		    "worker",	  "--nats", urls,	  "--workers", "1",
		    "--ack-wait", "2",	    "--replicas", "3",	       NULL};
		snprintf(out, sizeof(out), "%s/worker%d.out", dir, i);
		snprintf(err, sizeof(err), "%s/worker%d.err", dir, i);
		w[i] = e2e_bg_start(dir, info_env, argv, out, err, NULL);
	}
	const char *argv[] = {"submit",	      "flow.yaml", "--nats",	 urls,
			      "--wait",	      "--json",	   "--replicas", "3",
			      "--shard-size", "1M",	   NULL};
	char *sout = e2e_join(dir, "submit.out"),
	     *serr = e2e_join(dir, "submit.err");
	pid_t sub = e2e_bg_start(dir, NULL, argv, sout, serr, NULL);
	/* the workers' logs tell at once when shards are committed (a
	 * slow machine may take long to elect the stream's leaders) */
	int done = 0;
	for (int i = 0; i < LIMIT_S * 200 && done < 3; i++) {
		e2e_sleep_ms(5);
		done = commits_logged(dir);
	}
	kill(n[1].pid, SIGKILL);
	cr_assert(done >= 3 && done < RANGE_SHARDS,
		  "the kill came too late: %d shards committed: %s", done,
		  e2e_read(serr, NULL));
	cr_assert_eq(waitpid(n[1].pid, NULL, 0), n[1].pid);
	n[1].pid = 0;
	cr_assert_eq(e2e_bg_wait(sub, LIMIT_S), 0, "submit --wait failed: %s",
		     e2e_read(serr, NULL));
	char *status = e2e_read(sout, NULL);
	cr_assert(strstr(status, "\"state\": \"published\"") &&
		      strstr(status, "\"shards\": 48,") &&
		      strstr(status, "\"done\": 48,"),
		  "%s", status);
	check_output(dir, &x);
	for (int i = 0; i < 3; i++)
		stop_worker(w[i]);
	free(status);
	free(sout);
	free(serr);
	expect_fini(&x);
	for (int i = 0; i < 3; i++)
		nats_stop(&n[i]);
	e2e_rmrf(dir);
	free(dir);
}

/* A server without JetStream is an error at once, with what to enable,
 * not the minutes-long retry a new cluster's setup gets. */
Test(cluster, a_server_without_jetstream_is_refused_at_once)
{
	struct nats n = {0};
	struct e2e_result r;

	if (!have_nats_server())
		cr_skip_test("nats-server is not installed (Debian package "
			     "nats-server; scripts/deps installs it)");
	n.dir = e2e_tmpdir();
	e2e_put_str(n.dir, "plain.conf", "listen: 127.0.0.1:-1\n");
	char *conf = e2e_join(n.dir, "plain.conf");
	nats_spawn(&n, conf);
	free(conf);
	nats_ready(&n);
	const char *argv[] = {"worker",	   "--nats", n.url,
			      "--workers", "1",	     NULL};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	e2e_run_timed(&r, NULL, NULL, NULL, argv, 60);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_eq(r.exit_code, 1, "%s", r.err);
	cr_assert(strstr(r.err, "cannot create stream SPATE_TASKS: ") &&
		      strstr(r.err, "(is JetStream enabled? nats-server -js)"),
		  "%s", r.err);
	cr_assert_lt(t1.tv_sec - t0.tv_sec, 10, "took %lld s",
		     (long long)(t1.tv_sec - t0.tv_sec));
	e2e_result_free(&r);
	nats_stop(&n);
}

Test(cluster, usage_errors)
{
	struct e2e_result r;
	const char *a[] = {"submit", "flow.yaml", NULL};
	const char *b[] = {"worker", "--concurrency", "x", "--nats", "u", NULL};
	const char *c[] = {"submit", "/nonexistent.yaml", "--nats",
			   "nats://127.0.0.1:1", NULL};

	e2e_run_timed(&r, NULL, NULL, NULL, a, 30);
	cr_assert_eq(r.exit_code, 2);
	cr_assert(strstr(r.err, "FLOW and --nats URL are required"), "%s",
		  r.err);
	e2e_result_free(&r);
	e2e_run_timed(&r, NULL, NULL, NULL, b, 30);
	cr_assert_eq(r.exit_code, 2);
	cr_assert(strstr(r.err, "--concurrency needs a number, not 'x'"), "%s",
		  r.err);
	e2e_result_free(&r);
	e2e_run_timed(&r, NULL, NULL, NULL, c, 30);
	cr_assert_eq(r.exit_code, 1);
	cr_assert(strstr(r.err, "cannot connect to NATS at "
				"nats://127.0.0.1:1"),
		  "%s", r.err);
	e2e_result_free(&r);
}
