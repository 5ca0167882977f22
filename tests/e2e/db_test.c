/*
 * End-to-end tests of the database destinations and origin against real
 * servers that the tests start themselves (scripts/dbserver: PostgreSQL
 * and MariaDB on unix sockets in temporary folders) and stop afterwards.
 * One flow loads one lane into PostgreSQL, one into MariaDB and the rest
 * into files; every row is read back and compared (counts, sums, the
 * bytes of every text value, values inside a nested JSON object).  A run
 * killed with SIGKILL in the middle of both loads leaves both tables
 * empty; the next run is exact, a rerun adds nothing, a rerun after the
 * file outputs were deleted writes them again and keeps both tables as
 * they are, a rerun after one table's commit was lost loads that table
 * alone, a failing run leaves the tables as they were, and a row that does not fit its table becomes
 * an error record while the others load.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/e2e.h"

#define NREC 150000

struct servers {
	char *pgdir, *mydir;
	char conninfo[512];
	char sock[512];
};

/* stdout of a shell command (exit status in *rc when rc != NULL) */
static char *sh(int *rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *sh(int *rc, const char *fmt, ...)
{
	struct e2e_text out = {0};
	char *cmd, buf[65536];
	va_list ap;
	size_t n;
	FILE *f;
	int st;

	va_start(ap, fmt);
	cr_assert(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	f = popen(cmd, "r");
	cr_assert(f, "cannot run %s", cmd);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		e2e_text_add(&out, buf, n);
	st = pclose(f);
	if (rc)
		*rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	else
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "failed (%d): %s\n%s", st, cmd, out.p ? out.p : "");
	free(cmd);
	if (!out.p)
		e2e_text_add(&out, "", 0);
	return out.p;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && s[n - 1] == '\n')
		s[--n] = '\0';
}

static void servers_start(struct servers *sv)
{
	const char *src = e2e_source_dir();
	char *out;
	int rc;

	sv->pgdir = e2e_tmpdir();
	sv->mydir = e2e_tmpdir();
	out = sh(&rc, "%s/scripts/dbserver start postgres %s 2>&1", src,
		 sv->pgdir);
	if (rc == 77)
		cr_skip_test("PostgreSQL is not installed (scripts/deps)");
	cr_assert_eq(rc, 0, "PostgreSQL did not start: %s", out);
	chomp(out);
	snprintf(sv->conninfo, sizeof(sv->conninfo), "%s", out);
	free(out);
	out = sh(&rc, "%s/scripts/dbserver start mariadb %s 2>&1", src,
		 sv->mydir);
	if (rc == 77)
		cr_skip_test("MariaDB is not installed (scripts/deps)");
	cr_assert_eq(rc, 0, "MariaDB did not start: %s", out);
	chomp(out);
	snprintf(sv->sock, sizeof(sv->sock), "%s", out);
	free(out);
}

static void servers_stop(struct servers *sv)
{
	const char *src = e2e_source_dir();

	free(sh(NULL, "%s/scripts/dbserver stop %s", src, sv->pgdir));
	free(sh(NULL, "%s/scripts/dbserver stop %s", src, sv->mydir));
	e2e_rmrf(sv->pgdir);
	e2e_rmrf(sv->mydir);
	free(sv->pgdir);
	free(sv->mydir);
}

static char *psql(const struct servers *sv, const char *sql)
{
	return sh(NULL, "psql -X -q -At -v ON_ERROR_STOP=1 '%s' -c \"%s\"",
		  sv->conninfo, sql);
}

static char *mysql_q(const struct servers *sv, const char *sql)
{
	return sh(NULL, "mariadb --no-defaults -S %s -u root -N -B -e \"%s\"",
		  sv->sock, sql);
}

/* ---- the input ----------------------------------------------------------- */

static const char *const texts[] = {
	"plain",	"tab\there",	 "new\nline",	    "cr\rreturn",
	"quote\"s",	"single 'q'",	 "back\\slash",	    "\\N",
	"unicode é ü",	"emoji 😀 中文", "",		    "semi;colon,comma",
	"end\\",	"\\t not a tab", "mixed\t\"\\\n'x",
};
#define NTEXTS (sizeof(texts) / sizeof(texts[0]))

