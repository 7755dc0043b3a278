"""Monthly rollups of the report facts, kept by database triggers in the facts' own transaction.

A fact row (``report_conversations``) contributes to three tables (``models/reports.py``), each
keyed by the UTC month of the period rule it belongs to, by its team and assignee (0 for none:
the access rule and the filters read them) and by a channel: once to the cells of channel 0 (every
conversation) and once to those of each channel it used (its rows in
``report_conversation_channels``), so the ``channel_id`` filter reads exactly the conversations
the facts' filter keeps (one that used the channel), without adding any twice:

- ``report_rollups``: per rule (0: opened, by ``opened_at``; 1: resolved, by ``resolved_at``) the
  conversations, the measured ones (FRT answered; resolution), the wall and business sums, the
  SLA verdicts, FCR and repeat contacts — everything additive the summary shows;
- ``report_rollup_channels``: the openings per (first-touch kind, set of kinds used);
- ``report_rollup_durations``: a histogram per measure (0 FRT, 1 FRT business, 2 resolution,
  3 resolution business): how many values fall in each duration bucket (``THRESHOLDS``).

A survey row (``report_surveys``) likewise adds its answer to ``report_rollup_surveys``, keyed by
the month of its ``period_at``, team, assignee, channel (0: none) and kind.

Triggers (``trigger_ddl``) subtract a changed row's old contribution and add its new one, on
every insert, update of a figure's column, and delete — whatever writes the facts: the live
projection, ``okno reports rebuild``, a cascade from a deleted conversation. A channel row added
to (or removed from) ``report_conversation_channels`` adds its fact row to (removes it from)
that channel's cells. Each channel row also carries a copy of its fact's ``COPIED_COLUMNS``
(a percentile's second step with the channel filter reads them), kept by the same triggers.
``fill_statements`` recomputes the rollup tables and the copies from the facts (the migration,
the bulk bench's load); the same grouped reads let a test compare the triggers' tables with the
facts.

The summary (``queries.py``) reads whole months from here and the rest of the period (the partial
months at its ends) from the facts; percentiles are found exactly in two steps: the histogram
gives the bucket holding the rank, then one ordered read of that bucket's facts (an index on each
duration column) gives the value.
"""

from __future__ import annotations

from datetime import UTC, datetime

# lower bounds of the duration buckets, in seconds: ⌊2^(i/4)⌋ up to 2^22 (48 days), ~19 % wide;
# bucket b (1..len) holds THRESHOLDS[b-1] <= value < THRESHOLDS[b]; bucket 0 the values below 1
THRESHOLDS: tuple[int, ...] = tuple(sorted({int(2 ** (i / 4)) for i in range(89)}))

# (measure, value column, rule: the timestamp whose month keys it)
MEASURES = (
    (0, "frt_seconds", "opened_at"),
    (1, "frt_business_seconds", "opened_at"),
    (2, "resolution_seconds", "resolved_at"),
    (3, "resolution_business_seconds", "resolved_at"),
)

# the fact columns a rollup reads: an update of any other column leaves the rollups alone
ROLLED_COLUMNS = (
    "opened_at", "resolved_at", "team_id", "operator_id", "frt_seconds", "frt_business_seconds", "sla_first_response",
    "resolution_seconds", "resolution_business_seconds", "sla_resolution", "reopened", "transferred", "repeat_contact_id",
    "first_channel_kind", "channel_kinds",
)  # fmt: skip

SURVEY_COLUMNS = ("period_at", "team_id", "operator_id", "channel_id", "kind", "score")
SURVEY_SUMS = ("responses", "satisfied", "promoters", "detractors", "score_total")

ADDITIVE = ("conversations", "measured", "wall_seconds", "business_seconds", "sla_met", "sla_missed", "fcr", "repeats")


def month_of(moment: datetime) -> int:
    """The month key of an aware datetime: months since year 0, UTC."""
    moment = moment.astimezone(UTC)
    return moment.year * 12 + moment.month - 1


