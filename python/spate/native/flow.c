/*
 * spate._native module and its Flow type: a struct spate_flow edited by
 * stage id.  Python's spate.Flow (spate/flow.py) keeps the stage objects,
 * labels and configuration views; this side only forwards to the SDK and
 * turns its errors into exceptions.
 */
#include "native.h"

#include <errno.h>
#include <string.h>

static PyObject *error_class;

PyObject *sp_py_raise(int rc, const char *msg)
{
	PyObject *cls = error_class ? error_class : PyExc_RuntimeError;
	PyObject *e;

	if (!msg || !*msg)
		msg = strerror(rc < 0 ? -rc : rc);
	e = PyObject_CallFunction(cls, "si", msg, rc < 0 ? -rc : rc);
	if (e) {
		PyErr_SetObject(cls, e);
		Py_DECREF(e);
	}
	return NULL;
}

struct py_flow {
	PyObject_HEAD struct spate_flow *flow;
};

static struct spate_stage *stage_of(struct py_flow *f, const char *id)
{
	struct spate_stage *s = spate_flow_find_stage(f->flow, id);

	if (!s) {
		char msg[256];

		snprintf(msg, sizeof(msg), "flow has no stage '%s'", id);
		sp_py_raise(-ENOENT, msg);
	}
	return s;
}

static int flow_init(struct py_flow *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"name", "yaml", "path", NULL};
	const char *name = NULL, *yaml = NULL, *path = NULL;
	char err[8192] = "";
	int r = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|zzz", kwlist, &name, &yaml,
					 &path))
		return -1;
	spate_flow_destroy(self->flow);
	self->flow = NULL;
	if (path)
		r = spate_flow_load(path, &self->flow, err, sizeof(err));
	else if (yaml)
		r = spate_flow_load_string(yaml, &self->flow, err, sizeof(err));
	else if (!(self->flow = spate_flow_create(name ? name : "flow")))
		r = -ENOMEM;
	if (r) {
		sp_py_raise(r, err);
		return -1;
	}
	return 0;
}

