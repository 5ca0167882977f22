/*
 * What an option table tells people: type names, the noun of a bound,
 * and the help text `spate stages TYPE` and the reference print.
 */
#include "config/config_internal.h"

const char *sp_opt_bound_noun(const struct sp_option *o)
{
	return o->type == SP_OPT_STRING_LIST || o->type == SP_OPT_MAP ||
		       o->type == SP_OPT_OBJECT_LIST ||
		       o->type == SP_OPT_PATH_LIST ||
		       o->type == SP_OPT_PATH_MAP
		   ? "items"
		   : "range";
}

const char *sp_opt_type_name(enum sp_opt_type t)
{
	switch (t) {
	case SP_OPT_STRING:
		return "string";
	case SP_OPT_INT:
		return "int";
	case SP_OPT_DOUBLE:
		return "double";
	case SP_OPT_BOOL:
		return "bool";
	case SP_OPT_ENUM:
		return "enum";
	case SP_OPT_CHAR:
		return "char";
	case SP_OPT_SIZE:
		return "size";
	case SP_OPT_STRING_LIST:
		return "string list";
	case SP_OPT_MAP:
		return "map";
	case SP_OPT_OBJECT_LIST:
		return "object list";
	case SP_OPT_EXPR:
		return "expression";
	case SP_OPT_PATH_LIST:
		return "path list";
	case SP_OPT_PATH_MAP:
		return "path map";
	}
	return "?";
}

/* A bound number as text: integral values without a fraction. */
void cfg_fmt_num(char *buf, size_t len, double v)
{
	if (v == floor(v) && fabs(v) < 9e15)
		snprintf(buf, len, "%lld", (long long)v);
	else
		snprintf(buf, len, "%g", v);
}

/* The choices of an enum option, comma-separated. */
void cfg_enum_choices(const char *const *choices, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; choices && choices[i] && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? ", " : "", choices[i]);
}

static void help_table(const struct sp_option *table, struct sp_buf *out,
		       int indent)
{
	for (const struct sp_option *o = table; o && o->name; o++) {
		cfg_buf_printf(out, "%*s%s: %s", indent, "", o->name,
			       sp_opt_type_name(o->type));
		if (o->type == SP_OPT_ENUM && o->choices) {
			char list[512];

			cfg_enum_choices(o->choices, list, sizeof(list));
			cfg_buf_printf(out, ", one of: %s", list);
		}
		if (o->bounded) {
			char lo[32], hi[32];

			cfg_fmt_num(lo, sizeof(lo), o->min);
			cfg_fmt_num(hi, sizeof(hi), o->max);
			cfg_buf_printf(out, ", %s %s..%s", sp_opt_bound_noun(o),
				       lo, hi);
		}
		if (o->required)
			cfg_buf_printf(out, ", required");
		else if (o->def)
			cfg_buf_printf(out, ", default: %s",
				       o->def[0] ? o->def : "\"\"");
		cfg_buf_printf(out, "\n");
		if (o->help)
			cfg_buf_printf(out, "%*s%s\n", indent + 4, "", o->help);
		if (o->type == SP_OPT_OBJECT_LIST && o->items) {
			cfg_buf_printf(out, "%*seach item:\n", indent + 4, "");
			help_table(o->items, out, indent + 6);
		}
	}
}

void sp_options_help(const struct sp_option *table, struct sp_buf *out)
{
	if (!table || !table->name) {
		cfg_buf_printf(out, "  (no options)\n");
		return;
	}
	help_table(table, out, 2);
}
