"""Running flows from Python: lanes written by file_writers and received
by Python stages, read back and compared record by record; validation,
status, start/wait/stop, asyncio, YAML round trip, record errors."""
import asyncio
import json
import time

import pytest

import spate
from conftest import EXPENSES, expenses_text, read_jsonl_dir

HIGH = '${record:value("/expense") >= 10000}'
LOW = '${record:value("/expense") < -10000}'
LANES = {
    "high": [r for r in EXPENSES if r["expense"] >= 10000],
    "low": [r for r in EXPENSES if r["expense"] < -10000],
}
LANES["default"] = [r for r in EXPENSES
                    if r not in LANES["high"] and r not in LANES["low"]]


class Collect(spate.Stage):
    """Keeps what it receives (by stage id) for the test to compare."""
    received = {}
    threads = {}

    def __init__(self, ctx, config):
        super().__init__(ctx)
        self.config = config
        self.status = spate.StageStatus()
        self.closed = False
        Collect.received[ctx.stage_id] = self.records = []

    @classmethod
    def create(cls, config_dict, metadata_config_dict, ctx):
        return cls(ctx, config_dict)

    def stage_record(self, record):
        import threading
        Collect.threads.setdefault(self.ctx.stage_id, set()).add(
            threading.get_ident())
        if record.get("id") in self.config.get("reject", ()):
            raise ValueError(f"record {record['id']} is not wanted")
        self.records.append(record)
        self.status.records_status(record)

    def get_status(self):
        return self.status

    def close(self):
        self.closed = True


def selector_flow(tmp_path, python_stages=False):
    flow = spate.Flow("expenses")
    src = flow.add_stage("Dev Raw Data Source")
    src.configuration["data"] = expenses_text()
    sel = flow.add_stage("Stream Selector")
    sel.add_predicates([{"outputLane": "low", "predicate": LOW},
                        {"outputLane": "high", "predicate": HIGH}])
    src.connect_output_to(sel)
    outs = {}
    for p in sel.predicates:
        lane = p["outputLane"]
        if python_stages:
            out = flow.add_stage(Collect, config={})
        else:
            out = flow.add_stage("Local FS")
            out.configuration.update(dir=str(tmp_path / lane),
                                     compression="none", ordered=True)
        sel.connect_output_to(out, predicate=p)
        outs[lane] = out
    return flow, sel, outs


def test_lanes_written_and_read_back(tmp_path):
    flow, sel, outs = selector_flow(tmp_path)
    st = flow.run(workers=2)
    assert st.state == "finished"
    assert st.records_in == 6 and st.errors == 0
    for lane, expect in LANES.items():
        assert read_jsonl_dir(tmp_path / lane) == expect
        assert st[sel].lanes[lane] == len(expect)
        assert st[outs[lane]].records_in == len(expect)
        assert st[outs[lane]].records_out == len(expect)


def test_python_stages_receive_each_lane(tmp_path):
    Collect.received.clear()
    Collect.threads.clear()
    flow, sel, outs = selector_flow(tmp_path, python_stages=True)
    assert outs["high"].stage_id == "Collect_01"
    st = flow.run(workers=2)
    for lane, expect in LANES.items():
        sid = outs[lane].stage_id
        assert Collect.received[sid] == expect
        assert st[sid].records_in == len(expect)
        assert st[sid].records_out == len(expect) and st[sid].errors == 0
        assert st[sid].stage_status.records == len(expect)
        # one thread per stage: the sink stage's own
        assert len(Collect.threads[sid]) == 1


def test_exception_in_stage_record_is_a_record_error(tmp_path):
    flow = spate.Flow("rejects")
    src = flow.add_stage("Dev Raw Data Source")
    src.configuration["data"] = expenses_text()
    out = flow.add_stage(Collect, config={"reject": [2, 5]})
    errors = flow.add_stage("Local FS")
    errors.configuration.update(dir=str(tmp_path / "errors"),
                                compression="none")
    flow.error_stage = errors
    src.connect_output_to(out)
    st = flow.run()
    assert st.state == "finished"
    assert st[out].records_in == 6
    assert st[out].errors == 2 and st[out].records_out == 4
    assert [r["id"] for r in Collect.received[out.stage_id]] == [1, 3, 4, 6]
    bad = read_jsonl_dir(tmp_path / "errors")
    assert [r["id"] for r in bad] == [2, 5]
    assert bad[0]["spate_error"]["stage"] == out.stage_id
    assert bad[0]["spate_error"]["reason"] == \
        "ValueError: record 2 is not wanted"
    assert st.discarded == 0


def test_errors_without_an_error_stage_are_discarded(tmp_path):
    # as `spate run` (exit 3, "discarded" in --json): lost by default
    flow = spate.Flow("loses")
    src = flow.add_stage("Dev Raw Data Source")
    src.configuration["data"] = expenses_text()
    out = flow.add_stage(Collect, config={"reject": [2, 5]})
    src.connect_output_to(out)
    st = flow.run()
    assert st.state == "finished"
    assert st.errors == 2 and st.discarded == 2


