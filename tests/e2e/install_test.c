/*
 * End-to-end test of `cmake --install`: installs this build into a
 * temporary prefix, checks the installed files, builds tests/install/hello.c
 * against the installed SDK with nothing but
 * `pkg-config --cflags --libs --static spate`, runs it, and runs the flow
 * it saved with the installed spate.  Skipped when cmake, pkg-config or a C
 * compiler is missing.  The Debian package (cpack -G DEB) is unpacked into
 * a scratch root with dpkg -x and its spate, man page and completion are
 * checked.  Everything is written under a temporary folder;
 * cmake --install also rewrites install_manifest.txt in the build folder,
 * which the test puts back as it was.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/e2e.h"

#define LIMIT_S 120

#define CONTAINS(hay, needle)                                                  \
	cr_assert(strstr((hay), (needle)) != NULL, "expected\n%s\nin\n%s",     \
		  (needle), (hay))

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

static bool have(const char *prog)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "command -v '%s' >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* Runs cmd through sh; its output goes to log.  Returns the exit code. */
static int sh(const char *cmd, const char *log)
{
	char *full;

	cr_assert(asprintf(&full, "(%s) >'%s' 2>&1", cmd, log) > 0);
	int st = system(full);
	free(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *slurp(const char *path)
{
	size_t len;
	char *s = e2e_read(path, &len);

	return s ? s : strdup("");
}

/* The text of prefix/rel, a gzip file, as gzip -dc gives it. */
static char *gunzipped(const char *prefix, const char *rel)
{
	char *cmd, log[4096];
	char *tmp = e2e_tmpdir();

	snprintf(log, sizeof(log), "%s/out", tmp);
	cr_assert(asprintf(&cmd, "gzip -dc '%s/%s'", prefix, rel) > 0);
	int rc = sh(cmd, log);
	free(cmd);
	char *out = slurp(log);
	cr_assert_eq(rc, 0, "%s/%s is not gzip: %s", prefix, rel, out);
	e2e_rmrf(tmp);
	free(tmp);
	return out;
}

static void assert_file(const char *prefix, const char *rel, bool exec)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", prefix, rel);
	cr_assert_eq(stat(path, &st), 0, "not installed: %s", rel);
	cr_assert(S_ISREG(st.st_mode) && st.st_size > 0, "%s", rel);
	if (exec)
		cr_assert(st.st_mode & S_IXUSR, "%s is not executable", rel);
}

Test(install, sdk_program_builds_with_pkg_config_and_runs)
{
	const char *cmake = env_or("SPATE_CMAKE", "cmake");
	const char *cc = env_or("SPATE_CC", "cc");
	const char *cflags = env_or("SPATE_INSTALL_CFLAGS", "");
	const char *build = getenv("SPATE_BUILD_DIR");

	if (!build || !have(cmake) || !have("pkg-config") || !have(cc))
		cr_skip_test("needs SPATE_BUILD_DIR, cmake, pkg-config and cc");

	char *tmp = e2e_tmpdir(), prefix[2048], log[4096], manifest[4096];
	snprintf(prefix, sizeof(prefix), "%s/prefix", tmp);
	snprintf(log, sizeof(log), "%s/log.txt", tmp);
	snprintf(manifest, sizeof(manifest), "%s/install_manifest.txt", build);

	/* install; then put the build folder's manifest back */
	size_t mlen = 0;
	char *saved = e2e_read(manifest, &mlen), *cmd;
	cr_assert(asprintf(&cmd, "'%s' --install '%s' --prefix '%s'", cmake,
			   build, prefix) > 0);
	int rc = sh(cmd, log);
	free(cmd);
	if (saved) {
		FILE *f = fopen(manifest, "w");
		cr_assert_not_null(f);
		fwrite(saved, 1, mlen, f);
		fclose(f);
		free(saved);
	} else {
		unlink(manifest);
	}
	char *out = slurp(log);
	cr_assert_eq(rc, 0, "cmake --install failed:\n%s", out);
	free(out);

	assert_file(prefix, "bin/spate", true);
	assert_file(prefix, "lib/libspate.a", false);
	assert_file(prefix, "include/spate/spate.h", false);
	assert_file(prefix, "share/man/man1/spate.1.gz", false);
	assert_file(prefix, "lib/pkgconfig/spate.pc", false);
	assert_file(prefix, "lib/pkgconfig/spate-plugin.pc", false);
	assert_file(prefix, "include/spate/plugin/stage_api/stage.h", false);

	/* the man page is the one in the tree, compressed */
	char path[4096];
	size_t len;
	char *man = gunzipped(prefix, "share/man/man1/spate.1.gz");
	snprintf(path, sizeof(path), "%s/doc/spate.1", e2e_source_dir());
	char *src = e2e_read(path, &len);
	cr_assert(src && !strcmp(man, src), "the installed man page differs");
	free(man);
	free(src);

	/* static linking needs the private dependencies */
	snprintf(path, sizeof(path), "%s/lib/pkgconfig/spate.pc", prefix);
	char *pc = slurp(path);
	static const char *const deps[] = {"liburing", "ck",	     "libzstd",
					   "yaml-0.1", "libpcre2-8", "sqlite3",
					   NULL};
	const char *req = strstr(pc, "\nRequires.private:");
	cr_assert_not_null(req, "%s", pc);
	char line[512];
	snprintf(line, sizeof(line), "%.*s,", (int)strcspn(req + 1, "\n"),
		 req + 1);
	for (int i = 0; deps[i]; i++) {
		char want[64];
		snprintf(want, sizeof(want), " %s,", deps[i]);
		CONTAINS(line, want);
	}
	/* the network clients are loaded when used, never linked */
	CONTAINS(pc, "\nLibs.private: -lpthread -ldl -lm\n");
	CONTAINS(pc, "\nLibs: -L${libdir} -lspate\n");
	free(pc);

	/* a program that knows nothing but pkg-config */
	snprintf(log, sizeof(log), "%s/cc.txt", tmp);
	cr_assert(asprintf(&cmd,
			   "cd '%s' && '%s' %s -o hello '%s/tests/install/"
			   "hello.c' $(PKG_CONFIG_PATH='%s/lib/pkgconfig' "
			   "pkg-config --cflags --libs --static spate)",
			   tmp, cc, cflags, e2e_source_dir(), prefix) > 0);
	rc = sh(cmd, log);
	free(cmd);
	out = slurp(log);
	cr_assert_eq(rc, 0, "building hello.c failed:\n%s", out);
	free(out);

	snprintf(log, sizeof(log), "%s/hello.txt", tmp);
	cr_assert(asprintf(&cmd, "cd '%s' && ./hello flow.yaml", tmp) > 0);
	rc = sh(cmd, log);
	free(cmd);
	out = slurp(log);
	cr_assert_eq(rc, 0, "hello failed:\n%s", out);
	snprintf(path, sizeof(path), "%s/flow.yaml", tmp);
	char *saved_flow = slurp(path);
	cr_assert_str_eq(out, saved_flow);
	CONTAINS(out, "name: hello\n");
	CONTAINS(out, "    type: dev_data_generator\n    records: 42\n");
	CONTAINS(out, "    type: trash\n    inputs: [gen]\n");
	free(out);
	free(saved_flow);

	/* the installed command runs the flow the program saved */
	snprintf(log, sizeof(log), "%s/run.txt", tmp);
	cr_assert(asprintf(&cmd,
			   "cd '%s' && '%s/bin/spate' run flow.yaml "
			   "--json 2>/dev/null",
			   tmp, prefix) > 0);
	rc = sh(cmd, log);
	free(cmd);
	out = slurp(log);
	cr_assert_eq(rc, 0, "%s", out);
	struct e2e_status st;
	cr_assert_eq(e2e_status_parse(out, &st), 0, "%s", out);
	cr_assert_str_eq(st.status, "finished");
	const struct e2e_stage_status *sink = e2e_status_stage(&st, "sink");
	cr_assert_not_null(sink);
	cr_assert_eq(sink->records_in, 42);
	free(out);

	/* an out-of-tree stage: examples/plugins/uppercase.c built against
	 * the installed stage contract alone, loaded by the installed spate */
	snprintf(log, sizeof(log), "%s/plugin-cc.txt", tmp);
	cr_assert(asprintf(&cmd,
			   "cd '%s' && '%s' %s -shared -fPIC -o uppercase.so "
			   "'%s/examples/plugins/uppercase.c' "
			   "$(PKG_CONFIG_PATH='%s/lib/pkgconfig' "
			   "pkg-config --cflags spate-plugin)",
			   tmp, cc, cflags, e2e_source_dir(), prefix) > 0);
	rc = sh(cmd, log);
	free(cmd);
	out = slurp(log);
	cr_assert_eq(rc, 0, "building the plugin failed:\n%s", out);
	free(out);
	snprintf(path, sizeof(path), "%s/plugin.yaml", tmp);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("name: plug\nplugins: [uppercase.so]\nstages:\n"
	      "  - {id: src, type: dev_raw_data, data: \"{\\\"a\\\":"
	      "\\\"x\\u00e9y\\\",\\\"b\\\":\\\"q\\\"}\\n\"}\n"
	      "  - {id: up, type: uppercase, inputs: [src], fields: [/a]}\n"
	      "  - {id: out, type: stdout, inputs: [up]}\n",
	      f);
	fclose(f);
	snprintf(log, sizeof(log), "%s/plugin-run.txt", tmp);
	cr_assert(asprintf(&cmd,
			   "cd '%s' && '%s/bin/spate' run plugin.yaml "
			   "2>/dev/null",
			   tmp, prefix) > 0);
	rc = sh(cmd, log);
	free(cmd);
	out = slurp(log);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_str_eq(out, "{\"a\":\"X\u00e9Y\",\"b\":\"q\"}\n");
	free(out);

	e2e_rmrf(tmp);
	free(tmp);
}

/* The file at root/rel, which must exist, equals the text want. */
static void assert_same_file(const char *root, const char *rel,
			     const char *want)
{
	char *path;
	size_t len;

	cr_assert(asprintf(&path, "%s/%s", root, rel) > 0);
	char *got = e2e_read(path, &len);
	free(path);
	cr_assert_not_null(got, "not in the package: %s", rel);
	cr_assert(!strcmp(got, want), "%s differs", rel);
	free(got);
}

Test(install, deb_package_installs_spate_man_page_and_completion)
{
	const char *cmake = env_or("SPATE_CMAKE", "cmake");
	const char *build = getenv("SPATE_BUILD_DIR");
	char cpack[512];

	snprintf(cpack, sizeof(cpack), "%.*scpack",
		 (int)(strrchr(cmake, '/') ? strrchr(cmake, '/') - cmake + 1 : 0),
		 cmake);
	if (!build || !have(cpack) || !have("dpkg-deb"))
		cr_skip_test("needs SPATE_BUILD_DIR, cpack and dpkg-deb");

	char *tmp = e2e_tmpdir(), log[4096], *cmd;
	snprintf(log, sizeof(log), "%s/log.txt", tmp);
	cr_assert(asprintf(&cmd,
			   "'%s' -G DEB -B '%s/pkg' --config "
			   "'%s/CPackConfig.cmake' && dpkg -x '%s'/pkg/spate_*.deb "
			   "'%s/root' && dpkg-deb -f '%s'/pkg/spate_*.deb "
			   "Package Depends",
			   cpack, tmp, build, tmp, tmp, tmp) > 0);
	int rc = sh(cmd, log);
	free(cmd);
	char *out = slurp(log);
	cr_assert_eq(rc, 0, "cpack or dpkg failed:\n%s", out);
	CONTAINS(out, "Package: spate\n");
	CONTAINS(out, "libzstd1");
	/* loaded on first use, not linked: named by the package itself */
	CONTAINS(out, "libcurl4");
	CONTAINS(out, "libpq5");
	CONTAINS(out, "libmariadb3");
	CONTAINS(out, "libnats3.4");
	free(out);

	/* the packaged spate runs */
	cr_assert(asprintf(&cmd, "'%s/root/usr/bin/spate' --version", tmp) > 0);
	rc = sh(cmd, log);
	free(cmd);
	out = slurp(log);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_str_eq(out, "spate " SPATE_TEST_VERSION "\n");
	free(out);

	char root[4096], path[4096];
	size_t len;
	snprintf(root, sizeof(root), "%s/root", tmp);
	snprintf(path, sizeof(path), "%s/doc/spate.1", e2e_source_dir());
	char *man = e2e_read(path, &len);
	cr_assert_not_null(man);
	char *packed = gunzipped(root, "usr/share/man/man1/spate.1.gz");
	cr_assert_str_eq(packed, man, "the packaged man page differs");
	free(packed);
	free(man);

	/* the completion scripts are the ones spate makes */
	static const char *const shells[][2] = {
		{"bash", "usr/share/bash-completion/completions/spate"},
		{"zsh", "usr/share/zsh/vendor-completions/_spate"},
		{"fish", "usr/share/fish/vendor_completions.d/spate.fish"}};
	for (int i = 0; i < 3; i++) {
		struct e2e_result r;
		const char *argv[] = {"completion", shells[i][0], NULL};
		e2e_run(&r, NULL, NULL, NULL, argv);
		cr_assert_eq(r.exit_code, 0);
		assert_same_file(root, shells[i][1], r.out);
		e2e_result_free(&r);
	}
	assert_file(root, "usr/include/spate/spate.h", false);
	assert_file(root, "usr/include/spate/plugin/stage_api/stage.h", false);
	assert_file(root, "usr/lib/libspate.a", false);
	assert_file(root, "usr/lib/pkgconfig/spate.pc", false);
	assert_file(root, "usr/lib/pkgconfig/spate-plugin.pc", false);
	e2e_rmrf(tmp);
	free(tmp);
}