static void json_str(struct e2e_text *t, const char *s)
{
	e2e_text_add(t, "\"", 1);
	for (; *s; s++) {
		char e[8];

		if (*s == '"' || *s == '\\') {
			e[0] = '\\';
			e[1] = *s;
			e2e_text_add(t, e, 2);
		} else if ((unsigned char)*s < 0x20) {
			snprintf(e, sizeof(e), "\\u%04x", *s);
			e2e_text_add(t, e, 6);
		} else {
			e2e_text_add(t, s, 1);
		}
	}
	e2e_text_add(t, "\"", 1);
}

static const char *lane_of(int i)
{
	return i % 3 == 0 ? "pg" : i % 3 == 1 ? "my" : "file";
}

/* the record that does not fit: a name too long for varchar(40) in the
 * PostgreSQL lane, an amount out of int range in the MariaDB lane */
#define BAD_PG 30
#define BAD_MY 31

static int64_t amount_of(int i)
{
	return i == BAD_MY ? 99999999999LL : (i * 7919) % 200001 - 100000;
}

static void gen_input(struct e2e_text *t)
{
	for (int i = 0; i < NREC; i++) {
		e2e_text_printf(t, "{\"id\":%d,\"lane\":\"%s\",\"name\":", i,
				lane_of(i));
		if (i == BAD_PG) {
			json_str(t, "this name is far too long for forty "
				    "characters");
		} else {
			struct e2e_text s = {0};

			e2e_text_printf(&s, "%s#%d", texts[i % NTEXTS], i);
			json_str(t, s.p);
			free(s.p);
		}
		e2e_text_printf(t, ",\"amount\":%lld,\"meta\":{\"k\":\"v%d\","
				"\"n\":[%d,{\"deep\":true}]}}\n",
				(long long)amount_of(i), i, i);
	}
}

static char *hex(const char *s)
{
	struct e2e_text t = {0};

	for (; *s; s++)
		e2e_text_printf(&t, "%02X", (unsigned char)*s);
	if (!t.p)
		e2e_text_add(&t, "", 0);
	return t.p;
}

/* "id|amount|HEX(name)|meta.k|meta.n[0]" lines for the lane, in id order */
static char *expected_rows(const char *lane, const char *sep, int64_t *sum,
			   int *count)
{
	struct e2e_text t = {0};

	*sum = 0;
	*count = 0;
	for (int i = 0; i < NREC; i++) {
		struct e2e_text s = {0};
		char *h;

		if (strcmp(lane_of(i), lane) || i == BAD_PG || i == BAD_MY)
			continue;
		e2e_text_printf(&s, "%s#%d", texts[i % NTEXTS], i);
		h = hex(s.p);
		e2e_text_printf(&t, "%d%s%lld%s%s%sv%d%s%d\n", i, sep,
				(long long)amount_of(i), sep, h, sep, i, sep,
				i);
		*sum += amount_of(i);
		(*count)++;
		free(h);
		free(s.p);
	}
	return t.p;
}

static void check_tables(const struct servers *sv)
{
	int64_t sum;
	int count;
	char *want, *got;

	want = expected_rows("pg", "|", &sum, &count);
	got = psql(sv, "SELECT id, amount, upper(encode(convert_to(name, "
		       "'UTF8'), 'hex')), meta->>'k', meta->'n'->>0 FROM "
		       "items ORDER BY id");
	e2e_assert_same(got, strlen(got), want, strlen(want),
			"PostgreSQL rows", "db");
	free(got);
	free(want);
	got = psql(sv, "SELECT count(*), sum(amount), "
		       "bool_and(meta->'n'->1 = '{\\\"deep\\\": true}') "
		       "FROM items");
	char line[128];
	snprintf(line, sizeof(line), "%d|%lld|t\n", count, (long long)sum);
	cr_expect_str_eq(got, line);
	free(got);

	want = expected_rows("my", "\t", &sum, &count);
	got = mysql_q(sv, "SELECT id, amount, HEX(name), "
			  "JSON_VALUE(meta, '\\$.k'), "
			  "JSON_VALUE(meta, '\\$.n[0]') FROM d.items "
			  "ORDER BY id");
	e2e_assert_same(got, strlen(got), want, strlen(want), "MariaDB rows",
			"db");
	free(got);
	free(want);
	got = mysql_q(sv, "SELECT COUNT(*), SUM(amount), "
			  "SUM(JSON_EXTRACT(meta, '\\$.n[1].deep') = 'true') "
			  "FROM d.items");
	snprintf(line, sizeof(line), "%d\t%lld\t%d\n", count, (long long)sum,
		 count);
	cr_expect_str_eq(got, line);
	free(got);
}

