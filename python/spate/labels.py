"""Stage types by the human labels the flow editors of the StreamSets
family show ('Dev Raw Data Source', 'Trash', 'Stream Selector', ...) and
the stage ids made from them (DevRawDataSource_01)."""
import difflib
import re

from . import _native
from .errors import SpateError

# label -> spate stage type
LABELS = {
    "Dev Raw Data Source": "dev_raw_data",
    "Dev Data Generator": "dev_data_generator",
    "Directory": "file_reader",
    "File Reader": "file_reader",
    "Standard Input": "stdin",
    "Field Remover": "field_remover",
    "Field Renamer": "field_renamer",
    "Expression Evaluator": "field_setter",
    "Field Setter": "field_setter",
    "Field Type Converter": "field_type_converter",
    "Filter": "filter",
    "Stream Selector": "stream_selector",
    "Local FS": "file_writer",
    "File Writer": "file_writer",
    "Standard Output": "stdout",
    "Trash": "trash",
    "Pipeline Finisher Executor": "pipeline_finisher",
    "Shell": "shell",
    "Python Stage": "sink",
}

# spate stage type -> the label its stage ids are made from
TYPE_LABELS = {
    "dev_raw_data": "Dev Raw Data Source",
    "dev_data_generator": "Dev Data Generator",
    "file_reader": "File Reader",
    "stdin": "Standard Input",
    "field_remover": "Field Remover",
    "field_renamer": "Field Renamer",
    "field_setter": "Expression Evaluator",
    "field_type_converter": "Field Type Converter",
    "filter": "Filter",
    "stream_selector": "Stream Selector",
    "file_writer": "Local FS",
    "stdout": "Standard Output",
    "trash": "Trash",
    "pipeline_finisher": "Pipeline Finisher Executor",
    "shell": "Shell",
    "sink": "Python Stage",
}

_types = None


def stage_types():
    """{type name: {'name', 'kind', 'help', 'options': [...],
    'kinds': {kind: {'name', 'kind', 'help', 'options'}}}}: a name of two
    kinds (postgres: the origin of a stage without inputs, else the
    destination) is described as the destination, both under 'kinds'."""
    global _types
    if _types is None:
        kinds = {}
        for t in _native.stage_types():
            kinds.setdefault(t["name"], {})[t["kind"]] = t
        _types = {}
        for name, by_kind in kinds.items():
            main = next((t for k, t in by_kind.items() if k != "origin"),
                        by_kind.get("origin"))
            _types[name] = dict(main, kinds=by_kind)
    return _types


def label_of(type_name):
    return TYPE_LABELS.get(type_name,
                           type_name.replace("_", " ").title())


def id_base(label):
    """'Dev Raw Data Source' -> 'DevRawDataSource'"""
    return re.sub(r"[^A-Za-z0-9]", "", label) or "Stage"


def resolve(label=None, name=None, type=None):
    """The spate type for add_stage's label / name and kind (type)."""
    types = stage_types()
    key = label if label is not None else name
    if key is None:
        raise SpateError("add_stage: give a label or a name")
    candidates = []
    if key in LABELS:
        candidates = [t for lab, t in LABELS.items() if lab == key]
    elif key in types:
        candidates = [key]
    else:
        folded = {lab.lower(): t for lab, t in LABELS.items()}
        if key.lower() in folded:
            candidates = [folded[key.lower()]]
    if type is not None:
        candidates = [t for t in candidates
                      if t in types and type in types[t]["kinds"]]
    if candidates:
        return candidates[0]
    known = list(LABELS) + list(types)
    near = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean '{near[0]}'?" if near else ""
    kind = f" of type {type}" if type else ""
    raise SpateError(f"no stage{kind} labelled or named '{key}'{hint}", 2)