def test_validate_raises_with_every_problem():
    flow = spate.Flow("broken")
    flow.add_stage("Dev Raw Data Source")           # no data
    sel = flow.add_stage("Stream Selector")         # no input, no lanes
    out = flow.add_stage("Local FS")                # no dir, no input
    with pytest.raises(spate.ValidationError) as e:
        flow.validate()
    text = str(e.value)
    assert len(e.value.problems) >= 4
    for what in ("DevRawDataSource_01", sel.stage_id, out.stage_id,
                 "'data'", "'dir'", "'lanes'"):
        assert what in text, what
    with pytest.raises(spate.ValidationError):
        flow.run()


def test_yaml_round_trip(tmp_path):
    flow, _, _ = selector_flow(tmp_path)
    path = tmp_path / "flow.yaml"
    flow.save(path)
    again = spate.Flow.from_yaml(path)
    assert again.to_yaml() == flow.to_yaml()
    assert [s.stage_id for s in again.stages] == \
        [s.stage_id for s in flow.stages]
    sel = again.stages[1]
    assert sel.predicates[0] == {"outputLane": "high", "predicate": HIGH}
    assert spate.Flow.from_yaml(flow.to_yaml()).to_yaml() == flow.to_yaml()
    st = again.run()
    assert st.records_in == 6
    assert read_jsonl_dir(tmp_path / "low") == LANES["low"]


def test_asyncio_run(tmp_path):
    Collect.received.clear()

    async def main():
        flow = spate.Flow("async")
        src = flow.add_stage("Dev Data Generator")
        src.configuration["records"] = 20000
        out = flow.add_stage(Collect, config={})
        src.connect_output_to(out)
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.create_task(ticker())
        st = await flow.run_async()
        t.cancel()
        return st, out, ticks

    st, out, ticks = asyncio.run(main())
    assert st.state == "finished" and st[out].records_in == 20000
    ids = [r["id"] for r in Collect.received[out.stage_id]]
    assert sorted(ids) == list(range(1, 20001))
    assert ticks > 0


def test_start_wait_stop_status(tmp_path):
    flow = spate.Flow("gen")
    src = flow.add_stage("Dev Data Generator")
    src.configuration["records"] = 10 ** 12
    trash = flow.add_stage("Trash")
    src.connect_output_to(trash)
    run = flow.start(workers=1)
    assert flow.status().state == "running"
    while flow.status()[trash].records_in == 0:
        time.sleep(0.01)
    flow.stop()
    st = flow.wait()
    assert st.state == "stopped"
    assert st[trash].records_in == st[src].records_out > 0
    assert run.status() is st


def test_failures_are_exceptions_with_spates_message(tmp_path):
    flow = spate.Flow("fails")
    src = flow.add_stage("File Reader")
    src.configuration["path"] = str(tmp_path / "missing.jsonl")
    src.connect_output_to(flow.add_stage("Trash"))
    with pytest.raises(spate.SpateError) as e:
        flow.run()
    assert "missing.jsonl" in str(e.value)
    assert e.value.errno > 0
    with pytest.raises(spate.SpateError, match="no such flow file"):
        spate.Flow.from_yaml("nowhere.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstages:\n  - id: a\n")
    with pytest.raises(spate.SpateError, match="bad.yaml:3"):
        spate.Flow.from_yaml(bad)


def test_record_values_arrive_typed(tmp_path):
    Collect.received.clear()
    flow = spate.Flow("types")
    src = flow.add_stage("Dev Raw Data Source")
    src.configuration["data"] = json.dumps(
        {"i": -7, "big": 2 ** 63, "d": 1.5, "s": "a\"b\\c\n\u00e9\u4e2d",
         "t": True, "n": None, "o": {"a": [1, {"b": None}]},
         "a": []}) + "\n"
    out = flow.add_stage(Collect, config={})
    src.connect_output_to(out)
    flow.run()
    [rec] = Collect.received[out.stage_id]
    assert rec == {"i": -7, "big": float(2 ** 63), "d": 1.5,
                   "s": "a\"b\\c\n\u00e9\u4e2d", "t": True, "n": None,
                   "o": {"a": [1, {"b": None}]}, "a": []}


class FileStage(spate.Stage):
    """OpenMetadata's example stage, as its guide writes it (a dict for
    its pydantic config)."""

    def __init__(self, ctx, config, metadata_config):
        super().__init__(ctx)
        self.config = config
        self.status = spate.StageStatus()
        self.file = open(self.config["filename"], "w")

    @classmethod
    def create(cls, config_dict, metadata_config_dict, ctx):
        return cls(ctx, config_dict, metadata_config_dict)

    def stage_record(self, record):
        json_record = json.loads(record.json())
        self.file.write(json.dumps(json_record))
        self.file.write("\n")
        self.status.records_status(record)

    def get_status(self):
        return self.status

    def close(self):
        self.file.close()


def test_file_stage_example(tmp_path):
    flow = spate.Flow("file_stage")
    src = flow.add_stage("Dev Raw Data Source")
    src.configuration["data"] = expenses_text()
    out = flow.add_stage(FileStage,
                         config={"filename": str(tmp_path / "out.jsonl")})
    src.connect_output_to(out)
    st = flow.run()
    assert st[out].stage_status.records == len(EXPENSES)
    with open(tmp_path / "out.jsonl") as f:
        assert [json.loads(line) for line in f] == EXPENSES
