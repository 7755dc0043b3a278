"""Durable jobs: queued in the caller's transaction, retried, failed with the reason, taken over
after a crash, followed over the API; the matcher's long work runs as jobs."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select

from okno.context import AppContext
from okno.customers.importer import import_rows
from okno.customers.matching.columns import map_columns
from okno.customers.matching.synthetic import generate_records
from okno.jobs.queue import enqueue_job
from okno.jobs.worker import JobRun, JobWorker
from okno.kit.errors import Invalid
from okno.kit.time import utcnow
from okno.models import Customer, Job, MatchProfile
from tests.factories import admin_headers, login, make_operator


async def queue(ctx: AppContext, kind: str, payload: dict | None = None, *, max_attempts: int = 3) -> int:
    async with ctx.db.transaction() as session:
        return (await enqueue_job(session, kind, payload or {}, max_attempts=max_attempts)).id


async def job(ctx: AppContext, job_id: int) -> Job:
    async with ctx.db.reading() as session:
        return (await session.scalars(select(Job).where(Job.id == job_id))).one()


async def test_a_job_enqueued_in_a_rolled_back_transaction_never_runs(ctx) -> None:
    ran: list[int] = []

    async def record(run: JobRun) -> dict:
        ran.append(run.id)
        return {}

    ctx.jobs.handlers["tests.record"] = record
    try:
        async with ctx.db.transaction() as session:
            await enqueue_job(session, "tests.record", {})
            raise RuntimeError("the request failed")
    except RuntimeError:
        pass
    kept = await queue(ctx, "tests.record")
    await ctx.settle()
    assert ran == [kept]


async def test_a_failing_job_is_retried_and_then_fails_with_its_error(ctx) -> None:
    ctx.jobs.backoff_seconds = 0
    calls = {"flaky": 0, "broken": 0, "refused": 0}

    async def flaky(run: JobRun) -> dict:
        calls["flaky"] += 1
        if run.attempt < 3:
            raise ConnectionError(f"attempt {run.attempt} failed")
        return {"answer": 42, "attempt": run.attempt}

    async def broken(run: JobRun) -> dict:
        calls["broken"] += 1
        raise KeyError("missing")

    async def refused(run: JobRun) -> dict:
        calls["refused"] += 1
        raise Invalid("the payload names no customer")

    ctx.jobs.handlers.update({"tests.flaky": flaky, "tests.broken": broken, "tests.refused": refused})
    ids = [await queue(ctx, kind) for kind in ("tests.flaky", "tests.broken", "tests.refused")]
    unknown = await queue(ctx, "tests.nobody_handles_this")
    await ctx.settle()

    done, failed, refused_job, orphan = [await job(ctx, i) for i in (*ids, unknown)]
    assert (done.status, done.attempts, done.result, done.error) == ("done", 3, {"answer": 42, "attempt": 3}, None)
    assert done.finished_at is not None and done.locked_until is None
    assert (failed.status, failed.attempts, failed.error) == ("failed", 3, "KeyError: 'missing'")
    assert (refused_job.status, refused_job.attempts, refused_job.error) == ("failed", 1, "the payload names no customer")  # no retry
    assert (orphan.status, orphan.error) == ("failed", "no handler for job kind 'tests.nobody_handles_this'")
    assert calls == {"flaky": 3, "broken": 3, "refused": 1}


async def test_a_job_whose_worker_dies_is_taken_over_after_its_lease_and_resumes_from_its_progress(ctx) -> None:
    started = asyncio.Event()
    seen: list[tuple[str, int, dict]] = []

    async def long_work(run: JobRun) -> dict:
        seen.append((run.kind, run.attempt, dict(run.progress)))
        if run.attempt == 1:
            run.report(done_up_to=500)
            started.set()
            await asyncio.sleep(3600)  # the worker dies before this ends
        return {"resumed_from": run.progress["done_up_to"]}

    handlers = {"tests.long": long_work}
    # a heartbeat every second: "the lease still holds" below would need the event loop stalled
    # for two seconds to fail (at 1.2 s, a loaded CI machine came within reach of it)
    first = JobWorker(ctx.db, handlers, lease_seconds=3.0, name="worker-a")
    second = JobWorker(ctx.db, handlers, lease_seconds=3.0, name="worker-b")
    job_id = await queue(ctx, "tests.long")

    crashed = asyncio.create_task(first.drain_once())
    await asyncio.wait_for(started.wait(), 5)
    held = await job(ctx, job_id)
    for _ in range(200):  # a heartbeat saves the progress and pushes the lease on
        if held.progress:
            break
        await asyncio.sleep(0.05)
        held = await job(ctx, job_id)
    assert (held.status, held.locked_by, held.progress) == ("running", "worker-a", {"done_up_to": 500})
    assert held.locked_until is not None and held.locked_until > utcnow()
    assert await second.drain_once() == 0  # the lease still holds
    crashed.cancel()  # the process is killed: no settle, no more heartbeats
    await asyncio.gather(crashed, return_exceptions=True)

    taken_over = 0
    for _ in range(200):  # within a lease (3 s) the job is due again
        taken_over = await second.drain_once()
        if taken_over:
            break
        await asyncio.sleep(0.05)
    assert taken_over == 1
    taken = await job(ctx, job_id)
    assert (taken.status, taken.attempts, taken.locked_by, taken.result) == ("done", 2, "worker-b", {"resumed_from": 500})
    assert seen == [("tests.long", 1, {}), ("tests.long", 2, {"done_up_to": 500})]


async def test_a_job_lost_on_its_last_attempt_fails_instead_of_running_again(ctx) -> None:
    job_id = await queue(ctx, "tests.lost", max_attempts=1)
    async with ctx.db.transaction() as session:
        await session.execute(
            Job.__table__.update().where(Job.id == job_id).values(status="running", attempts=1, locked_by="gone", locked_until=utcnow())
        )
    await asyncio.sleep(0.01)
    assert await JobWorker(ctx.db, {}).drain_once() == 0
    lost = await job(ctx, job_id)
    assert lost.status == "failed" and lost.error == "its worker (gone) stopped during the last of 1 attempts"


async def test_matcher_work_runs_as_jobs_followed_over_the_api(client, ctx) -> None:
    headers = await admin_headers(ctx, client)
    too_few = await client.post("/api/v1/matcher/estimate", headers=headers)
    assert too_few.status_code == 422 and "at least 100 profiles" in too_few.json()["detail"]  # checked before queueing

    columns = ["first_name", "last_name", "birth_date", "phone", "email", "city"]
    rows = generate_records(30, seed=3)
    async with ctx.db.transaction() as session:
        await import_rows(session, [{c: r[c] for c in columns} for r in rows], map_columns(columns), id_column=None, first_row_number=2)
        customers = list(await session.scalars(select(Customer.id).order_by(Customer.id)))
        await session.execute(delete(MatchProfile))  # as if they predated the matcher

    reindex = await client.post("/api/v1/matcher/reindex", headers=headers)
    assert reindex.status_code == 202 and reindex.json()["kind"] == "matcher.reindex"
    await ctx.settle()
    followed = (await client.get(f"/api/v1/jobs/{reindex.json()['id']}", headers=headers)).json()
    expected = {"customers": len(customers), "refiled": len(customers), "last_id": customers[-1]}
    assert followed["status"] == "done" and followed["result"] == expected, followed
    assert followed["progress"] == {**expected, "total": len(customers)}

    stranger = await make_operator(ctx, role="operator")
    other = await login(client, email=stranger["email"])
    assert (await client.get(f"/api/v1/jobs/{reindex.json()['id']}", headers=other)).status_code == 404  # not theirs
    assert (await client.post("/api/v1/matcher/reindex", headers=other)).status_code == 403
    assert (await client.get("/api/v1/jobs/999999", headers=headers)).status_code == 404
