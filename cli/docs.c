/*
 * The stage reference generated from the option tables, as Markdown (the
 * README's table) and as roff (the STAGES section of doc/spate.1), so that
 * the documents cannot drift from the code: `spate stages --markdown` and
 * `spate stages --man` print it, scripts/gen-docs puts it between the
 * documents' markers and tests/e2e/docs_test.c checks that they match.
 * Only built-in stage types are listed (no plugin is loaded here).  The
 * same for the expression functions (`spate functions`), from their
 * reference table in expr/expr_doc.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "expr/expr.h"
#include "record/json.h"
#include "stages/registry.h"

static void md_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '<')
			fputs("&lt;", out);
		else
			fputc(*s, out);
	}
}

static void markdown(FILE *out, const struct sp_stage_desc *const *all,
		     uint32_t n)
{
	fputs("| type | kind | what it does | options |\n|---|---|---|---|\n",
	      out);
	for (uint32_t i = 0; i < n; i++) {
		const struct sp_stage_desc *d = all[i];
		fprintf(out, "| `%s` | %s | ", d->name,
			sp_stage_kind_name(d->kind));
		md_text(out, d->help);
		fputs(" | ", out);
		if (!d->options || !d->options->name)
			fputs("-", out);
		for (const struct sp_option *o = d->options; o && o->name; o++)
			fprintf(out, "%s`%s`%s", o == d->options ? "" : ", ",
				o->name, o->required ? " (required)" : "");
		fputs(" |\n", out);
	}
}

/* roff text: a backslash is \e, a line may not start with a control
 * character, a double quote in a default is \(dq */
static void roff_text(FILE *out, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '"')
			fputs("\\(dq", out);
		else
			fputc(*s, out);
	}
}

static void num(char *out, size_t len, double v)
{
	if (v == floor(v) && fabs(v) < 1e18)
		snprintf(out, len, "%.0f", v);
	else
		snprintf(out, len, "%g", v);
}

/* "enum: jsonl, csv; default: jsonl" */
static void describe(FILE *out, const struct sp_option *o)
{
	char lo[32], hi[32];

	roff_text(out, sp_opt_type_name(o->type));
	if (o->type == SP_OPT_ENUM && o->choices) {
		fputs(":", out);
		for (const char *const *c = o->choices; *c; c++) {
			fputs(c == o->choices ? " " : ", ", out);
			roff_text(out, *c);
		}
	}
	if (o->bounded) {
		num(lo, sizeof(lo), o->min);
		num(hi, sizeof(hi), o->max);
		fprintf(out, "; %s %s..%s", sp_opt_bound_noun(o), lo, hi);
	}
	if (o->required) {
		fputs("; required", out);
	} else if (o->def) {
		fputs("; default: ", out);
		roff_text(out, o->def[0] ? o->def : "\"\"");
	}
}

static void man_options(FILE *out, const struct sp_option *table)
{
	for (const struct sp_option *o = table; o && o->name; o++) {
		fputs(".TP\n\\fB", out);
		roff_text(out, o->name);
		fputs("\\fR (", out);
		describe(out, o);
		fputs(")\n", out);
		if (o->help) {
			roff_text(out, o->help);
			fputc('\n', out);
		}
		if (o->type == SP_OPT_OBJECT_LIST && o->items) {
			fputs(".br\nEach item:\n.RS\n", out);
			man_options(out, o->items);
			fputs(".RE\n", out);
		}
	}
}

static void man(FILE *out, const struct sp_stage_desc *const *all, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct sp_stage_desc *d = all[i];
		fprintf(out, ".SS %s (%s)\n", d->name,
			sp_stage_kind_name(d->kind));
		roff_text(out, d->help);
		fputc('\n', out);
		if (!d->options || !d->options->name)
			fputs(".PP\nNo options.\n", out);
		else
			man_options(out, d->options);
	}
}

int cli_stages_reference(FILE *out, bool roff)
{
	const struct sp_stage_desc *all[256];
	uint32_t n = sp_registry_list(all, 256);

	if (n > 256)
		n = 256;
	if (roff)
		man(out, all, n);
	else
		markdown(out, all, n);
	return fflush(out) ? SPATE_EXIT_FAILED : SPATE_EXIT_OK;
}

/* ---- the expression functions (spate functions) ---- */

static const char functions_usage[] =
	"usage: spate functions [--json | --markdown | --man]\n"
	"\n"
	"Lists every function of the expression language with its\n"
	"signature, what it does and an example.  --json prints them as an\n"
	"array of {name, signature, doc, example}; --markdown and --man\n"
	"print the reference of README.md and doc/spate.1.\n"
	"\n"
	"examples:\n"
	"  spate functions\n"
	"  spate functions --json | jq -r '.[].name'\n";

static void functions_json(FILE *out, const struct sp_expr_fn_doc *fd,
			   size_t n)
{
	struct sp_buf b;
	const char *keys[] = {"name", "signature", "doc", "example"};

	sp_buf_init(&b);
	sp_buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		const char *v[] = {fd[i].name, fd[i].signature, fd[i].doc,
				   fd[i].example};
		sp_buf_append(&b, i ? ",{" : "{", i ? 2 : 1);
		for (size_t k = 0; k < 4; k++) {
			if (k)
				sp_buf_putc(&b, ',');
			sp_json_append_string(&b, keys[k], strlen(keys[k]));
			sp_buf_putc(&b, ':');
			sp_json_append_string(&b, v[k], strlen(v[k]));
		}
		sp_buf_putc(&b, '}');
	}
	sp_buf_append(&b, "]\n", 2);
	fwrite(b.data, 1, b.len, out);
	sp_buf_fini(&b);
}

static void functions_text(FILE *out, const struct sp_expr_fn_doc *fd,
			   size_t n, int style)
{
	if (style == 1)
		fputs("| Function | What it gives | Example |\n|---|---|---|\n",
		      out);
	for (size_t i = 0; i < n; i++) {
		if (style == 0) {
			fprintf(out, "%s\n    %s\n    e.g. %s\n",
				fd[i].signature, fd[i].doc, fd[i].example);
		} else if (style == 1) {
			fputs("| `", out);
			md_text(out, fd[i].signature);
			fputs("` | ", out);
			md_text(out, fd[i].doc);
			fputs(" | `", out);
			md_text(out, fd[i].example);
			fputs("` |\n", out);
		} else {
			fputs(".TP\n.B ", out);
			roff_text(out, fd[i].signature);
			fputc('\n', out);
			roff_text(out, fd[i].doc);
			fputs(", e.g.\n.BR ", out);
			roff_text(out, fd[i].example);
			fputc('\n', out);
		}
	}
}

int cli_functions(int argc, char **argv)
{
	bool json = false, md = false, roff = false;
	const struct cli_opt opts[] = {{"--json", NULL, &json, NULL},
				       {"--markdown", NULL, &md, NULL},
				       {"--man", NULL, &roff, NULL},
				       {NULL, NULL, NULL, NULL}};
	int npos;
	int rc = cli_parse_args(argc, argv, opts, NULL, 0, &npos,
				functions_usage);

	if (rc >= 0)
		return rc;
	if (json + md + roff > 1) {
		fputs("spate: functions: give one of --json, --markdown, "
		      "--man\n", stderr);
		return SPATE_EXIT_USAGE;
	}
	size_t n;
	const struct sp_expr_fn_doc *fd = sp_expr_functions(&n);
	if (json)
		functions_json(stdout, fd, n);
	else
		functions_text(stdout, fd, n, md ? 1 : roff ? 2 : 0);
	return fflush(stdout) ? SPATE_EXIT_FAILED : SPATE_EXIT_OK;
}
