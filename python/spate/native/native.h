/*
 * spate._native: the CPython extension under the spate package, a thin
 * layer over the C SDK (include/spate/spate.h, catalog.h).  Errors become
 * the package's SpateError (registered by spate/__init__.py) with spate's
 * message; the Python modules above build the user-facing API on it.
 */
#ifndef SPATE_PY_NATIVE_H
#define SPATE_PY_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "spate/catalog.h"
#include "spate/spate.h"

/* Raises SpateError(message, errno) for rc (a negative errno); returns
 * NULL so that callers can `return sp_py_raise(...)`. */
PyObject *sp_py_raise(int rc, const char *msg);

extern PyTypeObject sp_py_flow_type;
extern PyTypeObject sp_py_run_type;
extern PyTypeObject sp_py_catalog_type;

/* Starts a run of flow with sinks (dict: registration name -> Python
 * stage object); the run object owns the registrations. */
PyObject *sp_py_run_start(PyObject *flow_obj, struct spate_flow *flow,
			  PyObject *sinks, unsigned workers, bool force);

#endif