static void expect_empty(const struct servers *sv, const char *when)
{
	char *a = psql(sv, "SELECT (SELECT count(*) FROM items) + "
			   "(SELECT count(*) FROM spate_loads)");
	char *b = mysql_q(sv, "SELECT (SELECT COUNT(*) FROM d.items) + "
			      "(SELECT COUNT(*) FROM d.spate_loads)");

	cr_expect_str_eq(a, "0\n", "%s: PostgreSQL holds rows", when);
	cr_expect_str_eq(b, "0\n", "%s: MariaDB holds rows", when);
	free(a);
	free(b);
}

static void make_tables(const struct servers *sv)
{
	free(psql(sv, "CREATE TABLE items (id int8 PRIMARY KEY, name "
		      "varchar(40), amount int4 NOT NULL, meta jsonb); "
		      "CREATE TABLE spate_loads (flow text NOT NULL, stage "
		      "text NOT NULL, run_id text NOT NULL, target text NOT "
		      "NULL, records bigint NOT NULL, loads integer NOT NULL "
		      "DEFAULT 1, loaded_at timestamptz NOT NULL DEFAULT "
		      "now(), PRIMARY KEY (flow, stage, run_id))"));
	free(mysql_q(sv, "CREATE DATABASE d; CREATE TABLE d.items (id bigint "
			 "PRIMARY KEY, name varchar(40), amount int NOT NULL, "
			 "meta json) ENGINE=InnoDB; CREATE TABLE "
			 "d.spate_loads (flow VARCHAR(128) NOT NULL, stage "
			 "VARCHAR(128) NOT NULL, run_id VARCHAR(64) NOT NULL, "
			 "target VARCHAR(512) NOT NULL, records BIGINT NOT "
			 "NULL, loads INT NOT NULL DEFAULT 1, loaded_at "
			 "TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
			 "PRIMARY KEY (flow, stage, run_id)) ENGINE=InnoDB"));
}

