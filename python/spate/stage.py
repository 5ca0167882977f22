"""Python stages: destinations written as a class, in the shape of
OpenMetadata's workflow Stage (create / stage_record / get_status / close).

A subclass is added to a flow with flow.add_stage(MyStage, config={...});
each run creates one instance with MyStage.create(config, metadata_config,
ctx), hands it every record that reaches the stage as a dict (a Record,
whose json() gives its JSON text), in batches (the GIL is taken once per
batch, on the stage's own thread), then calls get_status() (shown in the
run's status) and close().  An exception raised
by stage_record makes that record a record error of the stage, handled by
its on_record_error like any other.
"""
import abc
import dataclasses
import json


class Record(dict):
    """A record as a Python stage receives it: a dict (field name ->
    value: int, float, str, bool, None, list, dict), with json() as
    OpenMetadata's records have it."""
    __slots__ = ()

    def json(self):
        """The record as a JSON object's text."""
        return json.dumps(self, ensure_ascii=False)


@dataclasses.dataclass
class StageContext:
    """What a Python stage learns about the run that created it."""
    flow: str
    stage_id: str


class StageStatus:
    """Counters a Python stage keeps: records it stored, failures and
    warnings as {key: reason} entries."""

    def __init__(self):
        self.records = 0
        self.failures = []
        self.warnings = []

    def records_status(self, record=None):
        """Counts one record stored."""
        self.records += 1

    def failed(self, key, reason):
        self.failures.append({key: reason})

    def warning(self, key, reason):
        self.warnings.append({key: reason})

    def as_dict(self):
        return {"records": self.records, "failures": list(self.failures),
                "warnings": list(self.warnings)}

    def __repr__(self):
        return (f"StageStatus(records={self.records}, "
                f"failures={len(self.failures)}, "
                f"warnings={len(self.warnings)})")


class Stage(abc.ABC):
    """Base class of Python destination stages."""

    def __init__(self, ctx=None):
        self.ctx = ctx

    @classmethod
    @abc.abstractmethod
    def create(cls, config_dict, metadata_config_dict, ctx):
        """Returns an instance for one run."""

    @abc.abstractmethod
    def stage_record(self, record):
        """Takes one record (a dict); raise to reject it."""

    @abc.abstractmethod
    def get_status(self):
        """Returns a StageStatus."""

    @abc.abstractmethod
    def close(self):
        """Called once the run has ended."""