def month_start(key: int) -> datetime:
    return datetime(key // 12, key % 12 + 1, 1, tzinfo=UTC)


def bucket_of(value: int) -> int:
    """Python's copy of the SQL bucket (the number of thresholds at or below the value)."""
    from bisect import bisect_right

    return bisect_right(THRESHOLDS, value)


def bucket_bounds(bucket: int) -> tuple[int | None, int | None]:
    """``[low, high)`` of a bucket; None: unbounded."""
    return (THRESHOLDS[bucket - 1] if bucket > 0 else None, THRESHOLDS[bucket] if bucket < len(THRESHOLDS) else None)


def month_sql(column: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"(EXTRACT(YEAR FROM {column} AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM {column} AT TIME ZONE 'UTC') - 1)::int"
    return f"(CAST(substr({column}, 1, 4) AS INTEGER) * 12 + CAST(substr({column}, 6, 2) AS INTEGER) - 1)"  # UTC text


def bucket_sql(column: str, dialect: str) -> str:
    if dialect == "postgresql":  # a binary search over the bounds
        return f"width_bucket({column}, ARRAY[{', '.join(map(str, THRESHOLDS))}]::int[])"
    whens = " ".join(f"WHEN {column} >= {low} THEN {b}" for b, low in reversed(list(enumerate(THRESHOLDS, 1))))
    return f"(CASE {whens} ELSE 0 END)"


def _fcr(row: str) -> str:
    return f"{row}reopened = 0 AND NOT {row}transferred AND {row}repeat_contact_id IS NULL"


def _rule_sums(row: str, rule: int, grouped: bool) -> list[str]:
    """The additive columns of one rule, for one row (``grouped=False``: ``row`` is ``NEW.``/``OLD.``,
    and the caller multiplies by the sign) or summed over a group of facts."""
    wall, business, sla = ("frt_seconds", "frt_business_seconds", "sla_first_response") if rule == 0 else (
        "resolution_seconds", "resolution_business_seconds", "sla_resolution")  # fmt: skip

    def flag(condition: str) -> str:
        return f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    values = [
        "1",
        flag(f"{row}{wall} IS NOT NULL"),
        f"COALESCE({row}{wall}, 0)",
        f"COALESCE({row}{business}, 0)",
        flag(f"{row}{sla} = 'met'"),
        flag(f"{row}{sla} = 'missed'"),
        flag(_fcr(row)) if rule == 1 else "0",
        flag(f"{row}repeat_contact_id IS NOT NULL") if rule == 1 else "0",
    ]
    return [f"COALESCE(SUM({v}), 0)" if grouped else v for v in values]


_KEY = "COALESCE({r}team_id, 0), COALESCE({r}operator_id, 0)"

# a fact row's channel cells: 0 (every conversation, no channel filter) and each channel it used
_USES = ("(SELECT 0 AS channel_id UNION ALL SELECT channel_id FROM report_conversation_channels"
         " WHERE conversation_id = {r}conversation_id) AS used")  # fmt: skip


# the fact columns each rollup statement reads (besides the team, the assignee and the conversation)
_READS = {
    0: ("opened_at", "frt_seconds", "frt_business_seconds", "sla_first_response"),
    1: (
        "resolved_at",
        "resolution_seconds",
        "resolution_business_seconds",
        "sla_resolution",
        "reopened",
        "transferred",
        "repeat_contact_id",
    ),
    "channels": ("opened_at", "first_channel_kind", "channel_kinds"),
}


def _row_changed(columns: tuple[str, ...], dialect: str) -> str:
    """A row trigger's condition: one of ``columns`` changed."""
    if dialect == "postgresql":
        return f"({', '.join('OLD.' + c for c in columns)}) IS DISTINCT FROM ({', '.join('NEW.' + c for c in columns)})"
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


def _changed(columns: tuple[str, ...], dialect: str) -> str:
    """In an update trigger: whether any of these columns changed (a statement whose columns did not
    would subtract and add the same values; it is skipped)."""
    changed = _row_changed(("conversation_id", "team_id", "operator_id", *columns), dialect)
    return changed if dialect == "postgresql" else f"({changed})"


def _row_upserts(
    row: str, sign: str, dialect: str, *, source: str, channel: str, where: str = "true", update: bool = False
) -> list[str]:
    """The statements that add (sign 1) or remove (sign -1) one fact row's contribution (``row``:
    its columns' prefix) to the cells of each ``channel`` the ``source`` rows give (``where``: which;
    ``update``: in an update trigger, each statement only if a column it reads changed)."""
    key = _KEY.format(r=row)
    opened, resolved = month_sql(f"{row}opened_at", dialect), month_sql(f"{row}resolved_at", dialect)

    def gated(what: object, columns: tuple[str, ...]) -> str:
        return f"{what} AND {_changed(columns, dialect)}" if update else str(what)

    out = []
    for rule, month, when in (
        (0, opened, gated(where, _READS[0])),
        (1, resolved, f"{gated(where, _READS[1])} AND {row}resolved_at IS NOT NULL"),
    ):
        values = ", ".join(f"{sign} * {v}" for v in _rule_sums(row, rule, grouped=False))
        adds = ", ".join(f"{c} = report_rollups.{c} + excluded.{c}" for c in ADDITIVE)
        out.append(
            f"INSERT INTO report_rollups (rule, channel_id, month, team_id, operator_id, {', '.join(ADDITIVE)})"
            f" SELECT {rule}, {channel}, {month}, {key}, {values} FROM {source} WHERE {when}"
            f" ON CONFLICT (rule, channel_id, month, team_id, operator_id) DO UPDATE SET {adds}"
        )
    out.append(
        "INSERT INTO report_rollup_channels (channel_id, month, team_id, operator_id, first_channel_kind, channel_kinds, conversations)"
        f" SELECT {channel}, {opened}, {key}, COALESCE({row}first_channel_kind, ''), COALESCE({row}channel_kinds, ''), {sign}"
        f" FROM {source} WHERE {gated(where, _READS['channels'])}"
        " ON CONFLICT (channel_id, month, team_id, operator_id, first_channel_kind, channel_kinds)"
        " DO UPDATE SET conversations = report_rollup_channels.conversations + excluded.conversations"
    )
    for measure, column, stamp in MEASURES:
        out.append(
            "INSERT INTO report_rollup_durations (measure, channel_id, month, team_id, operator_id, bucket, n)"
            f" SELECT {measure}, {channel}, {month_sql(row + stamp, dialect)}, {key}, {bucket_sql(row + column, dialect)}, {sign}"
            f" FROM {source} WHERE {gated(where, (stamp, column))} AND {row}{stamp} IS NOT NULL AND {row}{column} IS NOT NULL"
            " ON CONFLICT (measure, channel_id, month, team_id, operator_id, bucket) DO UPDATE SET n = report_rollup_durations.n + excluded.n"
        )
    return out


# the fact columns a channel row carries a copy of: a percentile's second step with the channel
# filter reads one bucket's values of one channel from its own index (``models/reports.py``)
COPIED_COLUMNS = (
    "opened_at", "resolved_at", "team_id", "operator_id", "frt_seconds", "frt_business_seconds", "resolution_seconds",
    "resolution_business_seconds",
)  # fmt: skip
_COPIES = ", ".join(COPIED_COLUMNS)


def _copy_to_uses(row: str) -> str:
    """The fact row's (``NEW.``) copies into its channel rows."""
    return (
        f"UPDATE report_conversation_channels SET ({_COPIES}) = ({', '.join(row + c for c in COPIED_COLUMNS)})"
        f" WHERE conversation_id = {row}conversation_id"
    )


def _copy_from_fact(row: str) -> str:
    """A channel row's (``NEW.``) copies from its fact row (none yet: NULL, until the fact's insert copies them)."""
    return (
        f"UPDATE report_conversation_channels SET ({_COPIES}) = (SELECT {_COPIES} FROM report_conversations AS fact"
        f" WHERE fact.conversation_id = {row}conversation_id)"
        f" WHERE conversation_id = {row}conversation_id AND channel_id = {row}channel_id"
    )


def _fact_upserts(row: str, sign: str, dialect: str, *, update: bool = False) -> list[str]:
    """A fact row (``NEW.``/``OLD.``) in its channel-0 cells and those of every channel it used."""
    return _row_upserts(row, sign, dialect, source=_USES.format(r=row), channel="used.channel_id", update=update)


def _use_upserts(row: str, sign: str, dialect: str) -> list[str]:
    """A channel use (``NEW.``/``OLD.`` of ``report_conversation_channels``): its fact row, if
    there is one, in that channel's cells."""
    return _row_upserts(
        "fact.", sign, dialect, source="report_conversations AS fact", channel=f"{row}channel_id",
        where=f"fact.conversation_id = {row}conversation_id",
    )  # fmt: skip


def _survey_values(row: str, grouped: bool) -> list[str]:
    def flag(condition: str) -> str:
        return f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    values = [flag(f"{row}score IS NOT NULL"), flag(f"{row}score >= 4"), flag(f"{row}score >= 9"), flag(f"{row}score <= 6"),
              f"COALESCE({row}score, 0)"]  # fmt: skip
    return [f"COALESCE(SUM({v}), 0)" if grouped else v for v in values]


_SURVEY_KEY = "COALESCE({r}team_id, 0), COALESCE({r}operator_id, 0), COALESCE({r}channel_id, 0), {r}kind"


def _survey_upsert(row: str, sign: str, dialect: str) -> str:
    values = ", ".join(f"{sign} * {v}" for v in _survey_values(row, grouped=False))
    adds = ", ".join(f"{c} = report_rollup_surveys.{c} + excluded.{c}" for c in SURVEY_SUMS)
    return (
        f"INSERT INTO report_rollup_surveys (month, team_id, operator_id, channel_id, kind, {', '.join(SURVEY_SUMS)})"
        f" SELECT {month_sql(row + 'period_at', dialect)}, {_SURVEY_KEY.format(r=row)}, {values} WHERE {row}score IS NOT NULL"
        f" ON CONFLICT (month, team_id, operator_id, channel_id, kind) DO UPDATE SET {adds}"
    )


def _pg_triggers(name: str, table: str, function: str, columns: tuple[str, ...], *, events: tuple[str, ...], delete_before: bool = False) -> list[str]:
    """PostgreSQL: one row trigger per event running ``function``; an update's only when ``columns`` changed."""
    statements = []
    for event in events:
        timing = "BEFORE" if event == "delete" and delete_before else "AFTER"
        when = f" WHEN ({_row_changed(columns, 'postgresql')})" if event == "update" else ""
        statements.append(f"CREATE TRIGGER {name}_{event} {timing} {event.upper()} ON {table} FOR EACH ROW{when} EXECUTE FUNCTION {function}()")
    return statements


def _sqlite_triggers(name: str, table: str, columns: tuple[str, ...], bodies: dict[str, list[str]], *, delete_before: bool = False) -> list[str]:
    """SQLite: one trigger per event (``bodies``: its statements); an update's only when ``columns`` changed."""
    statements = []
    for event, body in bodies.items():
        timing = "BEFORE" if event == "delete" and delete_before else "AFTER"
        # an update's trigger names its columns: SQLite then leaves it out of every UPDATE that sets
        # none of them (not even set up per row to find its WHEN false), e.g. a fact's waiting_since
        of = f" OF {', '.join(columns)}" if event == "update" else ""
        when = f" WHEN {_row_changed(columns, 'sqlite')}" if event == "update" else ""
        statements.append(f"CREATE TRIGGER {name}_{event} {timing} {event.upper()}{of} ON {table}{when} BEGIN\n{_statements(body)}END")
    return statements


def _survey_trigger_ddl(dialect: str) -> list[str]:
    old, new = _survey_upsert("OLD.", "-1", dialect), _survey_upsert("NEW.", "1", dialect)
    if dialect == "postgresql":
        return [
            "CREATE FUNCTION report_rollup_surveys_apply() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"IF TG_OP <> 'INSERT' THEN\n{old};\nEND IF;\nIF TG_OP <> 'DELETE' THEN\n{new};\nEND IF;\nRETURN NULL;\nEND $$",
            "CREATE TRIGGER report_rollup_surveys_insert_delete AFTER INSERT OR DELETE ON report_surveys"
            " FOR EACH ROW EXECUTE FUNCTION report_rollup_surveys_apply()",
            *_pg_triggers("report_rollup_surveys", "report_surveys", "report_rollup_surveys_apply", SURVEY_COLUMNS, events=("update",)),
        ]
    return _sqlite_triggers("report_rollup_surveys", "report_surveys", SURVEY_COLUMNS, {"insert": [new], "delete": [old], "update": [old, new]})


def trigger_ddl(dialect: str) -> list[str]:
    return [*_fact_trigger_ddl(dialect), *_copy_trigger_ddl(dialect), *_use_trigger_ddl(dialect), *_survey_trigger_ddl(dialect)]


def _statements(*groups: list[str]) -> str:
    return "".join(s + ";\n" for group in groups for s in group)


# A fact row's channel cells need both its row and its channel rows. A deleted conversation
# cascades to both tables, and PostgreSQL runs the cascades' AFTER triggers only once both rows are
# gone — so deletes are rolled out BEFORE the row goes (whichever table the cascade empties first,
# the other's trigger no longer finds its partner, and each pair is subtracted exactly once).
def _fact_trigger_ddl(dialect: str) -> list[str]:
    old, new = _fact_upserts("OLD.", "-1", dialect), _fact_upserts("NEW.", "1", dialect)
    updated = [*_fact_upserts("OLD.", "-1", dialect, update=True), *_fact_upserts("NEW.", "1", dialect, update=True)]
    if dialect == "postgresql":
        return [
            "CREATE FUNCTION report_rollups_apply() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"IF TG_OP = 'DELETE' THEN\n{_statements(old)}RETURN OLD;\nEND IF;\n{_statements(new)}RETURN NULL;\nEND $$",
            "CREATE FUNCTION report_rollups_update_apply() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"{_statements(updated)}RETURN NULL;\nEND $$",
            *_pg_triggers("report_rollups", "report_conversations", "report_rollups_apply", ROLLED_COLUMNS, events=("insert", "delete"), delete_before=True),
            *_pg_triggers("report_rollups", "report_conversations", "report_rollups_update_apply", ROLLED_COLUMNS, events=("update",)),
        ]
    return _sqlite_triggers("report_rollups", "report_conversations", ROLLED_COLUMNS, {"insert": new, "delete": old, "update": updated}, delete_before=True)


def _copy_trigger_ddl(dialect: str) -> list[str]:
    """The fact row's ``COPIED_COLUMNS`` into its channel rows, on its insert and as they change."""
    copy = _copy_to_uses("NEW.")
    if dialect == "postgresql":
        return [
            "CREATE FUNCTION report_rollup_copies_apply() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"{copy};\nRETURN NULL;\nEND $$",
            *_pg_triggers("report_rollup_copies", "report_conversations", "report_rollup_copies_apply", COPIED_COLUMNS, events=("insert", "update")),
        ]
    return _sqlite_triggers("report_rollup_copies", "report_conversations", COPIED_COLUMNS, {"insert": [copy], "update": [copy]})


_USE_KEY = ("conversation_id", "channel_id")


def _use_trigger_ddl(dialect: str) -> list[str]:
    """A conversation's new channel (the projection records one as it sees it) adds its fact row to
    that channel's cells; a channel row removed (a rebuild, a cascade) takes it out."""
    old, new = _use_upserts("OLD.", "-1", dialect), [*_use_upserts("NEW.", "1", dialect), _copy_from_fact("NEW.")]
    if dialect == "postgresql":
        return [
            "CREATE FUNCTION report_rollup_uses_apply() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"IF TG_OP <> 'INSERT' THEN\n{_statements(old)}END IF;\nIF TG_OP <> 'DELETE' THEN\n{_statements(new)}END IF;\n"
            "IF TG_OP = 'DELETE' THEN\nRETURN OLD;\nEND IF;\nRETURN NULL;\nEND $$",
            *_pg_triggers("report_rollup_uses", "report_conversation_channels", "report_rollup_uses_apply", _USE_KEY,
                          events=("insert", "delete", "update"), delete_before=True),
        ]
    return _sqlite_triggers("report_rollup_uses", "report_conversation_channels", _USE_KEY, {"insert": new, "delete": old, "update": [*old, *new]},
                            delete_before=True)


TRIGGERS = {
    "report_rollups": ("report_conversations", ("insert", "delete", "update")),
    "report_rollup_copies": ("report_conversations", ("insert", "update")),
    "report_rollup_uses": ("report_conversation_channels", ("insert", "delete", "update")),
    "report_rollup_surveys": ("report_surveys", ("insert_delete", "update")),
}


def drop_trigger_ddl(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {name}_{what} ON {table}" for name, (table, whats) in TRIGGERS.items() for what in whats
        ] + [f"DROP FUNCTION IF EXISTS {name}_apply()" for name in (*TRIGGERS, "report_rollups_update")]
    return [f"DROP TRIGGER IF EXISTS {name}_{what}" for name in TRIGGERS for what in ("insert", "delete", "update")]


# every fact row once per channel cell: 0 (all of them) and each channel it used
_CELLS = ("report_conversations JOIN (SELECT conversation_id, 0 AS channel_id FROM report_conversations"
          " UNION ALL SELECT conversation_id, channel_id FROM report_conversation_channels) AS used USING (conversation_id)")  # fmt: skip


def grouped_reads(dialect: str) -> dict[str, str]:
    """Per rollup table, the rows it must hold, computed straight from the facts (every group the
    facts make; the triggers' tables may also hold groups whose counts went back to 0)."""
    key = f"used.channel_id, {{month}}, {_KEY.format(r='')}"
    opened, resolved = month_sql("opened_at", dialect), month_sql("resolved_at", dialect)
    rules = [
        f"SELECT {rule}, {key.format(month=month)}, {', '.join(_rule_sums('', rule, grouped=True))} FROM {_CELLS}"
        f" WHERE {when} GROUP BY {key.format(month=month)}"
        for rule, month, when in ((0, opened, "true"), (1, resolved, "resolved_at IS NOT NULL"))
    ]
    durations = [
        f"SELECT {measure}, {key.format(month=month_sql(stamp, dialect))}, {bucket_sql(column, dialect)}, COUNT(*) FROM {_CELLS}"
        f" WHERE {stamp} IS NOT NULL AND {column} IS NOT NULL GROUP BY {key.format(month=month_sql(stamp, dialect))}, {bucket_sql(column, dialect)}"
        for measure, column, stamp in MEASURES
    ]
    kinds = "COALESCE(first_channel_kind, ''), COALESCE(channel_kinds, '')"
    return {
        "report_rollups": " UNION ALL ".join(rules),
        "report_rollup_channels": f"SELECT {key.format(month=opened)}, {kinds}, COUNT(*) FROM {_CELLS} GROUP BY {key.format(month=opened)}, {kinds}",
        "report_rollup_durations": " UNION ALL ".join(durations),
        "report_rollup_surveys": f"SELECT {month_sql('period_at', dialect)}, {_SURVEY_KEY.format(r='')}, {', '.join(_survey_values('', grouped=True))}"
        f" FROM report_surveys WHERE score IS NOT NULL GROUP BY {month_sql('period_at', dialect)}, {_SURVEY_KEY.format(r='')}",
    }


COLUMNS = {
    "report_rollups": f"rule, channel_id, month, team_id, operator_id, {', '.join(ADDITIVE)}",
    "report_rollup_channels": "channel_id, month, team_id, operator_id, first_channel_kind, channel_kinds, conversations",
    "report_rollup_durations": "measure, channel_id, month, team_id, operator_id, bucket, n",
    "report_rollup_surveys": f"month, team_id, operator_id, channel_id, kind, {', '.join(SURVEY_SUMS)}",
}


def fill_statements(dialect: str) -> list[str]:
    """Empty the rollups and compute them again from the facts (no trigger fires: the facts stay)."""
    reads = grouped_reads(dialect)
    copies = (
        f"UPDATE report_conversation_channels AS used SET ({_COPIES}) = ({', '.join('fact.' + c for c in COPIED_COLUMNS)})"
        " FROM report_conversations AS fact WHERE fact.conversation_id = used.conversation_id"
        if dialect == "postgresql"
        else f"UPDATE report_conversation_channels SET ({_COPIES}) = (SELECT {_COPIES} FROM report_conversations AS fact"
        " WHERE fact.conversation_id = report_conversation_channels.conversation_id)"
    )
    return (
        [f"DELETE FROM {table}" for table in COLUMNS]
        + [f"INSERT INTO {table} ({COLUMNS[table]}) {reads[table]}" for table in COLUMNS]
        + [copies]
    )