/* the load flow into dir/name, reading from the origin src */
static void write_flow(const char *dir, const char *name,
		       const struct servers *sv, const char *src)
{
	struct e2e_text t = {0};

	e2e_text_printf(
	    &t,
	    "name: dbload\n"
	    "error_stage: errors\n"
	    "stages:\n"
	    "  - {id: src, %s}\n"
	    "  - id: split\n"
	    "    type: stream_selector\n"
	    "    inputs: [src]\n"
	    "    mode: first_match\n"
	    "    lanes:\n"
	    "      pg: '${record:value(\"/lane\") == \"pg\"}'\n"
	    "      my: '${record:value(\"/lane\") == \"my\"}'\n"
	    "  - id: to_pg\n"
	    "    type: postgres\n"
	    "    inputs: [split.pg]\n"
	    "    conninfo: '%s'\n"
	    "    table: public.items\n"
	    "    columns: {id: /id, name: /name, amount: /amount, "
	    "meta: /meta}\n"
	    "  - {id: to_my, type: mysql, inputs: [split.my], socket: '%s', "
	    "database: d, table: items}\n"
	    "  - {id: to_files, type: file_writer, inputs: [split.default], "
	    "dir: out/files, compression: none}\n"
	    "  - {id: errors, type: file_writer, dir: out/errors, "
	    "compression: none}\n",
	    src, sv->conninfo, sv->sock);
	e2e_put_str(dir, name, t.p);
	free(t.p);
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the lines of a file_writer's output, sorted (workers interleave) */
static char *sorted_out(const char *dir, const char *sub)
{
	struct e2e_text t = {0};
	size_t len, n = 0;
	char *all = e2e_read_out(dir, sub, &len), **lines, *save = NULL;

	lines = calloc(e2e_count_lines(all, len) + 1, sizeof(*lines));
	cr_assert(lines);
	for (char *l = strtok_r(all, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	qsort(lines, n, sizeof(*lines), cmp_lines);
	for (size_t i = 0; i < n; i++)
		e2e_text_printf(&t, "%s\n", lines[i]);
	if (!t.p)
		e2e_text_add(&t, "", 0);
	free(lines);
	free(all);
	return t.p;
}

/* removes dir/sub */
static void rm_sub(const char *dir, const char *sub)
{
	char *p = e2e_join(dir, sub);

	e2e_rmrf(p);
	free(p);
}

/* Runs the flow with the input on a pipe that stays open, so that spate
 * can never finish the load (a file input let it commit first on a busy
 * machine); waits until both servers are inside the load, then SIGKILLs
 * spate. */
static void kill_mid_load(const char *dir, const struct servers *sv,
			  const struct e2e_text *in)
{
	const char *argv[] = {"run", "kill.yaml", "--quiet", NULL};
	char *out = e2e_join(dir, "kill.out"), *err = e2e_join(dir, "kill.err");
	bool pg = false, my = false;
	int fd;
	pid_t pid;

	write_flow(dir, "kill.yaml", sv, "type: stdin");
	signal(SIGPIPE, SIG_IGN); /* a spate that ended fails the write */
	pid = e2e_bg_start(dir, NULL, argv, out, err, &fd);
	cr_assert_eq(write(fd, in->p, in->len), (ssize_t)in->len);
	for (int i = 0; i < 3000 && !(pg && my); i++) {
		char *a = psql(sv, "SELECT count(*) FROM pg_stat_progress_copy "
				   "WHERE tuples_processed > 0");
		char *b = mysql_q(sv, "SELECT COUNT(*) FROM information_schema."
				      "PROCESSLIST WHERE INFO LIKE 'LOAD "
				      "DATA%'");
		pg = pg || strcmp(a, "0\n") != 0;
		my = my || strcmp(b, "0\n") != 0;
		free(a);
		free(b);
	}
	cr_assert(pg && my, "the loads were not seen running (pg %d, my %d)",
		  pg, my);
	kill(pid, SIGKILL);
	cr_assert_eq(e2e_bg_wait(pid, 30), 128 + SIGKILL,
		     "spate ended before it was killed");
	close(fd);
	free(out);
	free(err);
}

Test(db, load_kill_rerun_fail, .timeout = 600)
{
	struct servers sv;
	struct e2e_text in = {0};
	struct e2e_result r;
	char *dir = e2e_tmpdir(), *got, *files, *errors;
	size_t len;

	servers_start(&sv);
	make_tables(&sv);
	gen_input(&in);
	e2e_put_str(dir, "in.jsonl", in.p);
	write_flow(dir, "flow.yaml", &sv, "type: file_reader, path: in.jsonl");

	/* killed in the middle of both loads: nothing visible */
	kill_mid_load(dir, &sv, &in);
	expect_empty(&sv, "after kill -9");

	/* the next run is exact; the two rows that do not fit are errors */
	e2e_run_flow(&r, dir, NULL, "flow.yaml", NULL);
	e2e_assert_ok(&r, "db");
	e2e_result_free(&r);
	check_tables(&sv);
	got = e2e_read_out(dir, "out/files", &len);
	cr_expect_eq(e2e_count_lines(got, len), NREC / 3);
	free(got);
	got = e2e_read_out(dir, "out/errors", &len);
	cr_expect_eq(e2e_count_lines(got, len), 2, "errors: %s", got);
	cr_expect(strstr(got, "\"id\":30,") &&
		      strstr(got, "column 'name' (character varying(40)): "
				  "too long: 46 characters, at most 40"),
		  "errors: %s", got);
	cr_expect(strstr(got, "\"id\":31,") &&
		      strstr(got, "column 'amount' (int(11)): 99999999999 "
				  "is out of range"),
		  "errors: %s", got);
	free(got);

	/* a rerun over the same input adds nothing */
	files = sorted_out(dir, "out/files");
	errors = sorted_out(dir, "out/errors");
	e2e_run_flow(&r, dir, NULL, "flow.yaml", NULL);
	cr_expect_eq(r.exit_code, 0, "%s", r.err);
	cr_expect(strstr(r.err, "skipped"), "%s", r.err);
	e2e_result_free(&r);
	check_tables(&sv);

	/* the file outputs deleted: the rerun writes them again, the same
	 * records (the two errors come from the tables' conversions, which
	 * run again) while both tables are kept as they are */
	rm_sub(dir, "out/files");
	rm_sub(dir, "out/errors");
	e2e_run_flow(&r, dir, NULL, "flow.yaml", NULL);
	cr_expect_eq(r.exit_code, 0, "%s", r.err);
	cr_expect(!strstr(r.err, "skipped"), "%s", r.err);
	e2e_result_free(&r);
	check_tables(&sv);
	got = sorted_out(dir, "out/files");
	e2e_assert_same(got, strlen(got), files, strlen(files),
			"rebuilt files", "db");
	free(got);
	got = sorted_out(dir, "out/errors");
	e2e_assert_same(got, strlen(got), errors, strlen(errors),
			"rebuilt errors", "db");
	free(got);
	free(files);
	free(errors);
	got = psql(&sv, "SELECT count(*), sum(loads) FROM spate_loads");
	cr_expect_str_eq(got, "1|1\n");
	free(got);
	got = mysql_q(&sv, "SELECT COUNT(*), SUM(loads) FROM d.spate_loads");
	cr_expect_str_eq(got, "1\t1\n");
	free(got);

	/* a run that died between the two tables' commits (MariaDB's undone
	 * here by hand): the rerun loads MariaDB and keeps PostgreSQL */
	free(mysql_q(&sv, "DELETE FROM d.items; DELETE FROM d.spate_loads"));
	e2e_run_flow(&r, dir, NULL, "flow.yaml", NULL);
	cr_expect_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	check_tables(&sv);
	got = mysql_q(&sv, "SELECT COUNT(*), SUM(loads) FROM d.spate_loads");
	cr_expect_str_eq(got, "1\t1\n");
	free(got);

	/* --force loads again; the primary keys refuse the rows, so the run
	 * fails and both tables stay as they were */
	e2e_run_flow(&r, dir, NULL, "flow.yaml", "--force", NULL);
	cr_expect_eq(r.exit_code, 1, "%s", r.err);
	cr_expect(strstr(r.err, "duplicate key") ||
		      strstr(r.err, "Duplicate entry"),
		  "%s", r.err);
	e2e_result_free(&r);
	check_tables(&sv);
	got = psql(&sv, "SELECT records, loads FROM spate_loads");
	char want[64];
	snprintf(want, sizeof(want), "%d|1\n", NREC / 3 - 1);
	cr_expect_str_eq(got, want);
	free(got);

	servers_stop(&sv);
	free(in.p);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- the postgres origin (query) --------------------------------------- */

/* runs the SQL file dir/name with psql */
static void psql_file(const struct servers *sv, const char *dir,
		      const char *name, const char *sql)
{
	e2e_put_str(dir, name, sql);
	free(sh(NULL, "psql -X -q -At -v ON_ERROR_STOP=1 '%s' -f %s/%s",
		sv->conninfo, dir, name));
}

#define NGEN 20000

static const char *const types_sql =
	"CREATE TABLE t (id int8 PRIMARY KEY, n numeric, n2 numeric(40,9), "
	"f float8, b bool, ts timestamp, tz timestamptz, j jsonb, js json, "
	"a int[], by bytea, tx text, u uuid, d date);\n"
	"CREATE TABLE t2 (LIKE t);\n"
	"ALTER TABLE t2 DROP COLUMN a;\n"
	"INSERT INTO t VALUES (1, 12345678901234567890.123456789, "
	"12345678901234567890.123456789, 0.1, true, '2024-01-02 "
	"03:04:05.5', '2024-01-02 03:04:05+02', '{\"a\": [1, 2]}', "
	"E'{ \"k\" : \"v w\",\\n \"z\":1}', '{1,NULL,3}', '\\x00ff', "
	"E'tab\\there\\nnl \\\\ \"q\" \xc3\xbcn\xc3\xaf \xe6\xbc\xa2', "
	"'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29'), "
	"(2, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
	"NULL, NULL, NULL), "
	"(3, -0.000000001, 0, '-Infinity', false, NULL, NULL, '[]', "
	"'\"s\"', '{}', '\\x', '', NULL, NULL);\n"
	"CREATE TABLE gen AS SELECT g AS id, "
	"12345678901234567890.123456789 + g AS n, "
	"CASE WHEN g % 7 = 0 THEN NULL ELSE 'row ' || g || E'\\t\\n\\\\\"\xc3\xbc' "
	"END AS tx FROM generate_series(1, 20000) g;\n";

static const char *const types_want =
	"{\"id\":1,\"n\":12345678901234567890.123456789,"
	"\"n2\":12345678901234567890.123456789,\"f\":0.1,\"b\":true,"
	"\"ts\":\"2024-01-02T03:04:05.5\",\"tz\":\"2024-01-02T01:04:05Z\","
	"\"j\":{\"a\":[1,2]},\"js\":{\"k\":\"v w\",\"z\":1},"
	"\"a\":[1,null,3],\"by\":\"\\\\x00ff\","
	"\"tx\":\"tab\\there\\nnl \\\\ \\\"q\\\" \xc3\xbcn\xc3\xaf \xe6\xbc\xa2\","
	"\"u\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",\"d\":\"2024-02-29\"}\n"
	"{\"id\":2,\"n\":null,\"n2\":null,\"f\":\"NaN\",\"b\":null,"
	"\"ts\":null,\"tz\":null,\"j\":null,\"js\":null,\"a\":null,"
	"\"by\":null,\"tx\":null,\"u\":null,\"d\":null}\n"
	"{\"id\":3,\"n\":-0.000000001,\"n2\":0.000000000,\"f\":\"-Infinity\","
	"\"b\":false,\"ts\":null,\"tz\":null,\"j\":[],\"js\":\"s\",\"a\":[],"
	"\"by\":\"\\\\x\",\"tx\":\"\",\"u\":null,\"d\":null}\n";

static void write_query_flow(const char *dir, const char *name,
			     const struct servers *sv, const char *query,
			     const char *more)
{
	struct e2e_text t = {0};

	e2e_text_printf(&t,
			"name: %.*s\n"
			"stages:\n"
			"  - {id: src, type: postgres, conninfo: '%s', "
			"query: '%s', chunk_size: 4096}\n"
			"  - {id: out, type: file_writer, inputs: [src], "
			"dir: out/%s, compression: none, ordered: true}\n%s",
			(int)(strchr(name, '.') - name), name, sv->conninfo,
			query, name, more);
	e2e_put_str(dir, name, t.p);
	free(t.p);
}

Test(db, origin_reads_every_type, .timeout = 300)
{
	struct servers sv;
	struct e2e_text want = {0}, more = {0};
	char *dir = e2e_tmpdir(), *got;

	servers_start(&sv);
	psql_file(&sv, dir, "types.sql", types_sql);

	/* every type, NULLs, unicode, escapes; the same rows loaded into
	 * another table by the postgres destination are equal to them (but
	 * for the array column: the destination writes no array literals) */
	e2e_text_printf(&more, "  - {id: back, type: postgres, inputs: [src], "
			"conninfo: '%s', table: t2}\n", sv.conninfo);
	write_query_flow(dir, "types.yaml", &sv, "SELECT * FROM t ORDER BY id;",
			 more.p);
	e2e_run_flow_ok(dir, NULL, "postgres origin", "types.yaml", NULL);
	e2e_assert_out(dir, "out/types.yaml", types_want, "postgres origin");
	got = psql(&sv, "SELECT count(*) FROM t2");
	cr_expect_str_eq(got, "3\n");
	free(got);
	got = psql(&sv, "SELECT count(*) FROM (SELECT id, n, n2, f, b, ts, "
			"tz, j, js::jsonb, by, tx, u, d FROM t EXCEPT "
			"SELECT id, n, n2, f, b, ts, tz, j, js::jsonb, by, "
			"tx, u, d FROM t2) x");
	cr_expect_str_eq(got, "0\n", "rows of t2 differ from t");
	free(got);

	/* 20000 rows in many blocks: every line as expected */
	for (int g = 1; g <= NGEN; g++) {
		e2e_text_printf(&want, "{\"id\":%d,\"n\":%llu.123456789,", g,
				12345678901234567890ull + (unsigned)g);
		if (g % 7 == 0)
			e2e_text_printf(&want, "\"tx\":null}\n");
		else
			e2e_text_printf(&want, "\"tx\":\"row %d\\t\\n\\\\\\\""
					"\xc3\xbc\"}\n", g);
	}
	write_query_flow(dir, "gen.yaml", &sv, "TABLE gen ORDER BY id", "");
	e2e_run_flow_ok(dir, NULL, "postgres origin", "gen.yaml", NULL);
	e2e_assert_out(dir, "out/gen.yaml", want.p, "postgres origin");

	/* a query that does not parse names the option and the server's
	 * reason */
	struct e2e_result r;

	write_query_flow(dir, "bad.yaml", &sv, "SELECT nope FROM gen", "");
	e2e_run_flow(&r, dir, NULL, "bad.yaml", NULL);
	cr_expect_eq(r.exit_code, 1, "%s", r.err);
	cr_expect(strstr(r.err, "stage 'src' (postgres): option "
			 "'query': ERROR:  column \"nope\" does not exist"),
		  "%s", r.err);
	e2e_result_free(&r);

	servers_stop(&sv);
	free(want.p);
	free(more.p);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- decimal columns never round ----------------------------------------- */

Test(db, numeric_not_rounded, .timeout = 300)
{
	struct servers sv;
	struct e2e_text t = {0};
	char *dir = e2e_tmpdir(), *got;
	size_t len;

	servers_start(&sv);
	free(psql(&sv, "CREATE TABLE wide (id int, v numeric(40,9)); "
		       "CREATE TABLE narrow (id int, v numeric(10,2))"));
	free(mysql_q(&sv, "CREATE DATABASE d; CREATE TABLE d.wide (id int, v "
			  "decimal(40,9)); CREATE TABLE d.narrow (id int, v "
			  "decimal(10,2))"));
	e2e_text_printf(
	    &t,
	    "name: numeric\n"
	    "error_stage: errors\n"
	    "stages:\n"
	    "  - id: src\n"
	    "    type: dev_raw_data\n"
	    "    data: |\n"
	    "      {\"id\":1,\"v\":12345678901234567890.123456789}\n"
	    "      {\"id\":2,\"v\":1.005}\n"
	    "      {\"id\":3,\"v\":\"2.50\"}\n"
	    "      {\"id\":4,\"v\":1.1e-1}\n"
	    "  - {id: pw, type: postgres, inputs: [src], conninfo: '%s', "
	    "table: wide}\n"
	    "  - {id: pn, type: postgres, inputs: [src], conninfo: '%s', "
	    "table: narrow}\n"
	    "  - {id: mw, type: mysql, inputs: [src], socket: '%s', "
	    "database: d, table: wide}\n"
	    "  - {id: mn, type: mysql, inputs: [src], socket: '%s', "
	    "database: d, table: narrow}\n"
	    "  - {id: errors, type: file_writer, dir: out/errors, "
	    "compression: none}\n",
	    sv.conninfo, sv.conninfo, sv.sock, sv.sock);
	e2e_put_str(dir, "flow.yaml", t.p);
	e2e_run_flow_ok(dir, NULL, "numeric", "flow.yaml", NULL);

	got = psql(&sv, "SELECT id, v FROM wide ORDER BY id");
	cr_expect_str_eq(got, "1|12345678901234567890.123456789\n"
			      "2|1.005000000\n3|2.500000000\n4|0.110000000\n");
	free(got);
	got = mysql_q(&sv, "SELECT id, v FROM d.wide ORDER BY id");
	cr_expect_str_eq(got, "1\t12345678901234567890.123456789\n"
			      "2\t1.005000000\n3\t2.500000000\n"
			      "4\t0.110000000\n");
	free(got);
	got = psql(&sv, "SELECT id, v FROM narrow ORDER BY id");
	cr_expect_str_eq(got, "3|2.50\n4|0.11\n");
	free(got);
	got = mysql_q(&sv, "SELECT id, v FROM d.narrow ORDER BY id");
	cr_expect_str_eq(got, "3\t2.50\n4\t0.11\n");
	free(got);

	/* the two rows each narrow table refused are error records */
	got = e2e_read_out(dir, "out/errors", &len);
	cr_expect_eq(e2e_count_lines(got, len), 4, "errors: %s", got);
	cr_expect(strstr(got, "column 'v' (numeric(10,2)): 1.005 has 3 "
			      "decimal places, the column keeps 2: it would "
			      "be rounded"),
		  "errors: %s", got);
	cr_expect(strstr(got, "column 'v' (decimal(10,2)): 1.005 has 3 "
			      "decimal places, the column keeps 2: it would "
			      "be rounded"),
		  "errors: %s", got);
	cr_expect(strstr(got, "(numeric(10,2)): "
			      "12345678901234567890.123456789 is out of range"),
		  "errors: %s", got);
	free(got);

	servers_stop(&sv);
	free(t.p);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- the README's example -------------------------------------------------
 */

/* the YAML between the db-example markers of README.md */
static char *readme_example(void)
{
	char *path = e2e_join(e2e_source_dir(), "README.md");
	char *readme = e2e_read(path, NULL), *a, *b, *flow;

	a = strstr(readme, "<!-- db-example:begin -->\n```yaml\n");
	cr_assert(a, "README.md has no db-example block");
	a += strlen("<!-- db-example:begin -->\n```yaml\n");
	b = strstr(a, "```\n<!-- db-example:end -->");
	cr_assert(b, "README.md's db-example block does not end");
	flow = strndup(a, (size_t)(b - a));
	free(readme);
	free(path);
	return flow;
}

Test(db, readme_example_loads_a_catalog_csv, .timeout = 300)
{
	struct servers sv;
	struct e2e_result r;
	char *dir = e2e_tmpdir(), *flow = readme_example(), *got, *raw;
	char home[600], conn[600];
	const char *env[] = {home, conn, NULL};
	size_t len;

	servers_start(&sv);
	snprintf(home, sizeof(home), "SPATE_HOME=%s/home", dir);
	snprintf(conn, sizeof(conn), "PG_CONNINFO=%s", sv.conninfo);
	free(psql(&sv, "CREATE TABLE orders (id int8 PRIMARY KEY, customer "
		       "text NOT NULL, amount numeric(10,2), placed date, "
		       "extra jsonb)"));
	raw = e2e_join(dir, "raw");
	free(sh(NULL, "mkdir -p %s/orders", raw));
	e2e_put_str(raw, "orders/a.csv",
		    "id,customer,amount,placed\n"
		    "1,\"Ann, \"\"A\"\" \xc3\xa9\",12.50,2024-03-01\n"
		    "2,Bob,1.005,2024-03-02\n"
		    "3,Cy,-7,2024-02-29\n");
	e2e_put_str(dir, "orders.yaml", flow);
	{
		const char *argv[] = {"stage", "create-local", "raw", raw,
				      NULL};
		e2e_run(&r, dir, env, NULL, argv);
		cr_assert_eq(r.exit_code, 0, "%s", r.err);
		e2e_result_free(&r);
	}

	e2e_run_flow(&r, dir, env, "orders.yaml", NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	got = psql(&sv, "SELECT id, customer, amount, placed, extra FROM "
			"orders ORDER BY id");
	cr_expect_str_eq(got, "1|Ann, \"A\" \xc3\xa9|12.50|2024-03-01|\n"
			      "3|Cy|-7.00|2024-02-29|\n");
	free(got);
	got = e2e_read_out(raw, "rejects", &len);
	cr_expect_eq(e2e_count_lines(got, len), 1, "%s", got);
	cr_expect(strstr(got, "\"id\":\"2\"") &&
		      strstr(got, "column 'amount' (numeric(10,2)): 1.005 "
				  "has 3 decimal places"),
		  "%s", got);
	free(got);

	/* the rerun adds nothing */
	e2e_run_flow(&r, dir, env, "orders.yaml", NULL);
	cr_expect_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	got = psql(&sv, "SELECT count(*), sum(amount) FROM orders");
	cr_expect_str_eq(got, "2|5.50\n");
	free(got);

	servers_stop(&sv);
	free(raw);
	free(flow);
	e2e_rmrf(dir);
	free(dir);
}
