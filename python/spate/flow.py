"""Flows built and run from Python, in the shape of the StreamSets SDK:
add_stage by label, connect_output_to and friends (chainable), stage
configuration as a dict, stream-selector predicates, validate, run / start
/ wait / stop / status, run_async for asyncio, to_yaml / from_yaml.  The
graph lives in the C SDK (spate._native.Flow); a Stage here is a handle
naming one stage of it by id.
"""
import asyncio
import builtins
import difflib
import itertools
import os
import threading

from . import _native, labels, values
from .errors import RunError, SpateError, ValidationError
from .stage import Stage as PythonStage, StageContext
from .status import RunStatus

_run_names = itertools.count(1)


class Configuration:
    """A stage's options, read and written like a dict of Python values.
    Unknown keys raise KeyError with the closest option name."""

    def __init__(self, stage):
        self._stage = stage

    def _options(self):
        opts = {o["name"]: o for o in self._stage._type_info()["options"]}
        opts["on_record_error"] = {"name": "on_record_error",
                                   "type": "enum", "default": None}
        return opts

    def _option(self, key):
        opts = self._options()
        if key in opts:
            return opts[key]
        near = difflib.get_close_matches(key, list(opts), n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise KeyError(f"stage '{self._stage.stage_id}' "
                       f"({self._stage.type}) has no option '{key}'{hint}")

    def __getitem__(self, key):
        o = self._option(key)
        text = self._stage._flow._nf.get_config(self._stage.stage_id, key)
        if text is None:
            text = o.get("default")
        return values.from_text(text, o["type"])

    def __setitem__(self, key, value):
        self._option(key)
        self._stage._flow._nf.set_config(self._stage.stage_id, key,
                                         values.to_text(value))

    def __delitem__(self, key):
        self._option(key)
        self._stage._flow._nf.set_config(self._stage.stage_id, key, None)

    def __contains__(self, key):
        return key in self._options()

    def keys(self):
        return list(self._options())

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self._options())

    def items(self):
        return [(k, self[k]) for k in self.keys()]

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def update(self, other=(), **kw):
        for k, v in dict(other, **kw).items():
            self[k] = v

    def __repr__(self):
        return repr(dict(self.items()))


