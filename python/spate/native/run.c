/*
 * spate._native.Run: a started run (spate_flow_start) waited for, stopped
 * and read without the GIL, and the Python stages of the run as sinks
 * (spate_sink_register).  A sink's write callback runs on the sink stage's
 * own thread: it takes the GIL once per batch, turns each record into a
 * dict and calls the stage's stage_record; an exception there makes that
 * record a record error with the exception's text as the reason.
 */
#include "native.h"

#include <errno.h>
#include <string.h>

struct py_sink {
	PyObject *stage;      /* the Python stage object */
	PyObject *loads;      /* json.loads, for objects and arrays */
	PyTypeObject *record; /* spate.Record, the dict handed over */
	PyObject *noargs;     /* (), for its tp_new */
	PyObject **keys;      /* field names by name_id, made once */
	uint32_t nkeys;
};

static PyObject *key_for(struct py_sink *s, const struct spate_field *f)
{
	if (f->name_id >= s->nkeys) {
		uint32_t n = f->name_id * 2 + 16;
		PyObject **k = PyMem_Realloc(s->keys, n * sizeof(*k));

		if (!k)
			return PyErr_NoMemory();
		memset(k + s->nkeys, 0, (n - s->nkeys) * sizeof(*k));
		s->keys = k;
		s->nkeys = n;
	}
	if (!s->keys[f->name_id]) {
		s->keys[f->name_id] = PyUnicode_DecodeUTF8(
		    f->name, (Py_ssize_t)f->name_len, "replace");
		if (s->keys[f->name_id])
			PyUnicode_InternInPlace(&s->keys[f->name_id]);
	}
	return s->keys[f->name_id];
}

static PyObject *field_value(struct py_sink *s, const struct spate_field *f)
{
	PyObject *t, *v;

	switch (f->type) {
	case SPATE_VALUE_BOOL:
		return PyBool_FromLong(f->b);
	case SPATE_VALUE_INT:
		return PyLong_FromLongLong(f->i);
	case SPATE_VALUE_DOUBLE:
		return PyFloat_FromDouble(f->d);
	case SPATE_VALUE_STRING:
		return PyUnicode_DecodeUTF8(f->text, (Py_ssize_t)f->text_len,
					    "replace");
	case SPATE_VALUE_OBJECT:
	case SPATE_VALUE_ARRAY:
		t = PyUnicode_DecodeUTF8(f->text, (Py_ssize_t)f->text_len,
					 "replace");
		if (!t)
			return NULL;
		v = PyObject_CallOneArg(s->loads, t);
		Py_DECREF(t);
		return v;
	default:
		Py_RETURN_NONE;
	}
}

static PyObject *record_dict(struct py_sink *s, struct spate_records *recs,
			     uint32_t i)
{
	/* tp_new alone: a dict of the subclass, without the cost of a type
	 * call and an __init__ for every record */
	PyObject *d = s->record->tp_new(s->record, s->noargs, NULL), *k, *v;
	struct spate_field f;
	uint32_t pos = 0;
	int r;

	while (d && (r = spate_records_next_field(recs, i, &pos, &f)) > 0) {
		k = key_for(s, &f);
		v = k ? field_value(s, &f) : NULL;
		if (!v || PyDict_SetItem(d, k, v))
			Py_CLEAR(d);
		Py_XDECREF(v);
	}
	if (d && r < 0) {
		Py_CLEAR(d);
		PyErr_NoMemory();
	}
	return d;
}

/* The pending exception as "Type: text" into buf; clears it. */
static void exception_text(char *buf, size_t len)
{
	PyObject *type, *value, *tb, *str = NULL;
	const char *name = "exception", *text = NULL;

	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (type)
		name = ((PyTypeObject *)type)->tp_name;
	if (value && (str = PyObject_Str(value)))
		text = PyUnicode_AsUTF8(str);
	PyErr_Clear();
	if (text && *text)
		snprintf(buf, len, "%s: %s", name, text);
	else
		snprintf(buf, len, "%s", name);
	Py_XDECREF(str);
	Py_XDECREF(type);
	Py_XDECREF(value);
	Py_XDECREF(tb);
}

static int sink_records(struct py_sink *s, PyObject *meth,
			struct spate_records *recs, char *err, size_t errlen)
{
	uint32_t n = spate_records_count(recs);
	char why[512];

	for (uint32_t i = 0; i < n; i++) {
		PyObject *d = record_dict(s, recs, i), *res;

		if (!d) {
			exception_text(err, errlen);
			return -EIO;
		}
		res = PyObject_CallOneArg(meth, d);
		Py_DECREF(d);
		if (res) {
			Py_DECREF(res);
			continue;
		}
		exception_text(why, sizeof(why));
		if (spate_records_fail(recs, i, why))
			return -ENOMEM;
	}
	return 0;
}

