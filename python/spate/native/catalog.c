/*
 * spate._native.Catalog: the stage catalog (include/spate/catalog.h) with
 * its stages as dicts.  Where credentials come from (variable names, a
 * credentials file) is passed through; secrets never reach this layer's
 * database: spate/catalog.py writes them to a 0600 file the stage names.
 */
#include "native.h"

#include <errno.h>
#include <string.h>

struct py_catalog {
	PyObject_HEAD struct spate_catalog *c;
};

static int catalog_init(struct py_catalog *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"path", NULL};
	const char *path = NULL;
	char err[1024] = "";
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|z", kwlist, &path))
		return -1;
	spate_catalog_close(self->c);
	self->c = NULL;
	r = spate_catalog_open(path, &self->c, err, sizeof(err));
	if (r) {
		sp_py_raise(r, err);
		return -1;
	}
	return 0;
}

static void catalog_dealloc(struct py_catalog *self)
{
	spate_catalog_close(self->c);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *stage_dict(const struct spate_catalog_stage *s)
{
	return Py_BuildValue(
	    "{s:s,s:s,s:s,s:s,s:z,s:z,s:z,s:z,s:z,s:z,s:O,s:L,s:z}", "name",
	    s->name, "kind", spate_stage_kind_name(s->kind), "url", s->url,
	    "path", s->path, "bucket", s->bucket, "endpoint", s->endpoint,
	    "region", s->region, "key_id_env", s->key_id_env, "secret_env",
	    s->secret_env, "credentials_file", s->credentials_file, "enabled",
	    s->enabled ? Py_True : Py_False, "created", (long long)s->created,
	    "comment", s->comment);
}

static PyObject *done(int r, const char *err)
{
	if (r < 0)
		return sp_py_raise(r, err);
	Py_RETURN_NONE;
}

static PyObject *catalog_create_local(struct py_catalog *self, PyObject *args)
{
	const char *name, *path, *comment = NULL;
	char err[1024] = "";

	if (!PyArg_ParseTuple(args, "ss|z", &name, &path, &comment))
		return NULL;
	return done(spate_catalog_create_local(self->c, name, path, comment,
					       err, sizeof(err)),
		    err);
}

static PyObject *catalog_create_s3(struct py_catalog *self, PyObject *args,
				   PyObject *kw)
{
	static char *kwlist[] = {"name",       "bucket",	   "path",
				 "endpoint",   "region",	   "key_id_env",
				 "secret_env", "credentials_file", "comment",
				 NULL};
	struct spate_s3_spec sp = {0};
	char err[1024] = "";
	const char *name;

	if (!PyArg_ParseTupleAndKeywords(
		args, kw, "ss|zzzzzzz", kwlist, &name, &sp.bucket, &sp.path,
		&sp.endpoint, &sp.region, &sp.key_id_env, &sp.secret_env,
		&sp.credentials_file, &sp.comment))
		return NULL;
	return done(
	    spate_catalog_create_s3(self->c, name, &sp, err, sizeof(err)), err);
}

static PyObject *catalog_alter(struct py_catalog *self, PyObject *args,
			       PyObject *kw)
{
	static char *kwlist[] = {"name",
				 "url",
				 "key_id_env",
				 "secret_env",
				 "credentials_file",
				 "comment",
				 "enabled",
				 NULL};
	struct spate_stage_change ch = {.enabled = -1};
	char err[1024] = "";
	const char *name;

	if (!PyArg_ParseTupleAndKeywords(
		args, kw, "s|zzzzzi", kwlist, &name, &ch.url, &ch.key_id_env,
		&ch.secret_env, &ch.credentials_file, &ch.comment, &ch.enabled))
		return NULL;
	return done(spate_catalog_alter(self->c, name, &ch, err, sizeof(err)),
		    err);
}

static PyObject *catalog_drop(struct py_catalog *self, PyObject *args)
{
	char err[1024] = "";
	const char *name;

	if (!PyArg_ParseTuple(args, "s", &name))
		return NULL;
	return done(spate_catalog_drop(self->c, name, err, sizeof(err)), err);
}

static PyObject *catalog_get(struct py_catalog *self, PyObject *args)
{
	struct spate_catalog_stage *s;
	char err[1024] = "";
	const char *name;
	PyObject *d;
	int r;

	if (!PyArg_ParseTuple(args, "s", &name))
		return NULL;
	r = spate_catalog_get(self->c, name, &s, err, sizeof(err));
	if (r)
		return sp_py_raise(r, err);
	d = stage_dict(s);
	spate_catalog_stage_free(s);
	return d;
}

static PyObject *catalog_list(struct py_catalog *self, PyObject *unused)
{
	struct spate_catalog_stage *v;
	char err[1024] = "";
	PyObject *l;
	size_t n;
	int r;

	r = spate_catalog_list(self->c, &v, &n, err, sizeof(err));
	if (r)
		return sp_py_raise(r, err);
	l = PyList_New(0);
	for (size_t i = 0; l && i < n; i++) {
		PyObject *d = stage_dict(&v[i]);

		if (!d || PyList_Append(l, d))
			Py_CLEAR(l);
		Py_XDECREF(d);
	}
	spate_catalog_stages_free(v, n);
	return l;
}

static PyObject *catalog_path(struct py_catalog *self, void *unused)
{
	return PyUnicode_FromString(spate_catalog_path(self->c));
}

static PyMethodDef catalog_methods[] = {
    {"create_local", (PyCFunction)catalog_create_local, METH_VARARGS, NULL},
    {"create_s3", (PyCFunction)(void (*)(void))catalog_create_s3,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"alter", (PyCFunction)(void (*)(void))catalog_alter,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"drop", (PyCFunction)catalog_drop, METH_VARARGS, NULL},
    {"get", (PyCFunction)catalog_get, METH_VARARGS, NULL},
    {"list", (PyCFunction)catalog_list, METH_NOARGS, NULL},
    {NULL},
};

static PyGetSetDef catalog_getset[] = {
    {"path", (getter)catalog_path, NULL, NULL, NULL},
    {NULL},
};

PyTypeObject sp_py_catalog_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "spate._native.Catalog",
    .tp_basicsize = sizeof(struct py_catalog),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)catalog_init,
    .tp_dealloc = (destructor)catalog_dealloc,
    .tp_methods = catalog_methods,
    .tp_getset = catalog_getset,
};
