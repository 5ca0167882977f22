/*
 * End-to-end tests of what a run shows while it goes: the progress line
 * on a terminal (spate runs under a pseudo-terminal), its absence on a
 * pipe and with --quiet, and the Prometheus file of --metrics-file (its
 * format, that it is kept up to date while the run goes on, and that its
 * final values equal the --json status).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"

#define LIMIT_S 60
#define RECORDS 60000

#define CONTAINS(hay, needle)                                                  \
	cr_assert(strstr((hay), (needle)) != NULL, "expected\n%s\nin\n%s",     \
		  (needle), (hay))

/* v = id % 100: high (v >= 90) and low (v < 10) get 10% each */
static char *make_input(const char *dir)
{
	size_t cap = (size_t)RECORDS * 40, len = 0;
	char *data = malloc(cap);

	cr_assert_not_null(data);
	for (int i = 0; i < RECORDS; i++)
		len += (size_t)snprintf(data + len, cap - len,
					"{\"id\":%d,\"v\":%d}\n", i, i % 100);
	char *path = e2e_write(dir, "in.jsonl", data, len);
	free(data);
	return path;
}

/* The shell executor keeps the run going for a while after the input is
 * read, so that the line is drawn more than once whatever the speed of
 * the machine. */
static const char flow_yaml[] =
    "name: prog\n"
    "stages:\n"
    "  - id: src\n"
    "    type: file_reader\n"
    "    path: in.jsonl\n"
    "  - id: split\n"
    "    type: stream_selector\n"
    "    inputs: [src]\n"
    "    lanes:\n"
    "      high: '${record:value(\"/v\") >= 90}'\n"
    "      low: '${record:value(\"/v\") < 10}'\n"
    "  - {id: a, type: trash, inputs: [split.high]}\n"
    "  - {id: b, type: trash, inputs: [split.low, split.default]}\n"
    "  - {id: wait, type: shell, event_inputs: [src], command: 'sleep 1.2'}\n";

struct pty_run {
	int exit_code;
	char *text; /* everything the terminal showed */
	size_t len;
};

/* Runs spate in dir with stdin, stdout and stderr on a new 250-column
 * pseudo-terminal; stdout instead goes to out_path when it is not NULL. */