static void flow_dealloc(struct py_flow *self)
{
	spate_flow_destroy(self->flow);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *flow_add_stage(struct py_flow *self, PyObject *args)
{
	const char *type, *id = NULL;
	struct spate_stage *s;

	if (!PyArg_ParseTuple(args, "s|z", &type, &id))
		return NULL;
	s = spate_flow_add_stage(self->flow, type, id);
	if (!s)
		return sp_py_raise(-errno, errno == EEXIST
					       ? "a stage with this id "
						 "exists already"
					       : "bad stage id or type");
	return PyUnicode_FromString(spate_stage_id(s));
}

static PyObject *flow_remove_stage(struct py_flow *self, PyObject *args)
{
	struct spate_stage *s;
	const char *id;

	if (!PyArg_ParseTuple(args, "s", &id) || !(s = stage_of(self, id)))
		return NULL;
	spate_flow_remove_stage(self->flow, s);
	Py_RETURN_NONE;
}

static PyObject *id_list(struct spate_stage **v, size_t n)
{
	PyObject *l = PyList_New((Py_ssize_t)n);

	for (size_t i = 0; l && i < n; i++) {
		PyObject *s = PyUnicode_FromString(spate_stage_id(v[i]));

		if (!s) {
			Py_CLEAR(l);
			break;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, s);
	}
	return l;
}

static PyObject *flow_stages(struct py_flow *self, PyObject *unused)
{
	size_t n = spate_flow_stages(self->flow, NULL, 0);
	struct spate_stage **v = PyMem_Calloc(n ? n : 1, sizeof(*v));
	PyObject *l;

	if (!v)
		return PyErr_NoMemory();
	spate_flow_stages(self->flow, v, n);
	l = PyList_New((Py_ssize_t)n);
	for (size_t i = 0; l && i < n; i++) {
		PyObject *t = Py_BuildValue("(ss)", spate_stage_id(v[i]),
					    spate_stage_type(v[i]));
		if (!t) {
			Py_CLEAR(l);
			break;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, t);
	}
	PyMem_Free(v);
	return l;
}

typedef size_t (*neighbours_fn)(const struct spate_stage *,
				struct spate_stage **, size_t);

static PyObject *neighbours(struct py_flow *self, PyObject *args,
			    neighbours_fn fn)
{
	struct spate_stage *s, **v;
	const char *id;
	PyObject *l;
	size_t n;

	if (!PyArg_ParseTuple(args, "s", &id) || !(s = stage_of(self, id)))
		return NULL;
	n = fn(s, NULL, 0);
	v = PyMem_Calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return PyErr_NoMemory();
	fn(s, v, n);
	l = id_list(v, n);
	PyMem_Free(v);
	return l;
}

static PyObject *flow_inputs(struct py_flow *self, PyObject *args)
{
	return neighbours(self, args, spate_stage_inputs);
}

static PyObject *flow_outputs(struct py_flow *self, PyObject *args)
{
	return neighbours(self, args, spate_stage_outputs);
}

static PyObject *flow_events(struct py_flow *self, PyObject *args)
{
	return neighbours(self, args, spate_stage_events);
}

/* connect(from, to, lane=None, event=False, disconnect=False) */
static PyObject *flow_link(struct py_flow *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"src",	  "dst",	"lane",
				 "event", "disconnect", NULL};
	const char *from, *to, *lane = NULL;
	int event = 0, disc = 0;
	struct spate_stage *a, *b, *r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|zpp", kwlist, &from, &to,
					 &lane, &event, &disc))
		return NULL;
	if (!(a = stage_of(self, from)) || !(b = stage_of(self, to)))
		return NULL;
	if (event)
		r = disc ? spate_stage_disconnect_event(a, b)
			 : spate_stage_connect_event(a, b);
	else if (disc)
		r = spate_stage_disconnect_output(a, b);
	else
		r = lane ? spate_stage_connect_lane(a, lane, b)
			 : spate_stage_connect_output(a, b);
	if (!r)
		return sp_py_raise(-errno, "cannot connect these stages");
	Py_RETURN_NONE;
}

static PyObject *flow_get_config(struct py_flow *self, PyObject *args)
{
	const char *id, *opt;
	struct spate_stage *s;
	char small[512], *buf = small;
	PyObject *res;
	int n;

	if (!PyArg_ParseTuple(args, "ss", &id, &opt) ||
	    !(s = stage_of(self, id)))
		return NULL;
	n = spate_stage_get_config(s, opt, small, sizeof(small));
	if (n == -ENOENT)
		Py_RETURN_NONE;
	if (n < 0)
		return sp_py_raise(n, NULL);
	if ((size_t)n >= sizeof(small)) {
		buf = PyMem_Malloc((size_t)n + 1);
		if (!buf)
			return PyErr_NoMemory();
		spate_stage_get_config(s, opt, buf, (size_t)n + 1);
	}
	res = PyUnicode_FromStringAndSize(buf, n);
	if (buf != small)
		PyMem_Free(buf);
	return res;
}

static PyObject *flow_set_config(struct py_flow *self, PyObject *args)
{
	const char *id, *opt, *value;
	struct spate_stage *s;
	char msg[512];
	int r;

	if (!PyArg_ParseTuple(args, "ssz", &id, &opt, &value) ||
	    !(s = stage_of(self, id)))
		return NULL;
	r = spate_stage_set_config(s, opt, value);
	if (r && *spate_flow_error(self->flow))
		return sp_py_raise(r, spate_flow_error(self->flow));
	if (r) {
		snprintf(msg, sizeof(msg),
			 "stage '%s': cannot set option '%s' to %s", id, opt,
			 value ? value : "nothing");
		return sp_py_raise(r, msg);
	}
	Py_RETURN_NONE;
}

