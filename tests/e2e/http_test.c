/*
 * End-to-end tests of `spate run --http`: a run of an endless generator
 * serves /health, /status, /metrics and /graph (read here over a plain
 * socket and compared with the run), answers 404 and 405, refuses a bad or
 * taken address before any data moves, and its status page, loaded in
 * headless Chromium, shows the flow's stages, lanes, counts and rates.
 * Also: the files-read and files-committed counters of the metrics.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/e2e.h"

#define LIMIT_S 60

#define CONTAINS(hay, needle)                                                  \
	cr_assert(strstr((hay), (needle)) != NULL, "expected\n%s\nin\n%s",     \
		  (needle), (hay))

static bool matches(const char *re, const char *s)
{
	regex_t rx;

	cr_assert_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0, "%s", re);
	bool ok = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return ok;
}

static const char web_yaml[] =
    "name: web\n"
    "stages:\n"
    "  - {id: gen, type: dev_data_generator, records: 1000000000000}\n"
    "  - id: split\n"
    "    type: stream_selector\n"
    "    inputs: [gen]\n"
    "    lanes:\n"
    "      high: '${record:value(\"/expense\") >= 10000}'\n"
    "  - {id: sink, type: trash, inputs: [split.high, split.default]}\n";

struct served {
	char *dir;
	pid_t pid;
	int port;
};

/* Starts `spate run flow.yaml --workers 1 --http 127.0.0.1:0 --json` on
 * yaml and waits for the address it prints. */
static void serve(struct served *s, const char *yaml)
{
	s->dir = e2e_tmpdir();
	e2e_put_str(s->dir, "flow.yaml", yaml);
	char *out = e2e_join(s->dir, "out.json");
	char *err = e2e_join(s->dir, "err.txt");
	static const char *const argv[] = {
	    "run", "flow.yaml", "--workers", "1", "--http", "127.0.0.1:0",
	    "--json", NULL};
	s->pid = e2e_bg_start(s->dir, NULL, argv, out, err, NULL);
	s->port = 0;
	for (int i = 0; i < 200 && !s->port; i++) {
		e2e_sleep_ms(50);
		char *text = e2e_read(err, NULL);
		const char *p = text ? strstr(text, "http://127.0.0.1:") : NULL;
		if (p)
			s->port = atoi(p + 17);
		free(text);
	}
	cr_assert_gt(s->port, 0, "no address printed");
	free(out);
	free(err);
}

/* SIGINT (a batch run rolls back), exit 130, the --json status
 * "stopped"; frees s */
static void stop(struct served *s)
{
	kill(s->pid, SIGINT);
	cr_assert_eq(e2e_bg_wait(s->pid, LIMIT_S), 130);
	char *out = e2e_join(s->dir, "out.json");
	char *text = e2e_read(out, NULL);
	struct e2e_status st;
	cr_assert_eq(e2e_status_parse(text, &st), 0, "%s", text);
	cr_assert_str_eq(st.status, "stopped");
	free(text);
	free(out);
	e2e_rmrf(s->dir);
	free(s->dir);
}

/* One request over a fresh connection: the whole answer (head and body),
 * to free; NULL when the connection is refused. */
static char *http(int port, const char *method, const char *path)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return NULL;
	}
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n", method,
			 path);
	cr_assert_eq(write(fd, req, (size_t)n), n);
	struct e2e_text t = {0};
	char buf[8192];
	ssize_t k;
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		e2e_text_add(&t, buf, (size_t)k);
	close(fd);
	return t.p ? t.p : strdup("");
}

