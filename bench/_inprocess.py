"""okno in one process for the in-process benches (``ingest_cpu.py``, ``ingest_stages.py``,
``wal_pages.py``): a fresh SQLite file migrated to head with a new personal-data key, its
settings (workers off: a bench drives them), and the signed webhook loads it sends."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from ingest import SignedBody, make_bodies, make_customers, sign_all

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's factories

from okno.config import Settings  # noqa: E402
from okno.kit import pii  # noqa: E402
from okno.kit.db import create_oneoff_engine  # noqa: E402
from okno.kit.migrate import upgrade_to_head  # noqa: E402


async def fresh_settings(workdir: Path) -> Settings:
    """``workdir/okno.db`` migrated to head; the settings okno is built with on it."""
    key = Fernet.generate_key().decode()
    pii.use_keys([key])
    url = f"sqlite+aiosqlite:///{workdir}/okno.db"
    engine = create_oneoff_engine(url)
    await upgrade_to_head(engine)
    await engine.dispose()
    return Settings(data_dir=workdir, database_url=url, secret_keys=key, embedded_workers=False, log_level="warning", allow_private_urls=True)


def signed_loads(secret: str, *, seed: int, customers: int, warmup: int, messages: int) -> tuple[list[SignedBody], list[SignedBody]]:
    """The warm-up's and the measured run's webhooks, signed for a channel with ``secret``."""
    rng = random.Random(seed)
    people = make_customers(rng, customers)
    return (
        sign_all(secret, make_bodies(rng, people, warmup, "warm")),
        sign_all(secret, make_bodies(rng, people, messages, "msg")),
    )