static int sink_write(void *user, struct spate_records *recs, char *err,
		      size_t errlen)
{
	struct py_sink *s = user;
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *meth = PyObject_GetAttrString(s->stage, "stage_record");
	int rc;

	if (meth) {
		rc = sink_records(s, meth, recs, err, errlen);
		Py_DECREF(meth);
	} else {
		exception_text(err, errlen);
		rc = -EINVAL;
	}
	PyGILState_Release(g);
	return rc;
}

static void sink_release(void *user)
{
	struct py_sink *s = user;
	PyGILState_STATE g = PyGILState_Ensure();

	for (uint32_t i = 0; i < s->nkeys; i++)
		Py_XDECREF(s->keys[i]);
	PyMem_Free(s->keys);
	Py_XDECREF(s->loads);
	Py_XDECREF((PyObject *)s->record);
	Py_XDECREF(s->noargs);
	Py_XDECREF(s->stage);
	PyMem_Free(s);
	PyGILState_Release(g);
}

static int sink_add(PyObject *name, PyObject *stage, PyObject *loads,
		    PyObject *record)
{
	struct spate_sink sk = {.write = sink_write, .release = sink_release};
	struct py_sink *s = PyMem_Calloc(1, sizeof(*s));
	int r;

	if (!s) {
		PyErr_NoMemory();
		return -1;
	}
	Py_INCREF(stage);
	Py_INCREF(loads);
	Py_INCREF(record);
	s->stage = stage;
	s->loads = loads;
	s->record = (PyTypeObject *)record;
	sk.user = s;
	if (!(s->noargs = PyTuple_New(0))) {
		sink_release(s);
		return -1;
	}
	r = spate_sink_register(PyUnicode_AsUTF8(name), &sk);
	if (r) {
		sink_release(s);
		sp_py_raise(r, "cannot register the Python stage as a sink");
		return -1;
	}
	return 0;
}

/* ---- the run --------------------------------------------------------------
 */

struct py_run {
	PyObject_HEAD struct spate_run *run;
	PyObject *names; /* sink registrations this run owns */
};

static void run_close(struct py_run *self)
{
	struct spate_run *run = self->run;
	Py_ssize_t n;

	self->run = NULL;
	if (run) {
		Py_BEGIN_ALLOW_THREADS spate_run_destroy(run);
		Py_END_ALLOW_THREADS
	}
	n = self->names ? PyList_GET_SIZE(self->names) : 0;
	for (Py_ssize_t i = 0; i < n; i++)
		spate_sink_unregister(
		    PyUnicode_AsUTF8(PyList_GET_ITEM(self->names, i)));
	Py_CLEAR(self->names);
}

static int register_sinks(struct py_run *run, PyObject *sinks)
{
	PyObject *json, *loads, *mod, *record = NULL, *name, *stage;
	Py_ssize_t pos = 0;
	int r = 0;

	if (!sinks || PyDict_GET_SIZE(sinks) == 0)
		return 0;
	json = PyImport_ImportModule("json");
	loads = json ? PyObject_GetAttrString(json, "loads") : NULL;
	Py_XDECREF(json);
	mod = loads ? PyImport_ImportModule("spate.stage") : NULL;
	record = mod ? PyObject_GetAttrString(mod, "Record") : NULL;
	Py_XDECREF(mod);
	if (record &&
	    !(PyType_Check(record) &&
	      PyType_IsSubtype((PyTypeObject *)record, &PyDict_Type))) {
		PyErr_SetString(PyExc_TypeError, "spate.stage.Record: a dict");
		Py_CLEAR(record);
	}
	if (!record) {
		Py_XDECREF(loads);
		return -1;
	}
	while (PyDict_Next(sinks, &pos, &name, &stage)) {
		if (!PyUnicode_Check(name) ||
		    sink_add(name, stage, loads, record) ||
		    PyList_Append(run->names, name)) {
			r = -1;
			break;
		}
	}
	Py_DECREF(record);
	Py_DECREF(loads);
	return r;
}

PyObject *sp_py_run_start(PyObject *flow_obj, struct spate_flow *flow,
			  PyObject *sinks, unsigned workers, bool force)
{
	struct spate_run_options o = {.workers = workers, .force = force};
	struct py_run *self;
	char err[16384] = "";
	int r;

	self = PyObject_New(struct py_run, &sp_py_run_type);
	if (!self)
		return NULL;
	self->run = NULL;
	self->names = PyList_New(0);
	if (!self->names || register_sinks(self, sinks))
		goto fail;
	Py_BEGIN_ALLOW_THREADS r =
	    spate_flow_start(flow, &o, &self->run, err, sizeof(err));
	Py_END_ALLOW_THREADS if (r)
	{
		sp_py_raise(r, err);
		goto fail;
	}
	return (PyObject *)self;
fail:
	Py_DECREF(self);
	return NULL;
}

