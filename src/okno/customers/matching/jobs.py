"""The matcher's long work as durable jobs: estimating the model, re-filing stored profiles.

Both run in the worker, never inside the request that asked for them; the request only checks
what it can check cheaply and queues the job (``GET /api/v1/jobs/{id}`` follows it).
"""

from __future__ import annotations

from typing import Any

from okno.customers.matching.realtime import current_model
from okno.customers.matching.reindex import ReindexReport, customers_after, reindex_profiles
from okno.customers.matching.suggestions import save_model
from okno.customers.matching.training import estimate_from_records, sample_profiles
from okno.jobs.worker import JobRun

ESTIMATE = "matcher.estimate"
REINDEX = "matcher.reindex"


async def run_estimate(run: JobRun) -> dict[str, Any]:
    """Re-estimates m, u and the prior from a sample of stored profiles (EM, in a thread); the
    thresholds are kept."""
    async with run.db.reading() as session:
        current = await current_model(session, fresh=True)
        records = await sample_profiles(session, run.payload["sample"])
    run.report(stage="estimating", profiles=len(records))
    model, stats = await run.in_thread(estimate_from_records, records, current)
    async with run.db.transaction() as session:
        await save_model(session, model, actor_id=run.payload.get("actor_id"))
    run.report(stage="saved")
    return {"params": model.params(), "stats": stats}


async def run_reindex(run: JobRun) -> dict[str, Any]:
    """Re-files stale profiles a chunk per transaction; a job taken over after a crash resumes
    after the last chunk its predecessor reported."""
    after_id = int(run.progress.get("last_id", run.payload.get("after_id", 0)))
    total = await customers_after(run.db, after_id) + int(run.progress.get("customers", 0))
    done_before, refiled_before = int(run.progress.get("customers", 0)), int(run.progress.get("refiled", 0))

    def progress(report: ReindexReport) -> None:
        run.report(customers=done_before + report.customers, refiled=refiled_before + report.refiled, last_id=report.last_id, total=total)

    report = await reindex_profiles(run.db, after_id=after_id, chunk=int(run.payload.get("chunk", 1000)), progress=progress)
    return {"customers": done_before + report.customers, "refiled": refiled_before + report.refiled, "last_id": report.last_id}