static void run_pty(struct pty_run *r, const char *dir, const char *out_path,
		    const char *const *args)
{
	struct winsize ws = {.ws_row = 40, .ws_col = 250};
	const char *argv[32];
	int master, n = 0;

	argv[n++] = e2e_spate();
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	memset(r, 0, sizeof(*r));
	pid_t pid = forkpty(&master, NULL, NULL, &ws);
	cr_assert(pid >= 0, "forkpty: %s", strerror(errno));
	if (pid == 0) {
		if (chdir(dir))
			_exit(126);
		if (out_path) {
			int fd =
			    open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(126);
			close(fd);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	size_t cap = 1 << 16;
	r->text = malloc(cap);
	cr_assert_not_null(r->text);
	time_t deadline = time(NULL) + LIMIT_S;
	for (;;) {
		struct pollfd p = {master, POLLIN, 0};
		if (time(NULL) > deadline) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if (r->len + 4096 > cap) {
			cap *= 2;
			r->text = realloc(r->text, cap);
			cr_assert_not_null(r->text);
		}
		/* EIO once the last holder of the terminal is gone */
		ssize_t k = read(master, r->text + r->len, cap - r->len - 1);
		if (k <= 0)
			break;
		r->len += (size_t)k;
	}
	r->text[r->len] = '\0';
	close(master);
	int st;
	waitpid(pid, &st, 0);
	r->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool matches(const char *re, const char *s)
{
	regex_t rx;
	int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);

	cr_assert_eq(rc, 0, "bad regex %s", re);
	rc = regexec(&rx, s, 0, NULL, 0);
	regfree(&rx);
	return rc == 0;
}

/* "987", "12.3k", "4.56M" back to a number */
static double compact_value(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	switch (*end) {
	case 'k':
		return v * 1e3;
	case 'M':
		return v * 1e6;
	case 'G':
		return v * 1e9;
	default:
		return v;
	}
}

/* The count after "label " in line, e.g. count_after(l, " high ") */
static double count_after(const char *line, const char *label)
{
	const char *p = strstr(line, label);

	cr_assert_not_null(p, "no '%s' in progress line\n%s", label, line);
	return compact_value(p + strlen(label));
}

/* Three significant digits: within half a unit of the last digit. */
static void assert_close(double shown, uint64_t exact, const char *what)
{
	double tol = exact < 10000 ? 0.01 : (double)exact * 0.006;

	cr_assert(shown >= (double)exact - tol && shown <= (double)exact + tol,
		  "%s: progress shows %g, the status says %llu", what, shown,
		  (unsigned long long)exact);
}

#define NUM "[0-9]+(\\.[0-9]+)?[kMGTP]?"

Test(progress, line_on_a_terminal)
{
	char *dir = e2e_tmpdir();
	free(make_input(dir));
	free(e2e_write(dir, "flow.yaml", flow_yaml, strlen(flow_yaml)));
	char out_path[4096];
	snprintf(out_path, sizeof(out_path), "%s/status.json", dir);
	static const char *const args[] = {"run", "flow.yaml", "--json", NULL};
	struct pty_run r;

	run_pty(&r, dir, out_path, args);
	cr_assert_eq(r.exit_code, 0, "%s", r.text);

	/* every redraw starts with \r and ends with clear-to-end-of-line;
	 * the terminal turns the final \n into \r\n */
	static const char shape[] =
	    "^[0-9]+\\.[0-9]s  " NUM " rec  " NUM " rec/s  "
	    "in [0-9]+\\.[0-9] MiB/s  out [0-9]+\\.[0-9] MiB/s  "
	    "[0-9]+\\.[0-9]%( eta [0-9]+[hms]([0-9]+[ms])?)?  errors 0  "
	    "split: high " NUM " low " NUM " default " NUM "  "
	    "-> a " NUM " b " NUM "\033\\[K$";
	char *last = NULL;
	int lines = 0;
	char *save = NULL;
	for (char *tok = strtok_r(r.text, "\r\n", &save); tok;
	     tok = strtok_r(NULL, "\r\n", &save)) {
		if (!strstr(tok, " rec/s"))
			continue;
		cr_assert(matches(shape, tok),
			  "progress line of a bad shape:\n"
			  "%s",
			  tok);
		lines++;
		last = tok;
	}
	cr_assert_geq(lines, 2, "expected redraws while the run went on");
	CONTAINS(last, "  100.0% eta 0s  ");

	/* the final line shows the final counts */
	size_t len;
	char *json = e2e_read(out_path, &len);
	cr_assert_not_null(json);
	struct e2e_status st;
	cr_assert_eq(e2e_status_parse(json, &st), 0, "%s", json);
	cr_assert_str_eq(st.status, "finished");
	const struct e2e_stage_status *split = e2e_status_stage(&st, "split");
	const struct e2e_stage_status *a = e2e_status_stage(&st, "a");
	const struct e2e_stage_status *b = e2e_status_stage(&st, "b");
	cr_assert(split && a && b);
	cr_assert_eq(split->nlanes, 3);
	cr_assert_eq(split->out[0] + split->out[1] + split->out[2], RECORDS);
	assert_close(count_after(last, "s  "), RECORDS, "records");
	assert_close(count_after(last, " high "), split->out[0], "high");
	assert_close(count_after(last, " low "), split->out[1], "low");
	assert_close(count_after(last, " default "), split->out[2], "default");
	assert_close(count_after(last, " a "), a->records_in, "a");
	assert_close(count_after(last, " b "), b->records_in, "b");
	cr_assert_eq(split->out[2], RECORDS * 8 / 10);

	free(json);
	free(r.text);
	e2e_rmrf(dir);
	free(dir);
}

Test(progress, none_on_a_pipe)
{
	char *dir = e2e_tmpdir();
	free(make_input(dir));
	free(e2e_write(dir, "flow.yaml", flow_yaml, strlen(flow_yaml)));
	static const char *const argv[] = {"run", "flow.yaml", NULL};
	struct e2e_result r;

	e2e_run_timed(&r, dir, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	/* the summary, and no progress line */
	CONTAINS(r.err, "flow 'prog' finished");
	cr_assert_null(strstr(r.err, "rec/s"), "%s", r.err);
	cr_assert_null(strchr(r.err, '\r'), "%s", r.err);
	cr_assert_null(strstr(r.err, "\033["), "%s", r.err);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

Test(progress, none_with_quiet)
{
	char *dir = e2e_tmpdir();
	free(make_input(dir));
	free(e2e_write(dir, "flow.yaml", flow_yaml, strlen(flow_yaml)));
	static const char *const args[] = {"run", "flow.yaml", "--quiet", NULL};
	struct pty_run r;

	run_pty(&r, dir, NULL, args);
	cr_assert_eq(r.exit_code, 0, "%s", r.text);
	cr_assert_eq(r.len, 0, "expected nothing on the terminal, got\n%s",
		     r.text);
	free(r.text);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- --metrics-file ----------------------------------------------------- */

struct sample {
	char name[64];
	char flow[64], stage[64], lane[64], run_id[64], version[64];
	double value;
};

/* Parses one sample line; false when it does not match the text format
 * (name{label="value",...} number) or uses another label. */
static bool parse_sample(const char *line, struct sample *s)
{
	static const char re[] =
	    "^[a-z_]+\\{[a-z_]+=\"[^\"\\\\]*\"(,[a-z_]+=\"[^\"\\\\]*\")*\\} "
	    "-?[0-9]+(\\.[0-9]+)?$";
	const char *p = strchr(line, '{');

	memset(s, 0, sizeof(*s));
	if (!matches(re, line) || !p || (size_t)(p - line) >= sizeof(s->name))
		return false;
	memcpy(s->name, line, (size_t)(p - line));
	p++;
	while (*p != '}') {
		const char *eq = strchr(p, '=');
		const char *q = strchr(eq + 2, '"');
		size_t vlen = (size_t)(q - eq - 2);
		char *dst;
		if (!strncmp(p, "flow=", 5))
			dst = s->flow;
		else if (!strncmp(p, "stage=", 6))
			dst = s->stage;
		else if (!strncmp(p, "lane=", 5))
			dst = s->lane;
		else if (!strncmp(p, "run_id=", 7))
			dst = s->run_id;
		else if (!strncmp(p, "version=", 8))
			dst = s->version;
		else
			return false;
		if (vlen >= 64)
			return false;
		memcpy(dst, eq + 2, vlen);
		p = q + 1;
		if (*p == ',')
			p++;
	}
	s->value = strtod(p + 2, NULL);
	return true;
}

struct metrics {
	struct sample v[256];
	int n;
};

/* Reads path: every line a # HELP, a # TYPE or a sample of a family
 * whose HELP and TYPE came first. */
static bool read_metrics(const char *path, struct metrics *m, char *why,
			 size_t whylen)
{
	size_t len;
	char *text = e2e_read(path, &len), *save = NULL;
	char family[64] = "";
	bool help = false;

	m->n = 0;
	if (!text) {
		snprintf(why, whylen, "cannot read %s", path);
		return false;
	}
	cr_assert(len > 0 && text[len - 1] == '\n', "%s", text);
	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "# HELP ", 7)) {
			sscanf(l + 7, "%63s", family);
			help = true;
			cr_assert(strlen(l) > 8 + strlen(family), "%s", l);
			continue;
		}
		if (!strncmp(l, "# TYPE ", 7)) {
			char name[64], type[16];
			cr_assert_eq(sscanf(l + 7, "%63s %15s", name, type), 2);
			cr_assert(help && !strcmp(name, family), "%s", l);
			cr_assert(!strcmp(type, "counter") ||
				      !strcmp(type, "gauge"),
				  "%s", l);
			cr_assert_eq(!strcmp(type, "counter"),
				     strstr(name, "_total") != NULL, "%s", l);
			continue;
		}
		cr_assert(m->n < 256);
		struct sample *s = &m->v[m->n++];
		cr_assert(parse_sample(l, s), "not a sample line: '%s'", l);
		cr_assert_str_eq(s->name, family, "%s", l);
		cr_assert_str_eq(s->flow, "metered", "%s", l);
	}
	free(text);
	return true;
}

static double metric(const struct metrics *m, const char *name,
		     const char *stage, const char *lane)
{
	for (int i = 0; i < m->n; i++) {
		const struct sample *s = &m->v[i];
		if (!strcmp(s->name, name) && !strcmp(s->stage, stage) &&
		    !strcmp(s->lane, lane))
			return s->value;
	}
	cr_assert_fail("no sample %s{stage=\"%s\",lane=\"%s\"}", name, stage,
		       lane);
	return -1;
}

/* A generator too big to finish: the test watches the file change while
 * it runs, then stops it with SIGINT (drain) and compares the final file
 * with the --json status. */
static const char metered_yaml[] =
    "name: metered\n"
    "stages:\n"
    "  - id: gen\n"
    "    type: dev_data_generator\n"
    "    records: 1000000000000\n"
    "  - id: split\n"
    "    type: stream_selector\n"
    "    inputs: [gen]\n"
    "    lanes:\n"
    "      high: '${record:value(\"/expense\") >= 10000}'\n"
    "      refund: '${record:value(\"/expense\") < 0}'\n"
    "  - {id: keep, type: filter, inputs: [split.high], condition: "
    "'${record:value(\"/status\") == \"ok\"}'}\n"
    "  - {id: sink, type: trash, inputs: [keep, split.refund, "
    "split.default]}\n";

Test(metrics, file_follows_the_run_and_ends_equal_to_the_status)
{
	char *dir = e2e_tmpdir();
	free(e2e_write(dir, "flow.yaml", metered_yaml, strlen(metered_yaml)));
	char out[4096], err[4096], prom[4096];
	snprintf(out, sizeof(out), "%s/out.json", dir);
	snprintf(err, sizeof(err), "%s/err.txt", dir);
	snprintf(prom, sizeof(prom), "%s/m/spate.prom", dir);
	free(e2e_write(dir, "m/.keep", "", 0));
	static const char *const argv[] = {
	    "run", "flow.yaml",	     "--json",	     "--workers",
	    "2",   "--metrics-file", "m/spate.prom", NULL};
	struct metrics *m = calloc(1, sizeof(*m));
	char why[256];

	pid_t pid = e2e_bg_start(dir, NULL, argv, out, err, NULL);
	/* while it runs: state 1 and records counted, rewritten each second */
	double seen = -1, later = -1;
	for (int i = 0; i < 400 && later <= seen; i++) {
		e2e_sleep_ms(50);
		if (access(prom, R_OK) ||
		    !read_metrics(prom, m, why, sizeof(why)))
			continue;
		if (metric(m, "spate_run_state", "", "") != 1)
			continue;
		double v = metric(m, "spate_records_in_total", "gen", "");
		if (seen < 0 && v > 0)
			seen = v;
		else if (seen > 0 && v > seen)
			later = v;
	}
	cr_assert(seen > 0 && later > seen,
		  "the metrics file did not follow the run (%g, %g)", seen,
		  later);
	kill(pid, SIGINT);
	int rc = e2e_bg_wait(pid, LIMIT_S);
	size_t len;
	char *status = e2e_read(out, &len), *errs = e2e_read(err, &len);
	/* interrupted: rolled back, exit 128 + SIGINT */
	cr_assert_eq(rc, 130, "%s", errs);

	/* no temp file left beside it */
	char mdir[4096];
	snprintf(mdir, sizeof(mdir), "%s/m", dir);
	cr_assert_eq(e2e_count_files(mdir, NULL, true), 2, "spate.prom, .keep");

	struct e2e_status st;
	cr_assert_eq(e2e_status_parse(status, &st), 0, "%s", status);
	cr_assert_str_eq(st.status, "stopped");
	cr_assert(read_metrics(prom, m, why, sizeof(why)), "%s", why);
	cr_assert_eq(metric(m, "spate_run_state", "", ""), 4);
	/* the run's identity: its 16-hex-digit id and the version */
	cr_assert_eq(metric(m, "spate_run_info", "", ""), 1);
	for (int i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].name, "spate_run_info")) {
			cr_assert(matches("^[0-9a-f]{16}$", m->v[i].run_id),
				  "%s", m->v[i].run_id);
			cr_assert(matches("^[0-9]+\\.[0-9]+", m->v[i].version),
				  "%s", m->v[i].version);
		}
	/* the generator reads no files */
	cr_assert_eq(metric(m, "spate_files_read_total", "gen", ""), 0);
	cr_assert_eq(metric(m, "spate_run_elapsed_seconds", "", ""),
		     st.elapsed_s);
	cr_assert_eq(st.nstages, 4);
	int out_samples = 0;
	for (uint32_t i = 0; i < st.nstages; i++) {
		const struct e2e_stage_status *s = &st.st[i];
		cr_assert_eq(metric(m, "spate_records_in_total", s->id, ""),
			     (double)s->records_in, "%s", s->id);
		cr_assert_eq(metric(m, "spate_record_errors_total", s->id, ""),
			     (double)s->errors);
		cr_assert_eq(
		    metric(m, "spate_records_dropped_total", s->id, ""),
		    (double)s->dropped);
		cr_assert_eq(metric(m, "spate_bytes_in_total", s->id, ""),
			     (double)s->bytes_in);
		cr_assert_eq(metric(m, "spate_bytes_out_total", s->id, ""),
			     (double)s->bytes_out);
		cr_assert_geq(metric(m, "spate_busy_seconds_total", s->id, ""),
			      0);
		for (uint32_t l = 0; l < s->nlanes; l++, out_samples++)
			cr_assert_eq(metric(m, "spate_records_out_total", s->id,
					    s->lane[l]),
				     (double)s->out[l], "%s.%s", s->id,
				     s->lane[l]);
	}
	/* the filter dropped records, and the counts add up */
	const struct e2e_stage_status *keep = e2e_status_stage(&st, "keep");
	cr_assert_gt(keep->dropped, 0);
	cr_assert_gt(metric(m, "spate_records_in_total", "gen", ""), 0);
	cr_assert_eq(out_samples, 1 + 3 + 1 + 1);
	int lane_samples = 0;
	for (int i = 0; i < m->n; i++)
		lane_samples +=
		    !strcmp(m->v[i].name, "spate_records_out_total");
	cr_assert_eq(lane_samples, out_samples);
	e2e_status_assert_accounting(&st, NULL);

	free(status);
	free(errs);
	free(m);
	e2e_rmrf(dir);
	free(dir);
}

Test(metrics, unwritable_path_is_a_usage_error)
{
	char *dir = e2e_tmpdir();
	free(e2e_write(dir, "flow.yaml", metered_yaml, strlen(metered_yaml)));
	static const char *const argv[] = {"run", "flow.yaml", "--metrics-file",
					   "no/such/dir/m.prom", NULL};
	struct e2e_result r;

	e2e_run_timed(&r, dir, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	CONTAINS(r.err, "--metrics-file no/such/dir/m.prom: No such file or "
			"directory");
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}
