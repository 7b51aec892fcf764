"""Batch scoring and planning of orders files of any size, one customer partition at a time.

Public API::

    score_file(orders, as_of, out, *, model, ...) -> BatchResult     # `repurchase score`
    plan_file(orders, as_of, out, *, policy, model, ...) -> PlanResult  # `repurchase plan`
    partition_of(customer_ids, n_partitions) -> np.ndarray            # the stable hash
    StreamedTable(path, schema)                                       # atomic partial writes

``serving.batch.dask_engine.score_with_dask`` scores on a Dask cluster instead (imported on
demand: Dask is optional).
"""

from serving.batch.output import StreamedTable
from serving.batch.planning import PlanResult, plan_file
from serving.batch.scoring import BatchResult, score_file
from serving.batch.spill import partition_of

__all__ = ["BatchResult", "PlanResult", "StreamedTable", "partition_of", "plan_file", "score_file"]