class Stage:
    """One stage of a flow (a handle: its id names it in the flow)."""

    def __init__(self, flow, stage_id, type_name):
        self._flow = flow
        self.stage_id = stage_id
        self.type = type_name
        self.label = labels.label_of(type_name)

    instance_name = property(lambda self: self.stage_id)

    @property
    def kind(self):
        """origin, processor, destination or executor; a type of two
        kinds (postgres) is the origin when the stage has no inputs."""
        info = self._type_info()
        kinds = info.get("kinds", {})
        if len(kinds) > 1 and "origin" in kinds and not self.inputs:
            return "origin"
        return info["kind"]

    def _type_info(self):
        info = labels.stage_types().get(self.type)
        if info is None:
            raise SpateError(f"stage '{self.stage_id}': unknown type "
                             f"'{self.type}'", 2)
        return info

    @property
    def configuration(self):
        return Configuration(self)

    def __repr__(self):
        return f"{self.stage_id}(stage_id='{self.stage_id}')"

    def __eq__(self, other):
        return (isinstance(other, Stage) and other._flow is self._flow and
                other.stage_id == self.stage_id)

    def __hash__(self):
        return hash((id(self._flow), self.stage_id))

    # ---- connections -------------------------------------------------

    def _lane(self, predicate):
        if predicate is None:
            return None
        if isinstance(predicate, dict):
            return predicate["outputLane"]
        return str(predicate)

    @staticmethod
    def _result(stages):
        return stages[0] if len(stages) == 1 else list(stages)

    def connect_output_to(self, *stages, predicate=None):
        lane = self._lane(predicate)
        for s in stages:
            self._flow._nf.link(self.stage_id, s.stage_id, lane=lane)
        return self._result(stages)

    def connect_input_to(self, *stages, predicate=None):
        for s in stages:
            s.connect_output_to(self, predicate=predicate)
        return self._result(stages)

    def connect_event_to(self, *stages):
        for s in stages:
            self._flow._nf.link(self.stage_id, s.stage_id, event=True)
        return self._result(stages)

    def disconnect_output_from(self, *stages):
        for s in stages:
            self._flow._nf.link(self.stage_id, s.stage_id, disconnect=True)
        return self._result(stages)

    def disconnect_input_from(self, *stages):
        for s in stages:
            s.disconnect_output_from(self)
        return self._result(stages)

    def disconnect_event_from(self, *stages):
        for s in stages:
            self._flow._nf.link(self.stage_id, s.stage_id, event=True,
                                disconnect=True)
        return self._result(stages)

    @property
    def inputs(self):
        return [self._flow._stage(i) for i in
                self._flow._nf.inputs(self.stage_id)]

    @property
    def outputs(self):
        return [self._flow._stage(i) for i in
                self._flow._nf.outputs(self.stage_id)]

    @property
    def events(self):
        return [self._flow._stage(i) for i in
                self._flow._nf.events(self.stage_id)]

    # ---- stream selector predicates --------------------------------------

    def _lanes(self):
        lanes = self.configuration["lanes"] if self.type == \
            "stream_selector" else None
        if lanes is None and self.type != "stream_selector":
            raise SpateError(f"stage '{self.stage_id}' ({self.type}) has "
                             "no predicates", 22)
        return lanes or {}

    @property
    def predicates(self):
        """[{'outputLane': lane, 'predicate': text}, ..., default last]"""
        out = [{"outputLane": k, "predicate": v}
               for k, v in self._lanes().items()]
        return out + [{"outputLane": "default", "predicate": "default"}]

    def add_predicates(self, predicates):
        """Adds predicates in front of the existing ones, each on a new
        lane named <stage_id>OutputLane<n>."""
        lanes = self._lanes()
        named = []
        taken = set(lanes)
        for p in predicates:
            text = p["predicate"] if isinstance(p, dict) else str(p)
            lane = p.get("outputLane") if isinstance(p, dict) else None
            if not lane:
                lane = next(f"{self.stage_id}OutputLane{i}"
                            for i in itertools.count(1)
                            if f"{self.stage_id}OutputLane{i}" not in taken)
            taken.add(lane)
            named.append((lane, text))
        new = dict(reversed(named))
        new.update(lanes)
        self.configuration["lanes"] = new

    def remove_predicate(self, predicate):
        """Removes a predicate (and disconnects its lane's readers)."""
        lane = self._lane(predicate)
        if lane == "default":
            raise SpateError("the default predicate cannot be removed", 22)
        self._flow._nf.predicate(self.stage_id, lane)


class PythonStageHandle(Stage):
    """A Python stage (spate.Stage subclass) in a flow: a `sink` stage
    whose records go to an instance of the class during a run."""

    def __init__(self, flow, stage_id, cls, config, metadata_config):
        super().__init__(flow, stage_id, "sink")
        self.stage_class = cls
        self.config = dict(config or {})
        self.metadata_config = dict(metadata_config or {})
        self.label = cls.__name__

    def __repr__(self):
        return (f"{self.stage_id}(stage_id='{self.stage_id}', "
                f"class={self.stage_class.__name__})")