static PyObject *flow_predicate(struct py_flow *self, PyObject *args)
{
	const char *id, *lane, *pred = NULL;
	struct spate_stage *s;
	char msg[512];
	int r;

	if (!PyArg_ParseTuple(args, "ss|z", &id, &lane, &pred) ||
	    !(s = stage_of(self, id)))
		return NULL;
	r = pred ? spate_stage_add_predicate(s, lane, pred)
		 : spate_stage_remove_predicate(s, lane);
	if (r) {
		snprintf(msg, sizeof(msg), "stage '%s': bad lane '%s'", id,
			 lane);
		return sp_py_raise(r, msg);
	}
	Py_RETURN_NONE;
}

static PyObject *flow_validate(struct py_flow *self, PyObject *unused)
{
	char err[16384] = "";
	int n = spate_flow_validate(self->flow, err, sizeof(err));

	if (n < 0)
		return sp_py_raise(n, err);
	return Py_BuildValue("(is)", n, err);
}

static PyObject *flow_to_yaml(struct py_flow *self, PyObject *unused)
{
	int n = spate_flow_to_yaml(self->flow, NULL, 0);
	PyObject *res;
	char *buf;

	if (n < 0)
		return sp_py_raise(n, NULL);
	buf = PyMem_Malloc((size_t)n + 1);
	if (!buf)
		return PyErr_NoMemory();
	spate_flow_to_yaml(self->flow, buf, (size_t)n + 1);
	res = PyUnicode_FromStringAndSize(buf, n);
	PyMem_Free(buf);
	return res;
}

static PyObject *flow_settings(struct py_flow *self, PyObject *args,
			       PyObject *kw)
{
	static char *kwlist[] = {"workers", "error_stage", "catalog", NULL};
	PyObject *err_stage = NULL, *catalog = NULL;
	unsigned workers = 0;
	int r = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|IOO", kwlist, &workers,
					 &err_stage, &catalog))
		return NULL;
	if (workers)
		r = spate_flow_set_workers(self->flow, workers);
	if (!r && err_stage) {
		struct spate_stage *s = NULL;

		if (err_stage != Py_None &&
		    !(s = stage_of(self, PyUnicode_AsUTF8(err_stage))))
			return NULL;
		r = spate_flow_set_error_stage(self->flow, s);
	}
	if (!r && catalog)
		r = spate_flow_set_catalog(
		    self->flow,
		    catalog == Py_None ? NULL : PyUnicode_AsUTF8(catalog));
	if (r)
		return sp_py_raise(r, "bad flow setting");
	Py_RETURN_NONE;
}

static PyObject *flow_start(struct py_flow *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"sinks", "workers", "force", NULL};
	PyObject *sinks = NULL;
	unsigned workers = 0;
	int force = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O!Ip", kwlist,
					 &PyDict_Type, &sinks, &workers,
					 &force))
		return NULL;
	return sp_py_run_start((PyObject *)self, self->flow, sinks, workers,
			       force);
}

static PyObject *flow_name(struct py_flow *self, void *unused)
{
	const char *n = spate_flow_name(self->flow);

	if (!n)
		Py_RETURN_NONE;
	return PyUnicode_FromString(n);
}

static PyMethodDef flow_methods[] = {
    {"add_stage", (PyCFunction)flow_add_stage, METH_VARARGS, NULL},
    {"remove_stage", (PyCFunction)flow_remove_stage, METH_VARARGS, NULL},
    {"stages", (PyCFunction)flow_stages, METH_NOARGS, NULL},
    {"inputs", (PyCFunction)flow_inputs, METH_VARARGS, NULL},
    {"outputs", (PyCFunction)flow_outputs, METH_VARARGS, NULL},
    {"events", (PyCFunction)flow_events, METH_VARARGS, NULL},
    {"link", (PyCFunction)(void (*)(void))flow_link,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"get_config", (PyCFunction)flow_get_config, METH_VARARGS, NULL},
    {"set_config", (PyCFunction)flow_set_config, METH_VARARGS, NULL},
    {"predicate", (PyCFunction)flow_predicate, METH_VARARGS, NULL},
    {"validate", (PyCFunction)flow_validate, METH_NOARGS, NULL},
    {"to_yaml", (PyCFunction)flow_to_yaml, METH_NOARGS, NULL},
    {"settings", (PyCFunction)(void (*)(void))flow_settings,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"start", (PyCFunction)(void (*)(void))flow_start,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {NULL},
};

static PyGetSetDef flow_getset[] = {
    {"name", (getter)flow_name, NULL, NULL, NULL},
    {NULL},
};

PyTypeObject sp_py_flow_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spate._native.Flow",
    .tp_basicsize = sizeof(struct py_flow),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)flow_init,
    .tp_dealloc = (destructor)flow_dealloc,
    .tp_methods = flow_methods,
    .tp_getset = flow_getset,
};