/* the body of an answer that must have status line and content type */
static const char *body(const char *answer, const char *status,
			const char *type)
{
	char want[256];

	cr_assert_not_null(answer);
	snprintf(want, sizeof(want), "HTTP/1.1 %s\r\n", status);
	cr_assert(!strncmp(answer, want, strlen(want)), "%s", answer);
	snprintf(want, sizeof(want), "\r\nContent-Type: %s\r\n", type);
	CONTAINS(answer, want);
	const char *b = strstr(answer, "\r\n\r\n");
	cr_assert_not_null(b);
	/* Content-Length is the body's */
	const char *cl = strstr(answer, "Content-Length: ");
	cr_assert_not_null(cl);
	cr_assert_eq(strtoul(cl + 16, NULL, 10), strlen(b + 4), "%s", answer);
	return b + 4;
}

/* value of the sample line that starts with prefix */
static double sample(const char *metrics, const char *prefix)
{
	const char *p = strstr(metrics, prefix);

	cr_assert_not_null(p, "no %s in\n%s", prefix, metrics);
	return strtod(p + strlen(prefix), NULL);
}

Test(http, endpoints_follow_the_run)
{
	struct served s;
	char *a;

	serve(&s, web_yaml);
	a = http(s.port, "GET", "/health");
	cr_assert_str_eq(body(a, "200 OK", "text/plain; charset=utf-8"),
			 "ok\n");
	free(a);

	/* the live status: running, every record accounted for so far */
	a = http(s.port, "GET", "/status?x=1");
	struct e2e_status st;
	cr_assert_eq(e2e_status_parse(body(a, "200 OK", "application/json"),
				      &st),
		     0, "%s", a);
	cr_assert_str_eq(st.status, "running");
	cr_assert_eq(st.nstages, 3);
	const struct e2e_stage_status *split = e2e_status_stage(&st, "split");
	cr_assert_eq(split->nlanes, 2);
	cr_assert_str_eq(split->lane[0], "high");
	cr_assert_str_eq(split->lane[1], "default");
	free(a);

	/* metrics grow between two scrapes and name the run */
	a = http(s.port, "GET", "/metrics");
	const char *m = body(a, "200 OK", "text/plain; version=0.0.4; "
					  "charset=utf-8");
	double first =
	    sample(m, "spate_records_in_total{flow=\"web\",stage=\"gen\"} ");
	cr_assert_eq(sample(m, "spate_run_state{flow=\"web\"} "), 1);
	CONTAINS(m, "# TYPE spate_files_committed_total counter\n");
	cr_assert(matches("\nspate_run_info\\{flow=\"web\",run_id=\"[0-9a-f]"
			  "{16}\",version=\"[0-9.]+\"\\} 1\n",
			  m),
		  "%s", m);
	free(a);
	double later = first;
	for (int i = 0; i < 100 && later <= first; i++) { /* up to 10 s */
		e2e_sleep_ms(100);
		a = http(s.port, "GET", "/metrics");
		m = body(a, "200 OK",
			 "text/plain; version=0.0.4; charset=utf-8");
		later = sample(
		    m, "spate_records_in_total{flow=\"web\",stage=\"gen\"} ");
		free(a);
	}
	cr_assert_gt(later, first);

	a = http(s.port, "GET", "/graph");
	const char *g = body(a, "200 OK", "application/json");
	cr_assert(matches("^\\{\"flow\":\"web\",\"run_id\":\"[0-9a-f]{16}\","
			  "\"stages\":\\[\\{\"id\":\"gen\",\"type\":"
			  "\"dev_data_generator\",\"kind\":\"origin\","
			  "\"lanes\":\\[\\]\\},\\{\"id\":\"split\",\"type\":"
			  "\"stream_selector\",\"kind\":\"processor\","
			  "\"lanes\":\\[\"high\",\"default\"\\]\\},",
			  g),
		  "%s", g);
	CONTAINS(g, "\"edges\":[{\"from\":\"gen\",\"lane\":\"\",\"to\":"
		    "\"split\"},{\"from\":\"split\",\"lane\":\"high\",\"to\":"
		    "\"sink\"},{\"from\":\"split\",\"lane\":\"default\","
		    "\"to\":\"sink\"}],\"events\":[]}\n");
	free(a);

	a = http(s.port, "GET", "/nope");
	cr_assert_str_eq(body(a, "404 Not Found", "text/plain; charset=utf-8"),
			 "not found: try /, /health, /metrics, /status or "
			 "/graph\n");
	free(a);
	a = http(s.port, "POST", "/status");
	cr_assert_str_eq(body(a, "405 Method Not Allowed",
			      "text/plain; charset=utf-8"),
			 "GET only\n");
	free(a);
	a = http(s.port, "GET", "/");
	CONTAINS(body(a, "200 OK", "text/html; charset=utf-8"),
		 "<h1 id=\"flow\">spate</h1>");
	free(a);

	int port = s.port;
	stop(&s);
	/* the server ends with the run */
	cr_assert_null(http(port, "GET", "/health"));
}

