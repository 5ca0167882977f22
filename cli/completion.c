/*
 * `spate completion bash|zsh|fish`: shell completion made from the tables
 * that spate parses its command line with (the command table of main.c,
 * the `spate stage` commands, every command's option table, the global
 * options and the stage registry), so that it cannot drift from them.
 *
 * Each command is called once with cli_describing set: its call of
 * cli_parse_args hands over its option table and returns at once.  The
 * result is a list of nodes ("spate", "spate run", "spate stage
 * create-s3"), each with its subcommands, its options, the options among
 * them that take a value, and what its positional arguments are; the
 * three generators write that list in their shell's own terms.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "stages/registry.h"

#define MAX_NODES 32
#define WORDS 1536

struct node {
	char name[48];	   /* "spate", "spate run", "spate stage list" */
	char subs[256];	   /* its commands, space-separated */
	char opts[WORDS];  /* every option */
	char vopts[WORDS]; /* the options that take a value */
	enum cli_arg_kind kind;
	const struct cli_command *cmd; /* NULL for "spate" */
};

struct collect {
	struct cli_describe d; /* first: the callback gets &d */
	struct node *node;
};

static void add_word(char *list, const char *w)
{
	size_t n = strlen(list);

	if (n + strlen(w) + 2 < WORDS)
		snprintf(list + n, WORDS - n, "%s%s", n ? " " : "", w);
}

static void add_opts(struct cli_describe *d, const struct cli_opt *opts)
{
	struct node *n = ((struct collect *)d)->node;

	for (; opts->name; opts++) {
		add_word(n->opts, opts->name);
		if (!opts->flag)
			add_word(n->vopts, opts->name);
	}
}

/* Calls c (with describing set) for its options, plus the global ones. */
static void describe(struct node *n, const struct cli_command *c)
{
	struct collect col = {{add_opts}, n};
	char *argv[] = {(char *)c->name, NULL};

	cli_describing = &col.d;
	if (c->sub_fn)
		c->sub_fn(1, argv, NULL);
	else
		c->fn(1, argv);
	cli_describing = NULL;
	/* after a command: the global options with a value, and --help */
	for (const struct cli_global *g = cli_globals; g->name; g++) {
		if (!g->value && strcmp(g->name, "--help"))
			continue;
		add_word(n->opts, g->name);
		if (g->value)
			add_word(n->vopts, g->name);
	}
	n->kind = c->kind;
	n->cmd = c;
	for (const struct cli_command *s = c->subs; s && s->name; s++)
		add_word(n->subs, s->name);
}

/* Fills nodes; returns their count. */
static int collect(struct node *nodes)
{
	int k = 1;

	memset(nodes, 0, sizeof(*nodes) * MAX_NODES);
	strcpy(nodes[0].name, "spate");
	for (const struct cli_global *g = cli_globals; g->name; g++) {
		add_word(nodes[0].opts, g->name);
		if (g->value)
			add_word(nodes[0].vopts, g->name);
	}
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		add_word(nodes[0].subs, c->name);
		snprintf(nodes[k].name, sizeof(nodes[k].name), "spate %s",
			 c->name);
		describe(&nodes[k++], c);
		for (const struct cli_command *s = c->subs; s && s->name; s++) {
			snprintf(nodes[k].name, sizeof(nodes[k].name),
				 "spate %.16s %.20s", c->name, s->name);
			describe(&nodes[k++], s);
		}
	}
	return k;
}

static const char *const kind_names[] = {
	[CLI_ARG_NONE] = "", [CLI_ARG_FILE] = "file", [CLI_ARG_TYPE] = "type",
	[CLI_ARG_COMMAND] = "command", [CLI_ARG_SHELL] = "shell"};

static const char shells[] = "bash zsh fish";

/* Every built-in stage type, space-separated. */
static void stage_types(char *out)
{
	const struct sp_stage_desc *all[256];
	uint32_t n = sp_registry_list(all, 256);

	out[0] = '\0';
	for (uint32_t i = 0; i < n; i++)
		add_word(out, all[i]->name);
}

