"""spate from Python: flows (spate.Flow), Python destination stages
(spate.Stage, spate.StageStatus) and the stage catalog (spate.Client)."""
from . import _native
from .errors import RunError, SpateError, ValidationError

_native.set_error_class(SpateError)

from .catalog import CatalogStage, Client, Session, Table  # noqa: E402
from .flow import AsyncRun, Configuration, Flow, Run  # noqa: E402
from .flow import Stage as FlowStage  # noqa: E402
from .labels import LABELS, stage_types  # noqa: E402
from .stage import Record, Stage, StageContext, StageStatus  # noqa: E402
from .status import RunStatus, StageRunStatus  # noqa: E402

__all__ = ["AsyncRun", "CatalogStage", "Client", "Configuration", "Flow",
           "FlowStage", "LABELS", "Record", "Run", "RunError", "RunStatus",
           "Session", "SpateError", "Stage", "StageContext", "StageRunStatus",
           "StageStatus", "Table", "ValidationError", "stage_types"]