Test(http, bad_or_taken_address_is_a_usage_error)
{
	char *dir = e2e_tmpdir();
	e2e_put_str(dir, "flow.yaml", web_yaml);
	static const char *const bad[] = {"run", "flow.yaml", "--http",
					  "localhost:http", NULL};
	struct e2e_result r;

	e2e_run_timed(&r, dir, NULL, NULL, bad, LIMIT_S);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	cr_assert_str_eq(r.err, "spate: --http localhost:http: "
				"'localhost:http': give PORT, HOST:PORT or "
				"[V6]:PORT (PORT 0 to 65535)\n");
	e2e_result_free(&r);

	/* a port another socket holds */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	char addr[64], want[512];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
	const char *const taken[] = {"run", "flow.yaml", "--http", addr,
				     "--json", NULL};
	e2e_run_timed(&r, dir, NULL, NULL, taken, LIMIT_S);
	close(fd);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	snprintf(want, sizeof(want),
		 "spate: --http %s: cannot listen on 127.0.0.1:%d: Address "
		 "already in use\n",
		 addr, ntohs(sa.sin_port));
	cr_assert_str_eq(r.err, want);
	snprintf(want, sizeof(want),
		 "{\"flow\":\"web\",\"file\":\"flow.yaml\",\"status\":"
		 "\"invalid\",\"problems\":[{\"file\":\"flow.yaml\",\"line\":"
		 "null,\"stage\":null,\"option\":\"--http\",\"message\":\"%s: "
		 "cannot listen on 127.0.0.1:%d: Address already in use\"}]}\n",
		 addr, ntohs(sa.sin_port));
	cr_assert_str_eq(r.out, want);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

/* what chromium --dump-dom shows of url after the page's script ran */
static char *dump_dom(const char *dir, const char *url)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "timeout 60 chromium --headless --no-sandbox --disable-gpu "
		 "--disable-quic --no-first-run --disable-background-networking "
		 "--disable-component-update --disable-sync "
		 "--user-data-dir=%s/chromium --virtual-time-budget=4000 "
		 "--dump-dom %s 2>/dev/null",
		 dir, url);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	struct e2e_text t = {0};
	char buf[8192];
	size_t k;
	while ((k = fread(buf, 1, sizeof(buf), p)) > 0)
		e2e_text_add(&t, buf, k);
	cr_assert_eq(pclose(p), 0, "chromium failed");
	return t.p ? t.p : strdup("");
}