/* The data of bash and zsh: associative arrays keyed by node. */
static void put_arrays(FILE *out, const struct node *nodes, int n, bool zsh)
{
	static const char *const arrays[] = {"subs", "opts", "vopts", "args"};
	char types[WORDS];

	for (int a = 0; a < 4; a++) {
		fprintf(out, "%s _spate_%s=(\n", zsh ? "typeset -gA" :
						  "declare -gA", arrays[a]);
		for (int i = 0; i < n; i++) {
			const struct node *x = &nodes[i];
			const char *v = a == 0	 ? x->subs
					: a == 1 ? x->opts
					: a == 2 ? x->vopts
						 : kind_names[x->kind];
			if (*v)
				fprintf(out, zsh ? "\t\"%s\" \"%s\"\n"
						 : "\t[\"%s\"]=\"%s\"\n",
					x->name, v);
		}
		fputs(")\n", out);
	}
	fprintf(out, "%s _spate_choices=(\n", zsh ? "typeset -gA" :
						   "declare -gA");
	for (const struct cli_global *g = cli_globals; g->name; g++)
		if (g->choices)
			fprintf(out, zsh ? "\t%s \"%s\"\n" : "\t[%s]=\"%s\"\n",
				g->name, g->choices);
	fputs(")\n", out);
	stage_types(types);
	fprintf(out, "_spate_types=\"%s\"\n_spate_shells=\"%s\"\n\n", types,
		shells);
}

static const char bash_head[] =
	"# bash completion for spate, made by `spate completion bash` from\n"
	"# its command and option tables.  Load it with\n"
	"#   source <(spate completion bash)\n"
	"# or install it as /usr/share/bash-completion/completions/spate.\n";

static const char bash_fn[] =
	"_spate() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=\n"
	"\tlocal node=spate w i value=0 opt=\n"
	"\t((COMP_CWORD > 1)) && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	"\tCOMPREPLY=()\n"
	"\t# the command words so far; bash splits --opt=value at '='\n"
	"\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\t[[ $w == = ]] && continue\n"
	"\t\tif ((value)); then value=0; continue; fi\n"
	"\t\tcase $w in\n"
	"\t\t-*) [[ \" ${_spate_vopts[$node]} \" == *\" $w \"* ]] && value=1 ;;\n"
	"\t\t*) [[ \" ${_spate_subs[$node]} \" == *\" $w \"* ]] &&\n"
	"\t\t\tnode=\"$node $w\" ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tif [[ $cur == = ]]; then\n"
	"\t\topt=$prev cur=\n"
	"\telif [[ $prev == = ]] && ((COMP_CWORD > 2)); then\n"
	"\t\topt=${COMP_WORDS[COMP_CWORD-2]}\n"
	"\telse\n"
	"\t\topt=$prev\n"
	"\tfi\n"
	"\tif [[ -n $opt && \" ${_spate_vopts[$node]} \" == *\" $opt \"* ]]; "
	"then\n"
	"\t\tif [[ -n ${_spate_choices[$opt]} ]]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"${_spate_choices[$opt]}\" -- "
	"\"$cur\"))\n"
	"\t\telse\n"
	"\t\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\t\tfi\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\tif [[ $cur == -* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"${_spate_opts[$node]}\" -- \"$cur\"))\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\tlocal words=${_spate_subs[$node]}\n"
	"\tcase ${_spate_args[$node]} in\n"
	"\tfile)\n"
	"\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\tCOMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
	"\ttype) words+=\" $_spate_types\" ;;\n"
	"\tcommand) words+=\" ${_spate_subs[spate]}\" ;;\n"
	"\tshell) words+=\" $_spate_shells\" ;;\n"
	"\tesac\n"
	"\tCOMPREPLY+=($(compgen -W \"$words\" -- \"$cur\"))\n"
	"\treturn 0\n"
	"}\n"
	"complete -F _spate spate\n";