class Run:
    """A started run: wait(), stop(), status()."""

    def __init__(self, flow, native, instances):
        self._flow = flow
        self._native = native
        self._instances = instances  # stage id -> Python stage object
        self._final = None
        self._lock = threading.Lock()

    def status(self):
        """The status now (final once the run has ended)."""
        if self._final is not None:
            return self._final
        return RunStatus(self._native.status())

    def stop(self, abort=False):
        if self._final is None:
            self._native.stop(abort)

    def _finish(self):
        with self._lock:
            if self._final is not None:
                return self._final
            d = self._native.status()
            statuses = {}
            for sid, inst in self._instances.items():
                statuses[sid] = inst.get_status()
                inst.close()
            self._native.close()
            self._final = RunStatus(d, statuses)
        return self._final

    def wait(self, check=True):
        """Waits for the end; the final RunStatus.  A failed run raises
        RunError (with .status) unless check is false."""
        if self._final is None:
            self._native.wait()
        st = self._finish()
        if check and st.state == "failed":
            raise RunError(st.error or "the run failed", status=st)
        return st

    async def wait_async(self, check=True):
        """wait() for asyncio: the event loop runs other tasks while
        spate's threads do the work.  Cancelling the awaiting task aborts
        the run (its outputs roll back) and the cancellation goes on."""
        if self._final is None:
            loop = asyncio.get_running_loop()
            ended = loop.run_in_executor(None, self._native.wait)
            try:
                # shielded: a cancel must not orphan the waiting thread
                await asyncio.shield(ended)
            except asyncio.CancelledError:
                self.stop(abort=True)
                await ended
                self._finish()
                raise
        return self.wait(check)


class AsyncRun(Run):
    """What flow.run_async() returns: a started Run that is also a
    coroutine, so `await flow.run_async()`, asyncio.run(...),
    create_task(...) and gather(...) take it; awaiting it gives the final
    RunStatus (once: wait_async() for more waits).  status() and stop()
    work meanwhile, from the loop or any thread."""

    def __init__(self, flow, native, instances, check):
        super().__init__(flow, native, instances)
        self._check = check
        self._coro = None

    def _waiter(self):
        # made on first use, so that a handle never awaited (stopped and
        # waited for synchronously) leaves no unawaited coroutine behind
        if self._coro is None:
            self._coro = self.wait_async(self._check)
        return self._coro

    def __await__(self):
        return self._waiter().__await__()

    def send(self, value):
        return self._waiter().send(value)

    def throw(self, *exc):
        return self._waiter().throw(*exc)

    def close(self):
        if self._coro is not None:
            self._coro.close()


