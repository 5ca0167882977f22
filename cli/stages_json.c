/*
 * `spate stages --json`: every stage type with its kind, help and options
 * (name, type, default, required, bounds, choices, help; the items of a
 * list of maps nested), from the same option tables that validate flows,
 * for editors and scripts that write flows.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "record/json.h"
#include "stages/registry.h"

static void str(struct sp_buf *b, const char *s)
{
	if (s)
		sp_json_append_string(b, s, strlen(s));
	else
		sp_buf_append(b, "null", 4);
}

static void key(struct sp_buf *b, const char *k)
{
	sp_buf_putc(b, ',');
	str(b, k);
	sp_buf_putc(b, ':');
}

static void number(struct sp_buf *b, double v)
{
	char num[64];

	snprintf(num, sizeof(num), "%.17g", v);
	sp_buf_append(b, num, strlen(num));
}

static void options(struct sp_buf *b, const struct sp_option *o);

static void option(struct sp_buf *b, const struct sp_option *o)
{
	sp_buf_append(b, "{\"name\":", 8);
	str(b, o->name);
	key(b, "type");
	str(b, sp_opt_type_name(o->type));
	key(b, "default");
	str(b, o->def);
	key(b, "required");
	sp_buf_append(b, o->required ? "true" : "false", o->required ? 4 : 5);
	key(b, "min");
	if (o->bounded)
		number(b, o->min);
	else
		sp_buf_append(b, "null", 4);
	key(b, "max");
	if (o->bounded)
		number(b, o->max);
	else
		sp_buf_append(b, "null", 4);
	if (o->bounded) {
		key(b, "bounds");
		str(b, sp_opt_bound_noun(o));
	}
	if (o->choices) {
		key(b, "choices");
		sp_buf_putc(b, '[');
		for (const char *const *c = o->choices; *c; c++) {
			if (c != o->choices)
				sp_buf_putc(b, ',');
			str(b, *c);
		}
		sp_buf_putc(b, ']');
	}
	if (o->items) {
		key(b, "items");
		options(b, o->items);
	}
	key(b, "help");
	str(b, o->help);
	sp_buf_putc(b, '}');
}

static void options(struct sp_buf *b, const struct sp_option *o)
{
	sp_buf_putc(b, '[');
	for (const struct sp_option *p = o; p && p->name; p++) {
		if (p != o)
			sp_buf_putc(b, ',');
		option(b, p);
	}
	sp_buf_putc(b, ']');
}

/* on_record_error: every stage has it, outside its table */
static const char *const on_error_choices[] = {"discard", "to_error", "stop",
					       NULL};
static const struct sp_option on_error_opt = {
    .name = "on_record_error",
    .type = SP_OPT_ENUM,
    .choices = on_error_choices,
    .help = "what to do with a record this stage cannot process (default "
	    "to_error when the flow has an error_stage, else discard)",
};

int cli_stages_json(FILE *out)
{
	const struct sp_stage_desc *all[256];
	uint32_t n = sp_registry_list(all, 256);
	struct sp_buf b;

	sp_buf_init(&b);
	sp_buf_putc(&b, '[');
	for (uint32_t i = 0; i < n; i++) {
		const struct sp_stage_desc *d = all[i];
		sp_buf_append(&b,
			      i ? ",\n{\"name\":" : "{\"name\":", i ? 10 : 8);
		str(&b, d->name);
		key(&b, "kind");
		str(&b, sp_stage_kind_name(d->kind));
		key(&b, "help");
		str(&b, d->help);
		key(&b, "options");
		options(&b, d->options);
		b.len--; /* the ']' */
		if (d->options && d->options->name)
			sp_buf_putc(&b, ',');
		option(&b, &on_error_opt);
		sp_buf_append(&b, "]}", 2);
	}
	sp_buf_append(&b, "]\n", 2);
	fwrite(b.data, 1, b.len, out);
	sp_buf_fini(&b);
	return SPATE_EXIT_OK;
}