/* ---- module ------------------------------------------------------------- */

static PyObject *set_error_class(PyObject *mod, PyObject *cls)
{
	Py_XDECREF(error_class);
	Py_INCREF(cls);
	error_class = cls;
	Py_RETURN_NONE;
}

static PyObject *option_dict(const struct spate_option_info *o)
{
	return Py_BuildValue("{s:s,s:s,s:z,s:O,s:z}", "name", o->name, "type",
			     o->type, "default", o->def, "required",
			     o->required ? Py_True : Py_False, "help", o->help);
}

/* one kind of a stage type with its options */
static PyObject *type_dict(const struct spate_stage_type_info *ti)
{
	struct spate_option_info oi;
	PyObject *opts;

	opts = PyList_New(0);
	for (uint32_t i = 0; opts && i < ti->noptions; i++) {
		PyObject *o;

		spate_stage_kind_option(ti->name, ti->kind, i, &oi);
		o = option_dict(&oi);
		if (!o || PyList_Append(opts, o))
			Py_CLEAR(opts);
		Py_XDECREF(o);
	}
	if (!opts)
		return NULL;
	return Py_BuildValue("{s:s,s:s,s:s,s:N}", "name", ti->name, "kind",
			     ti->kind, "help", ti->help, "options", opts);
}

/* every kind of every stage type (postgres as origin and destination) */
static PyObject *stage_types(PyObject *mod, PyObject *unused)
{
	size_t n = spate_stage_kinds(NULL, 0);
	struct spate_stage_type_info *v = PyMem_Calloc(n ? n : 1, sizeof(*v));
	PyObject *l;

	if (!v)
		return PyErr_NoMemory();
	n = spate_stage_kinds(v, n);
	l = PyList_New(0);
	for (size_t i = 0; l && i < n; i++) {
		PyObject *d = type_dict(&v[i]);

		if (!d || PyList_Append(l, d))
			Py_CLEAR(l);
		Py_XDECREF(d);
	}
	PyMem_Free(v);
	return l;
}

static PyObject *default_catalog(PyObject *mod, PyObject *unused)
{
	char path[4096];
	int r = spate_catalog_default_path(path, sizeof(path));

	if (r)
		return sp_py_raise(r, "no default catalog path: set "
				      "SPATE_HOME or HOME");
	return PyUnicode_FromString(path);
}

static PyMethodDef module_methods[] = {
    {"set_error_class", set_error_class, METH_O, NULL},
    {"stage_types", stage_types, METH_NOARGS, NULL},
    {"default_catalog", default_catalog, METH_NOARGS, NULL},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "spate._native",
    .m_doc = "the C SDK of spate, for the spate package",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__native(void)
{
	PyTypeObject *types[] = {&sp_py_flow_type, &sp_py_run_type,
				 &sp_py_catalog_type};
	const char *names[] = {"Flow", "Run", "Catalog"};
	PyObject *m;

	for (size_t i = 0; i < 3; i++)
		if (PyType_Ready(types[i]) < 0)
			return NULL;
	m = PyModule_Create(&module);
	if (!m)
		return NULL;
	for (size_t i = 0; i < 3; i++) {
		Py_INCREF(types[i]);
		if (PyModule_AddObject(m, names[i], (PyObject *)types[i])) {
			Py_DECREF(types[i]);
			Py_DECREF(m);
			return NULL;
		}
	}
	return m;
}
