"""Failures reach Python as exceptions carrying spate's own message: the
flow file and line (when the flow came from a file), the stage, the
option, the offending value or input file; a positive errno, never a
negative number."""
import pytest

import spate


def selector_flow():
    flow = spate.Flow("errors")
    src = flow.add_stage("Dev Raw Data Source")
    src.configuration["data"] = '{"expense": 1}\n'
    sel = flow.add_stage("Stream Selector")
    out = flow.add_stage("Trash")
    src.connect_output_to(sel)
    return flow, src, sel, out


def test_unknown_option_names_the_stage_and_the_nearest_option():
    flow, src, sel, out = selector_flow()
    with pytest.raises(KeyError) as e:
        src.configuration["dta"] = "x"
    assert e.value.args[0] == ("stage 'DevRawDataSource_01' (dev_raw_data) "
                               "has no option 'dta'; did you mean 'data'?")
    with pytest.raises(KeyError) as e:
        out.configuration["nope"]
    assert e.value.args[0] == "stage 'Trash_01' (trash) has no option 'nope'"


def test_bad_option_value_and_bad_predicate(tmp_path):
    flow, src, sel, out = selector_flow()
    sel.add_predicates(['${record:value("/expense") >= }'])
    sel.connect_output_to(out, predicate=sel.predicates[0])
    files = flow.add_stage("Local FS")
    files.configuration.update(dir=str(tmp_path / "o"), compression="zip")
    sel.connect_output_to(files, predicate=sel.predicates[1])
    for call in (flow.validate, flow.run):
        with pytest.raises(spate.ValidationError) as e:
            call()
        # a flow built in Python has no file: no line, the stage and option
        assert e.value.problems == [
            "stage 'StreamSelector_01': option "
            "'lanes.StreamSelector_01OutputLane1': expression error at "
            "column 31: expected a value before the end of the expression",
            "stage 'LocalFS_01': option 'compression': \"zip\" is not one "
            "of zstd, none"]
        assert str(e.value) == "\n".join(e.value.problems)
        assert e.value.errno == 22
    assert not (tmp_path / "o").exists()


def test_flow_file_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstages:\n  - id: a\n    type: dev_raw_data\n"
                   "    dta: 1\n  - id: s\n    type: stream_selector\n"
                   "    inputs: [a]\n"
                   "    lanes: {x: '${record:value(\"/a\") >>> 1}'}\n"
                   "  - id: t\n    type: trash\n    inputs: [s]\n")
    flow = spate.Flow.from_yaml(bad)
    with pytest.raises(spate.ValidationError) as e:
        flow.validate()
    assert e.value.problems == [
        f"{bad}:5: stage 'a': unknown option 'dta' (did you mean 'data'?)",
        f"{bad}:3: stage 'a': option 'data': required option is missing",
        f"{bad}:9: stage 's': option 'lanes.x': expression error at column "
        "23: expected a value but found '>'"]
    bad.write_text("name: x\nstages:\n  - id: a\n")
    with pytest.raises(spate.SpateError, match=f"^{bad}:3: ") as e:
        spate.Flow.from_yaml(bad)
    assert e.value.errno > 0


def test_missing_input_file(tmp_path):
    flow = spate.Flow("missing")
    src = flow.add_stage("File Reader")
    src.configuration.update(path=str(tmp_path / "missing.csv"),
                             format="csv")
    src.connect_output_to(flow.add_stage("Trash"))
    with pytest.raises(spate.SpateError) as e:
        flow.run()
    assert str(e.value) == (f"stage 'FileReader_01': option 'path': cannot "
                            f"read {tmp_path}/missing.csv: No such file or "
                            "directory")
    assert e.value.errno > 0

    # through the catalog: the path as the load named it, under its stage
    client = spate.Client(catalog=tmp_path / "catalog.db")
    client.stage.create_local("imports", tmp_path)
    with pytest.raises(spate.SpateError) as e:
        client.load_data.read_csv_stage("imports", "orders.csv",
                                        table=tmp_path / "orders")
    assert "stage 'read_1': option 'path'" in str(e.value), str(e.value)
    assert "orders.csv" in str(e.value)
    assert e.value.errno > 0
    assert not (tmp_path / "orders").exists()