static const char zsh_head[] =
	"#compdef spate\n"
	"# zsh completion for spate, made by `spate completion zsh` from its\n"
	"# command and option tables.  Load it with\n"
	"#   source <(spate completion zsh)\n"
	"# (after compinit) or install it as _spate in a folder of $fpath.\n";

static const char zsh_fn[] =
	"_spate() {\n"
	"\tlocal node=spate w i value=0 opt= cur=${words[CURRENT]}\n"
	"\tlocal -a cands\n"
	"\tfor ((i = 2; i < CURRENT; i++)); do\n"
	"\t\tw=${words[i]}\n"
	"\t\tif ((value)); then value=0; continue; fi\n"
	"\t\tcase $w in\n"
	"\t\t--*=*) ;;\n"
	"\t\t-*) [[ \" ${_spate_vopts[$node]} \" == *\" $w \"* ]] && value=1 ;;\n"
	"\t\t*) [[ \" ${_spate_subs[$node]} \" == *\" $w \"* ]] &&\n"
	"\t\t\tnode=\"$node $w\" ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tif [[ $cur == --*=* ]]; then\n"
	"\t\topt=${cur%%=*}\n"
	"\t\tcompset -P '*='\n"
	"\telif ((CURRENT > 2)); then\n"
	"\t\topt=${words[CURRENT-1]}\n"
	"\tfi\n"
	"\tif [[ -n $opt && \" ${_spate_vopts[$node]} \" == *\" $opt \"* ]]; "
	"then\n"
	"\t\tif [[ -n ${_spate_choices[$opt]} ]]; then\n"
	"\t\t\tcompadd -- ${=_spate_choices[$opt]}\n"
	"\t\telse\n"
	"\t\t\t_files\n"
	"\t\tfi\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tif [[ $cur == -* ]]; then\n"
	"\t\tcompadd -- ${=_spate_opts[$node]}\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tcands=(${=_spate_subs[$node]})\n"
	"\tcase ${_spate_args[$node]} in\n"
	"\tfile) _files ;;\n"
	"\ttype) cands+=(${=_spate_types}) ;;\n"
	"\tcommand) cands+=(${=_spate_subs[spate]}) ;;\n"
	"\tshell) cands+=(${=_spate_shells}) ;;\n"
	"\tesac\n"
	"\t((${#cands})) && compadd -- $cands\n"
	"\treturn 0\n"
	"}\n"
	"if [[ $funcstack[1] == _spate ]]; then\n"
	"\t_spate \"$@\"\n"
	"else\n"
	"\tcompdef _spate spate\n"
	"fi\n";

/* fish: a function that finds the node from the words typed so far, and
 * one `complete` line per subcommand, option and argument kind. */
static void put_fish_node_fn(FILE *out, const struct node *nodes, int n)
{
	fputs("function __spate_node\n"
	      "\tset -l node spate\n"
	      "\tset -l value 0\n"
	      "\tfor w in (commandline -opc)[2..-1]\n"
	      "\t\tif test $value = 1\n"
	      "\t\t\tset value 0\n"
	      "\t\t\tcontinue\n"
	      "\t\tend\n"
	      "\t\tswitch \"$node|$w\"\n\t\tcase",
	      out);
	for (int i = 0; i < n; i++) {
		char subs[256], *save = NULL;
		snprintf(subs, sizeof(subs), "%s", nodes[i].subs);
		for (char *s = strtok_r(subs, " ", &save); s;
		     s = strtok_r(NULL, " ", &save))
			fprintf(out, " '%s|%s'", nodes[i].name, s);
	}
	fputs("\n\t\t\tset node \"$node $w\"\n\t\tcase", out);
	for (int i = 0; i < n; i++) {
		char vopts[WORDS], *save = NULL;
		snprintf(vopts, sizeof(vopts), "%s", nodes[i].vopts);
		for (char *s = strtok_r(vopts, " ", &save); s;
		     s = strtok_r(NULL, " ", &save))
			fprintf(out, " '%s|%s'", nodes[i].name, s);
	}
	fputs("\n\t\t\tset value 1\n\t\tend\n\tend\n\techo $node\nend\n\n",
	      out);
}

