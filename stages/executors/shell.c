/*
 * shell: runs a command for each event it receives, with the event in the
 * environment: SPATE_EVENT (type), SPATE_STAGE (the stage that raised it)
 * and SPATE_<KEY> for each field (SPATE_PATH, SPATE_RECORDS, ...).  The
 * command runs under /bin/sh -c, is waited for (up to `timeout` seconds,
 * then killed), and a failure - non-zero exit, signal, timeout - is
 * logged with the stage id, counted as an error of the stage and fails
 * the run (it rolls back), unless on_error is continue.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "stage_api/stage.h"

extern char **environ;

struct shell_config {
	char *command;
	int64_t timeout;
	int on_error; /* SHELL_FAIL or SHELL_CONTINUE */
};

struct shell {
	const char *command; /* in the config, valid until close */
	int64_t timeout;
	bool keep_going; /* on_error: continue */
	char *id;
	const struct sp_stage_ctx *ctx;
};

/* in the order of the on_error choices */
enum { SHELL_FAIL, SHELL_CONTINUE };
static const char *const on_errors[] = {"fail", "continue", NULL};

static const struct sp_option shell_options[] = {
	{.name = "command",
	 .type = SP_OPT_STRING,
	 .required = true,
	 .offset = offsetof(struct shell_config, command),
	 .help = "run by /bin/sh -c for each event, e.g. 'gzip \"$SPATE_PATH\"'; "
		 "the event is in SPATE_EVENT, SPATE_STAGE and SPATE_<FIELD>"},
	{.name = "timeout",
	 .type = SP_OPT_INT,
	 .def = "60",
	 .bounded = true,
	 .min = 1,
	 .max = 86400,
	 .offset = offsetof(struct shell_config, timeout),
	 .help = "seconds to wait for the command before killing it"},
	{.name = "on_error",
	 .type = SP_OPT_ENUM,
	 .def = "fail",
	 .choices = on_errors,
	 .offset = offsetof(struct shell_config, on_error),
	 .help = "fail: a command that fails or times out fails the run "
		 "(rolled back); continue: it is logged and counted as an "
		 "error of the stage, the run goes on"},
	{0},
};

static int shell_create(const void *config, const struct sp_stage_ctx *ctx,
			void **state, char *err, size_t errlen)
{
	const struct shell_config *cfg = config;
	struct shell *s;

	if (!cfg->command || !cfg->command[0]) {
		snprintf(err, errlen, "command: give a command to run");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->id = strdup(ctx->id ? ctx->id : "?"))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->command = cfg->command;
	s->timeout = cfg->timeout > 0 ? cfg->timeout : 60;
	s->keep_going = cfg->on_error == SHELL_CONTINUE;
	s->ctx = ctx;
	*state = s;
	return 0;
}

static void shell_close(void *state)
{
	struct shell *s = state;

	if (!s)
		return;
	free(s->id);
	free(s);
}

/* "SPATE_" + key upper-cased, other bytes than [A-Z0-9] as '_' + "=" +
 * value, malloc'd */
static char *env_entry(const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value ? value : "");
	char *e = malloc(6 + kl + 1 + vl + 1);
	char *p = e;

	if (!e)
		return NULL;
	memcpy(p, "SPATE_", 6);
	p += 6;
	for (size_t i = 0; i < kl; i++) {
		char c = key[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			c = '_';
		*p++ = c;
	}
	*p++ = '=';
	memcpy(p, value ? value : "", vl);
	p[vl] = '\0';
	return e;
}

static bool same_name(const char *a, const char *b)
{
	while (*a && *a != '=' && *a == *b) {
		a++;
		b++;
	}
	return *a == '=' && *b == '=';
}

static void free_env(char **env, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		free(env[i]);
	free(env);
}

static int wait_child(const struct shell *s, pid_t pid, int *status)
{
	struct timespec t0, now, nap = {0, 1000000};

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000000000ll +
			    (now.tv_nsec - t0.tv_nsec) >=
		    s->timeout * 1000000000ll) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return -ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 50000000)
			nap.tv_nsec *= 2;
	}
}

static int shell_on_event(void *state, const struct sp_event *ev)
{
	const struct shell *s = state;
	uint32_t nf = ev->nfields < SP_EVENT_MAX_FIELDS ? ev->nfields
						        : SP_EVENT_MAX_FIELDS;
	size_t nenv = 0, nown = 0, k;
	char *argv[] = {"sh", "-c", (char *)s->command, NULL};
	char **env;
	pid_t pid;
	int status = 0, rc;

	while (environ && environ[nenv])
		nenv++;
	env = calloc(nf + 2 + nenv + 1, sizeof(*env));
	if (!env)
		return -ENOMEM;
	env[nown++] = env_entry("event", ev->type);
	env[nown++] = env_entry("stage", ev->stage);
	for (uint32_t i = 0; i < nf; i++)
		env[nown++] = env_entry(ev->keys[i], ev->values[i]);
	for (k = 0; k < nown; k++) {
		if (!env[k]) {
			free_env(env, 0, nown);
			return -ENOMEM;
		}
	}
	/* the rest of the environment, without names set above */
	k = nown;
	for (size_t i = 0; i < nenv; i++) {
		size_t j;
		for (j = 0; j < nown && !same_name(environ[i], env[j]); j++)
			;
		if (j == nown)
			env[k++] = environ[i];
	}
	env[k] = NULL;
	/* its own process group, so that a timeout kills what it started
	 * too (a killed sh would leave `sleep` holding our stdout open) */
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	rc = posix_spawn(&pid, "/bin/sh", NULL, &attr, argv, env);
	posix_spawnattr_destroy(&attr);
	free_env(env, 0, nown);
	if (rc) {
		sp_log_error("shell '%s': cannot run /bin/sh: %s", s->id,
			     strerror(rc));
		return -rc;
	}
	rc = wait_child(s, pid, &status);
	char why[512];
	if (rc == -ETIMEDOUT)
		snprintf(why, sizeof(why),
			 "shell '%s': command still running after %lld s, "
			 "killed (event %s): %s",
			 s->id, (long long)s->timeout, ev->type, s->command);
	else if (rc)
		snprintf(why, sizeof(why),
			 "shell '%s': waiting for the command failed: %s",
			 s->id, strerror(-rc));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	else if (WIFEXITED(status))
		snprintf(why, sizeof(why),
			 "shell '%s': command exited with status %d (event "
			 "%s): %s",
			 s->id, WEXITSTATUS(status), ev->type, s->command);
	else
		snprintf(why, sizeof(why),
			 "shell '%s': command killed by signal %d (event %s): "
			 "%s",
			 s->id, WTERMSIG(status), ev->type, s->command);
	sp_log_error("%s", why);
	if (!s->keep_going)
		sp_stage_fail(s->ctx, why);
	return rc ? rc : -EIO;
}

const struct sp_stage_desc sp_stage_shell = {
	.abi = SP_STAGE_ABI,
	.name = "shell",
	.kind = SP_EXECUTOR,
	.help = "runs a shell command for each event, with the event's fields "
		"in the environment",
	.options = shell_options,
	.config_size = sizeof(struct shell_config),
	.create = shell_create,
	.create_checks = true,
	.on_event = shell_on_event,
	.close = shell_close,
};