static void run_dealloc(struct py_run *self)
{
	run_close(self);
	PyObject_Free(self);
}

static struct spate_run *live(struct py_run *self)
{
	if (!self->run)
		sp_py_raise(-EINVAL, "the run is closed");
	return self->run;
}

static PyObject *run_wait(struct py_run *self, PyObject *unused)
{
	struct spate_run *run = live(self);
	enum spate_run_state st;

	if (!run)
		return NULL;
	Py_BEGIN_ALLOW_THREADS st = spate_run_wait(run);
	Py_END_ALLOW_THREADS return PyUnicode_FromString(
	    spate_run_state_name(st));
}

static PyObject *run_stop(struct py_run *self, PyObject *args)
{
	struct spate_run *run = live(self);
	int abort = 0;

	if (!run || !PyArg_ParseTuple(args, "|p", &abort))
		return NULL;
	spate_run_stop(run, abort);
	Py_RETURN_NONE;
}

static PyObject *run_error(struct py_run *self, PyObject *unused)
{
	struct spate_run *run = live(self);

	return run ? PyUnicode_FromString(spate_run_error(run)) : NULL;
}

static PyObject *lanes_dict(struct spate_run *run, uint32_t i, uint32_t n)
{
	struct spate_lane_status ls;
	PyObject *d = PyDict_New();

	for (uint32_t l = 0; d && l < n; l++) {
		PyObject *v;

		if (spate_run_lane_status(run, i, l, &ls))
			continue;
		v = PyLong_FromUnsignedLongLong(ls.records);
		if (!v || PyDict_SetItemString(d, ls.name, v))
			Py_CLEAR(d);
		Py_XDECREF(v);
	}
	return d;
}

static PyObject *stage_dict(struct spate_run *run, uint32_t i)
{
	struct spate_stage_status s;
	PyObject *lanes;
	int r = spate_run_stage_status(run, i, &s);

	if (r)
		return sp_py_raise(r, "cannot read the stage's status");
	lanes = lanes_dict(run, i, s.nlanes);
	if (!lanes)
		return NULL;
	return Py_BuildValue(
	    "{s:s,s:s,s:s,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:N}", "id", s.id,
	    "type", s.type, "kind", s.kind, "records_in",
	    (unsigned long long)s.records_in, "records_out",
	    (unsigned long long)s.records_out, "errors",
	    (unsigned long long)s.errors, "warnings",
	    (unsigned long long)s.warnings, "dropped",
	    (unsigned long long)s.dropped, "bytes_in",
	    (unsigned long long)s.bytes_in, "bytes_out",
	    (unsigned long long)s.bytes_out, "batches",
	    (unsigned long long)s.batches, "files", (unsigned long long)s.files,
	    "lanes", lanes);
}

static PyObject *run_status(struct py_run *self, PyObject *unused)
{
	struct spate_run *run = live(self);
	struct spate_run_status st;
	PyObject *stages;
	int r;

	if (!run)
		return NULL;
	r = spate_run_status(run, &st);
	if (r)
		return sp_py_raise(r, "cannot read the run's status");
	stages = PyList_New(0);
	for (uint32_t i = 0; stages && i < st.nstages; i++) {
		PyObject *d = stage_dict(run, i);

		if (!d || PyList_Append(stages, d))
			Py_CLEAR(stages);
		Py_XDECREF(d);
	}
	if (!stages)
		return NULL;
	return Py_BuildValue(
	    "{s:s,s:I,s:d,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:s,s:N}", "state",
	    spate_run_state_name(st.state), "workers", st.workers, "elapsed_s",
	    st.elapsed_s, "records_in", (unsigned long long)st.records_in,
	    "records_out", (unsigned long long)st.records_out, "errors",
	    (unsigned long long)st.errors, "error_records",
	    (unsigned long long)st.error_records, "dropped",
	    (unsigned long long)st.dropped, "discarded",
	    (unsigned long long)st.discarded, "bytes_in",
	    (unsigned long long)st.bytes_in, "bytes_out",
	    (unsigned long long)st.bytes_out, "error", spate_run_error(run),
	    "stages", stages);
}

static PyObject *run_close_m(struct py_run *self, PyObject *unused)
{
	run_close(self);
	Py_RETURN_NONE;
}

static PyMethodDef run_methods[] = {
    {"wait", (PyCFunction)run_wait, METH_NOARGS, NULL},
    {"stop", (PyCFunction)run_stop, METH_VARARGS, NULL},
    {"error", (PyCFunction)run_error, METH_NOARGS, NULL},
    {"status", (PyCFunction)run_status, METH_NOARGS, NULL},
    {"close", (PyCFunction)run_close_m, METH_NOARGS, NULL},
    {NULL},
};

PyTypeObject sp_py_run_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spate._native.Run",
    .tp_basicsize = sizeof(struct py_run),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)run_dealloc,
    .tp_methods = run_methods,
};
