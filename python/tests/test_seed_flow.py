"""The flow-editing guide's examples (shared seed 001), line by line, with
spate's stage labels and options."""
import pytest

import spate

HIGH = '${record:value("/expense") >= 10000}'
LOW = '${record:value("/expense") < -10000}'


def test_listing_adding_and_removing_stages():
    flow = spate.Flow("seed")
    src = flow.add_stage("Dev Raw Data Source")
    trash = flow.add_stage("Trash")
    assert repr(flow.stages) == ("[DevRawDataSource_01(stage_id="
                                 "'DevRawDataSource_01'), Trash_01("
                                 "stage_id='Trash_01')]")
    assert [s.stage_id for s in flow.stages] == ["DevRawDataSource_01",
                                                 "Trash_01"]
    # type narrows labels; spate's type names work too
    gen = flow.add_stage(name="dev_data_generator", type="origin")
    assert gen.stage_id == "DevDataGenerator_01" and gen.kind == "origin"
    with pytest.raises(spate.SpateError, match="did you mean 'Trash'"):
        flow.add_stage("Trsh")
    with pytest.raises(spate.SpateError, match="no stage of type origin"):
        flow.add_stage("Trash", type="origin")
    gone = next(filter(lambda s: s.instance_name == "DevDataGenerator_01",
                       flow.stages))
    assert flow.remove_stage(gone) is None
    assert [s.stage_id for s in flow.stages] == ["DevRawDataSource_01",
                                                 "Trash_01"]
    assert src.label == "Dev Raw Data Source" and trash.kind == "destination"


def test_stage_types_show_both_kinds_of_postgres():
    types = spate.stage_types()
    pg = types["postgres"]
    assert pg["kind"] == "destination" and sorted(pg["kinds"]) == [
        "destination", "origin"]
    origin = pg["kinds"]["origin"]
    assert origin["name"] == "postgres" and "COPY TO STDOUT" in origin["help"]
    assert "query" in [o["name"] for o in origin["options"]]
    assert "table" not in [o["name"] for o in origin["options"]]
    assert "table" in [o["name"] for o in pg["options"]]
    assert list(types["trash"]["kinds"]) == ["destination"]
    flow = spate.Flow("kinds")
    pg_in = flow.add_stage(name="postgres", type="origin")
    assert pg_in.type == "postgres" and pg_in.kind == "origin"
    # the same type with an input is the destination
    gen = flow.add_stage(name="dev_data_generator")
    pg_out = flow.add_stage(name="postgres", type="destination")
    gen.connect_output_to(pg_out)
    assert pg_out.kind == "destination" and pg_in.kind == "origin"
    with pytest.raises(spate.SpateError, match="no stage of type origin"):
        flow.add_stage(name="mysql", type="origin")


def test_connecting_listing_and_disconnecting():
    flow = spate.Flow("seed")
    flow.add_stage("Dev Raw Data Source")
    flow.add_stage("Trash")
    dev_random_source = flow.add_stage("Dev Raw Data Source")
    trash = flow.add_stage("Trash")
    assert repr(dev_random_source.connect_output_to(trash)) == \
        "Trash_02(stage_id='Trash_02')"
    pipeline_finisher = flow.add_stage("Pipeline Finisher Executor")
    assert repr(dev_random_source.connect_event_to(pipeline_finisher)) == \
        "PipelineFinisherExecutor_01(stage_id='PipelineFinisherExecutor_01')"

    stream_selector = flow.add_stage("Stream Selector")
    assert stream_selector.predicates == [
        {"outputLane": "default", "predicate": "default"}]
    stream_selector.add_predicates([HIGH, LOW])
    assert stream_selector.predicates == [
        {"outputLane": "StreamSelector_01OutputLane2", "predicate": LOW},
        {"outputLane": "StreamSelector_01OutputLane1", "predicate": HIGH},
        {"outputLane": "default", "predicate": "default"}]
    stream_selector.remove_predicate(stream_selector.predicates[0])
    assert stream_selector.predicates == [
        {"outputLane": "StreamSelector_01OutputLane1", "predicate": HIGH},
        {"outputLane": "default", "predicate": "default"}]
    assert stream_selector.connect_output_to(
        trash, predicate=stream_selector.predicates[0]) == trash
    assert trash.connect_input_to(
        stream_selector, predicate=stream_selector.predicates[0]) == \
        stream_selector

    assert dev_random_source.outputs == [trash]
    assert dev_random_source.events == [pipeline_finisher]
    assert repr(trash.inputs) == (
        "[DevRawDataSource_02(stage_id='DevRawDataSource_02'), "
        "StreamSelector_01(stage_id='StreamSelector_01')]")
    assert "inputs: [DevRawDataSource_02, " \
        "StreamSelector_01.StreamSelector_01OutputLane1]" in flow.to_yaml()

    assert dev_random_source.disconnect_output_from(trash) == trash
    assert dev_random_source.disconnect_event_from(pipeline_finisher) == \
        pipeline_finisher
    assert dev_random_source.outputs == [] and \
        dev_random_source.events == []
    assert trash.inputs == [stream_selector]
    trash.disconnect_input_from(stream_selector)
    assert trash.inputs == []


def test_chaining_and_multiple_outputs():
    flow = spate.Flow("seed")
    source = flow.add_stage("Dev Data Generator")
    processor = flow.add_stage("Field Remover")
    trash = flow.add_stage("Trash")
    assert source.connect_output_to(processor).connect_output_to(trash) \
        == trash
    assert processor.inputs == [source] and trash.inputs == [processor]
    source = flow.add_stage("Dev Data Generator")
    renamer1 = flow.add_stage("Field Renamer")
    renamer2 = flow.add_stage("Field Renamer")
    assert repr(source.connect_output_to(renamer1, renamer2)) == (
        "[FieldRenamer_01(stage_id='FieldRenamer_01'), "
        "FieldRenamer_02(stage_id='FieldRenamer_02')]")
    assert source.outputs == [renamer1, renamer2]


def test_editing_configuration():
    flow = spate.Flow("seed")
    dev_random_source = flow.add_stage("Dev Data Generator")
    remover = flow.add_stage("Field Remover")
    renamer = flow.add_stage("Field Renamer")
    assert dev_random_source.configuration["records"] == 1000  # default
    dev_random_source.configuration["records"] = 5
    assert dev_random_source.configuration["records"] == 5
    remover.configuration["fields"] = ["/tags", "/message"]
    assert remover.configuration["fields"] == ["/tags", "/message"]
    renamer.configuration["fields"] = {"/user": "/user_name"}
    assert renamer.configuration["fields"] == {"/user": "/user_name"}
    dev_random_source.configuration["fields"] = [
        {"name": "id", "type": "sequence", "min": 1},
        {"name": "kind", "type": "enum", "values": ["a", "b"]}]
    assert dev_random_source.configuration["fields"] == [
        {"name": "id", "type": "sequence", "min": 1},
        {"name": "kind", "type": "enum", "values": ["a", "b"]}]
    with pytest.raises(KeyError, match="did you mean 'records'"):
        dev_random_source.configuration["record"]
    with pytest.raises(KeyError, match="has no option 'stop_after"):
        dev_random_source.configuration["stop_after_first_batch"] = True
    assert "fields" in remover.configuration
    del remover.configuration["fields"]
    assert remover.configuration["fields"] is None