class Flow:
    """A flow of stages (spate.Flow('name'))."""

    def __init__(self, name="flow", *, _native=None):
        self._nf = _native or _native_flow(name=name)
        self._handles = {}
        self._run = None
        self.catalog = None

    @classmethod
    def from_yaml(cls, source):
        """A flow from a flow file's path, or from YAML text."""
        text = os.fspath(source)
        if "\n" in text or not os.path.exists(text):
            if "\n" not in text and ":" not in text:
                raise SpateError(f"{text}: no such flow file", 2)
            return cls(_native=_native_flow(yaml=text))
        return cls(_native=_native_flow(path=text))

    @property
    def name(self):
        return self._nf.name

    def _stage(self, stage_id):
        h = self._handles.get(stage_id)
        if h is None:
            types = dict(self._nf.stages())
            h = Stage(self, stage_id, types[stage_id])
            self._handles[stage_id] = h
        return h

    @property
    def stages(self):
        return [self._stage(sid) for sid, _ in self._nf.stages()]

    def _free_id(self, label):
        base = labels.id_base(label)
        taken = {sid for sid, _ in self._nf.stages()}
        return next(f"{base}_{n:02d}" for n in itertools.count(1)
                    if f"{base}_{n:02d}" not in taken)

    def add_stage(self, label=None, name=None, type=None, *, stage_id=None,
                  config=None, metadata_config=None):
        """Adds a stage by label ('Dev Raw Data Source'), spate type name
        (name='dev_raw_data') or Python stage class; returns the Stage."""
        if isinstance(label, builtins.type) and \
                issubclass(label, PythonStage):
            return self._add_python(label, stage_id, config,
                                    metadata_config)
        tname = labels.resolve(label, name, type)
        sid = stage_id or self._free_id(label if label in labels.LABELS
                                        else labels.label_of(tname))
        sid = self._nf.add_stage(tname, sid)
        h = Stage(self, sid, tname)
        self._handles[sid] = h
        for k, v in (config or {}).items():
            h.configuration[k] = v
        return h

    def _add_python(self, cls, stage_id, config, metadata_config):
        sid = self._nf.add_stage("sink", stage_id or
                                 self._free_id(cls.__name__))
        h = PythonStageHandle(self, sid, cls, config, metadata_config)
        self._handles[sid] = h
        self._nf.set_config(sid, "name",
                            f"{cls.__module__}.{cls.__qualname__}")
        return h

    def remove_stage(self, stage):
        self._nf.remove_stage(stage.stage_id)
        self._handles.pop(stage.stage_id, None)

    @property
    def error_stage(self):
        return getattr(self, "_error_stage", None)

    @error_stage.setter
    def error_stage(self, stage):
        self._nf.settings(error_stage=stage.stage_id if stage else None)
        self._error_stage = stage

    def validate(self):
        """Raises ValidationError with every problem; returns None.
        `stage:` options are checked in the flow's catalog."""
        if self.catalog is not None:
            self._nf.settings(catalog=os.fspath(self.catalog))
        n, text = self._nf.validate()
        if n:
            problems = [p for p in text.splitlines() if p]
            raise ValidationError(text.strip(), problems=problems)

    def to_yaml(self):
        return self._nf.to_yaml()

    def save(self, path):
        with open(path, "w") as f:
            f.write(self.to_yaml())

    # ---- running ----------------------------------------------------------

    def _python_stages(self):
        return [h for h in self._handles.values()
                if isinstance(h, PythonStageHandle) and
                h.stage_id in dict(self._nf.stages())]

    def start(self, workers=0, force=False):
        """Starts a run in the background; returns the Run (also kept as
        the flow's current run for wait / stop / status)."""
        self._run = Run(self, *self._launch(workers, force))
        return self._run

    def _launch(self, workers, force):
        """Validates and starts; the native run and the Python stages'
        instances by stage id."""
        self.validate()
        sinks, instances, names = {}, {}, {}
        try:
            for h in self._python_stages():
                ctx = StageContext(flow=self.name, stage_id=h.stage_id)
                inst = h.stage_class.create(h.config, h.metadata_config,
                                            ctx)
                instances[h.stage_id] = inst
                reg = f"py.{os.getpid()}.{next(_run_names)}.{h.stage_id}"
                names[h.stage_id] = self._nf.get_config(h.stage_id, "name")
                self._nf.set_config(h.stage_id, "name", reg)
                sinks[reg] = inst
            native = self._nf.start(sinks=sinks, workers=workers,
                                    force=force)
        except BaseException:
            for inst in instances.values():
                inst.close()
            raise
        finally:
            for sid, name in names.items():
                self._nf.set_config(sid, "name", name)
        return native, instances

    def run(self, workers=0, force=False, check=True):
        """Runs the flow to the end; returns its final RunStatus (a failed
        run raises RunError unless check is false)."""
        return self.start(workers=workers, force=force).wait(check)

    def run_async(self, workers=0, force=False, check=True):
        """Starts the run now and returns its AsyncRun: `status = await
        flow.run_async()`, or keep the handle to watch (status()) and stop
        (stop()) it while the event loop runs other tasks."""
        self._run = AsyncRun(self, *self._launch(workers, force), check)
        return self._run

    def _current(self):
        if self._run is None:
            raise SpateError("the flow has not been started", 22)
        return self._run

    def wait(self, check=True):
        return self._current().wait(check)

    def stop(self, abort=False):
        self._current().stop(abort)

    def status(self):
        return self._current().status()


def _native_flow(**kw):
    return _native.Flow(**kw)