Test(http, status_page_in_chromium)
{
	if (access("/usr/bin/chromium", X_OK))
		cr_skip("no /usr/bin/chromium (scripts/deps installs it)");
	if (getenv("SPATE_TEST_SANITIZER"))
		cr_skip("the page's live rates need a run at full speed; the "
			"release and asan builds check the page");
	struct served s;
	char url[64];

	serve(&s, web_yaml);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	char *dom = dump_dom(s.dir, url);
	/* the graph: a box per stage, the lanes on the selector's edges
	 * with their rates */
	CONTAINS(dom, "<h1 id=\"flow\">web</h1>");
	CONTAINS(dom, "<title>spate: web</title>");
	CONTAINS(dom, "<span id=\"status\" class=\"running\">running</span>");
	cr_assert(matches("<span id=\"run\">[0-9a-f]{16}</span>", dom), "%s",
		  dom);
	CONTAINS(dom, "class=\"stage origin\"></rect><text x=\"28\" y=\"36\" "
		      "class=\"id\">gen</text>");
	CONTAINS(dom, ">dev_data_generator</text>");
	CONTAINS(dom, "class=\"stage destination\"></rect>");
	cr_assert(matches("id=\"edge-split\\.high\">high [0-9.]+[kM]?/s<", dom),
		  "%s", dom);
	cr_assert(matches("id=\"edge-split\\.default\">default "
			  "[0-9.]+[kM]?/s<",
			  dom),
		  "%s", dom);
	/* live counts and rates (a rate is shown; whether it is above zero
	 * depends on the machine's load between two polls), and the lanes
	 * together hold what the selector took in */
	cr_assert(matches("id=\"node-rate-gen\">[0-9][0-9.]*[kM]? rec/s<", dom),
		  "%s", dom);
	cr_assert(matches("id=\"rate-gen\">[0-9][0-9.]*[kM]?<", dom), "%s",
		  dom);
	unsigned long long in = 0, high = 0, def = 0;
	const char *p = strstr(dom, "id=\"in-split\">");
	cr_assert_not_null(p, "%s", dom);
	in = strtoull(p + 14, NULL, 10);
	p = strstr(dom, "id=\"lane-split.high\">");
	cr_assert_not_null(p, "%s", dom);
	high = strtoull(p + 21, NULL, 10);
	p = strstr(dom, "id=\"lane-split.default\">");
	cr_assert_not_null(p, "%s", dom);
	def = strtoull(p + 24, NULL, 10);
	cr_assert_gt(in, 0);
	cr_assert_eq(high + def, in, "%llu + %llu != %llu", high, def, in);
	cr_assert_gt(high, 0);
	CONTAINS(dom, "id=\"errors-split\">0<");
	free(dom);
	stop(&s);
}

/* files read by a file_reader and committed by a file_writer */
Test(http, files_read_and_committed_in_the_metrics)
{
	char *dir = e2e_tmpdir();
	e2e_put_str(dir, "in/a.jsonl", "{\"a\":1}\n{\"a\":2}\n");
	e2e_put_str(dir, "in/b.jsonl", "{\"a\":3}\n");
	e2e_put_str(dir, "flow.yaml",
		    "name: files\n"
		    "stages:\n"
		    "  - {id: src, type: file_reader, path: 'in/*.jsonl'}\n"
		    "  - {id: out, type: file_writer, inputs: [src], "
		    "dir: out}\n");
	static const char *const argv[] = {"run", "flow.yaml", "--quiet",
					   "--metrics-file", "m.prom", NULL};
	struct e2e_result r;

	e2e_run_timed(&r, dir, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	char *prom = e2e_join(dir, "m.prom");
	char *m = e2e_read(prom, NULL);
	cr_assert_not_null(m);
	cr_assert_eq(
	    sample(m, "spate_files_read_total{flow=\"files\",stage=\"src\"} "),
	    2);
	cr_assert_eq(sample(m, "spate_files_skipped_total{flow=\"files\","
			       "stage=\"src\"} "),
		     0);
	cr_assert_eq(sample(m, "spate_files_committed_total{flow=\"files\","
			       "stage=\"out\"} "),
		     1);
	/* per kind: no files-read sample for a destination */
	cr_assert_null(strstr(m, "spate_files_read_total{flow=\"files\","
				 "stage=\"out\"}"));
	char *outdir = e2e_join(dir, "out");
	cr_assert_eq(e2e_count_files(outdir, ".zst", false), 1);
	free(outdir);
	free(m);
	free(prom);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}