static void put_fish_node(FILE *out, const struct node *x)
{
	char opts[WORDS], *save = NULL, types[WORDS];
	const char *cond = "complete -c spate -n 'test (__spate_node) =";

	for (const struct cli_command *s = x->cmd ? x->cmd->subs : cli_commands;
	     s && s->name; s++)
		fprintf(out, "%s \"%s\"' -a %s -d '%s'\n", cond, x->name,
			s->name, s->help);
	snprintf(opts, sizeof(opts), "%s", x->opts);
	for (char *o = strtok_r(opts, " ", &save); o;
	     o = strtok_r(NULL, " ", &save)) {
		const char *choices = NULL;
		for (const struct cli_global *g = cli_globals; g->name; g++)
			if (!strcmp(g->name, o))
				choices = g->choices;
		char v[WORDS + 4];
		snprintf(v, sizeof(v), " %s ", x->vopts);
		char w[64];
		snprintf(w, sizeof(w), " %s ", o);
		bool value = strstr(v, w) != NULL;
		fprintf(out, "%s \"%s\"' -l %s%s%s%s%s\n", cond, x->name, o + 2,
			value ? " -r" : "", choices ? " -xa '" : "",
			choices ? choices : "", choices ? "'" : value ? " -F" : "");
	}
	if (x->kind == CLI_ARG_FILE)
		fprintf(out, "%s \"%s\"' -F\n", cond, x->name);
	else if (x->kind == CLI_ARG_TYPE)
		stage_types(types);
	if (x->kind == CLI_ARG_TYPE || x->kind == CLI_ARG_SHELL)
		fprintf(out, "%s \"%s\"' -a '%s'\n", cond, x->name,
			x->kind == CLI_ARG_TYPE ? types : shells);
	if (x->kind == CLI_ARG_COMMAND)
		for (const struct cli_command *c = cli_commands; c->name; c++)
			fprintf(out, "%s \"%s\"' -a %s -d '%s'\n", cond,
				x->name, c->name, c->help);
}

static const char completion_usage[] =
	"usage: spate completion bash|zsh|fish\n"
	"\n"
	"Prints the shell completion script of spate for the shell: its\n"
	"commands, options, stage types and flow files.\n"
	"\n"
	"examples:\n"
	"  source <(spate completion bash)\n"
	"  spate completion bash > /usr/share/bash-completion/completions/spate\n"
	"  spate completion zsh > \"${fpath[1]}/_spate\"\n"
	"  spate completion fish > ~/.config/fish/completions/spate.fish\n";

int cli_completion(int argc, char **argv)
{
	const struct cli_opt opts[] = {{NULL, NULL, NULL, NULL}};
	const char *pos[1];
	int npos;
	int rc = cli_parse_args(argc, argv, opts, pos, 1, &npos,
				completion_usage);

	if (rc >= 0)
		return rc;
	const char *sh = npos ? pos[0] : "";
	if (strcmp(sh, "bash") && strcmp(sh, "zsh") && strcmp(sh, "fish")) {
		fprintf(stderr, "spate: completion: which shell? bash, zsh or "
				"fish, not '%s'\n\n%s",
			sh, completion_usage);
		return SPATE_EXIT_USAGE;
	}
	static struct node nodes[MAX_NODES];
	int n = collect(nodes);
	if (!strcmp(sh, "fish")) {
		fputs("# fish completion for spate, made by `spate completion "
		      "fish` from its\n# command and option tables.  Install "
		      "it as\n# ~/.config/fish/completions/spate.fish.\n"
		      "complete -c spate -f\n",
		      stdout);
		put_fish_node_fn(stdout, nodes, n);
		for (int i = 0; i < n; i++)
			put_fish_node(stdout, &nodes[i]);
		return SPATE_EXIT_OK;
	}
	bool zsh = !strcmp(sh, "zsh");
	fputs(zsh ? zsh_head : bash_head, stdout);
	put_arrays(stdout, nodes, n, zsh);
	fputs(zsh ? zsh_fn : bash_fn, stdout);
	return SPATE_EXIT_OK;
}
