"""schemathesis over the whole OpenAPI document, as an admin and as an operator: no request may
get a 500, every status must be documented and every body must match its documented schema.

The app runs in this process (a loopback uvicorn inside the test's event loop, so the same
database fixtures as every other test); the schemathesis CLI runs beside it with a time budget
(``OKNO_FUZZ_SECONDS`` per token, default 25 s), on SQLite and, when it is configured, PostgreSQL.
A failure prints schemathesis's report: each failing case with a curl line that reproduces it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import LoopbackServer
from tests.factories import admin_headers, login, make_api_channel, make_operator, post_inbound

BUDGET_SECONDS = int(os.environ.get("OKNO_FUZZ_SECONDS", "25"))
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
# a logout revokes the token the rest of the run needs
EXCLUDE = "logout"


def _schemathesis(url: str, authorization: str, seed: int, workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
            "--header", f"Authorization: {authorization}",
            "--checks", CHECKS, "--exclude-path-regex", EXCLUDE,
            "--phases", "coverage,fuzzing", "--max-time", str(BUDGET_SECONDS), "--workers", "1",
            "--seed", str(seed), "--generation-database", "none", "--no-color", "--request-timeout", "20",
        ],
        capture_output=True, text=True, timeout=BUDGET_SECONDS * 4 + 60, cwd=workdir, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


async def test_schemathesis_finds_no_server_error_as_admin_or_operator(app, ctx, client, tmp_path: Path) -> None:
    admin = await admin_headers(ctx, client)
    operator = await make_operator(ctx)
    operator_headers = await login(client, email=operator["email"])
    channel = await make_api_channel(client, admin)  # something for the ids to name
    await post_inbound(client, channel, {"message_id": "fuzz-1", "from": {"phone": "+79160000001", "name": "Анна"}, "text": "Где заказ?"})
    async with LoopbackServer(app) as server:
        for seed, headers in ((1, admin), (2, operator_headers)):
            result = await asyncio.to_thread(_schemathesis, server.url, headers["Authorization"], seed, tmp_path)
            report = result.stdout[-12000:] + result.stderr[-2000:]
            assert "Tested:" in result.stdout, report  # it ran, over the served document
            assert result.returncode == 0, report
