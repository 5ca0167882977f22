"""The status of a run: totals and, per stage, records in, out (per lane),
errors, warnings and dropped, plus a Python stage's own StageStatus."""


class StageRunStatus:
    def __init__(self, d, stage_status=None):
        self.stage_id = d["id"]
        self.type = d["type"]
        self.kind = d["kind"]
        self.records_in = d["records_in"]
        self.records_out = d["records_out"]
        self.errors = d["errors"]
        self.warnings = d["warnings"]
        self.dropped = d["dropped"]
        self.bytes_in = d["bytes_in"]
        self.bytes_out = d["bytes_out"]
        self.batches = d["batches"]
        self.files = d["files"]
        self.lanes = dict(d["lanes"])
        self.stage_status = stage_status

    def __repr__(self):
        return (f"{self.stage_id}(in={self.records_in}, "
                f"out={self.records_out}, errors={self.errors}, "
                f"dropped={self.dropped})")


class RunStatus:
    """A run's status at one moment (final once the run has ended)."""

    def __init__(self, d, stage_statuses=None):
        stage_statuses = stage_statuses or {}
        self.state = d["state"]
        self.workers = d["workers"]
        self.elapsed_s = d["elapsed_s"]
        self.records_in = d["records_in"]
        self.records_out = d["records_out"]
        self.errors = d["errors"]
        self.error_records = d["error_records"]
        self.dropped = d["dropped"]
        # record errors lost without the flow choosing it (no error
        # stage, no on_record_error: discard): `spate run` exits 3
        self.discarded = d["discarded"]
        self.bytes_in = d["bytes_in"]
        self.bytes_out = d["bytes_out"]
        self.error = d["error"]
        self.stages = {s["id"]: StageRunStatus(s,
                                               stage_statuses.get(s["id"]))
                       for s in d["stages"]}

    def __getitem__(self, stage):
        """status[stage] or status['stage_id']"""
        return self.stages[getattr(stage, "stage_id", stage)]

    @property
    def ok(self):
        return self.state in ("finished", "skipped", "stopped")

    def __repr__(self):
        return (f"RunStatus(state={self.state!r}, "
                f"records_in={self.records_in}, "
                f"records_out={self.records_out}, errors={self.errors})")
