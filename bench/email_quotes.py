"""Quote stripping on the recorded client fixtures: okno's own splitter against ``mail-parser-reply``.

For each fixture in tests/channels/fixtures/email/eml that is not a bounce, the plain text as
``parse_email`` reads it is split by both, and the new text compared with the expected one
(``new_text`` in the fixture's .json, whitespace at the ends and blank-line runs normalised).
A looser second figure forgives signatures: every line of the expected new text is kept and the
quoted history is gone (in these fixtures every quoted message and list footer, and nothing the
customer wrote, names "okno").
The library is optional (it is not a dependency of okno): without it, only okno's figures print.

    PYTHONPATH=src python bench/email_quotes.py
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from okno.channels.adapters.email.parsing import parse_email
from okno.channels.adapters.email.quotes import split_reply

EML = Path(__file__).parent.parent / "tests" / "channels" / "fixtures" / "email" / "eml"


def _norm(text: str) -> str:
    return re.sub(r"\n\s*\n+", "\n\n", "\n".join(line.rstrip() for line in text.strip().splitlines()))


def _history_gone(got: str, want: str) -> bool:
    lines = {line.strip() for line in got.splitlines()}
    return "okno" not in got.lower() and all(line.strip() in lines for line in want.splitlines() if line.strip())


def _library() -> Callable[[str], str] | None:
    try:
        from mailparser_reply import EmailReplyParser  # type: ignore[import-not-found]
        from mailparser_reply.constants import MAIL_LANGUAGES  # type: ignore[import-not-found]
    except ImportError:
        return None
    languages = [lang for lang in ("en", "ru") if lang in MAIL_LANGUAGES]
    parser = EmailReplyParser(languages=languages)
    print(f"mail-parser-reply languages used: {languages} (offered: {sorted(MAIL_LANGUAGES)})")
    return lambda text: parser.parse_reply(text=text) or ""


def main() -> int:
    cases = []
    for path in sorted(EML.glob("*.eml")):
        want = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        if want["bounce"] is None:
            cases.append((path.stem, parse_email(path.read_bytes()).text, want["new_text"]))
    splitters: dict[str, Callable[[str], str]] = {"okno": lambda text: split_reply(text).new}
    library = _library()
    if library is not None:
        splitters["mail-parser-reply"] = library
    for name, split in splitters.items():
        right = [stem for stem, text, want in cases if _norm(split(text)) == _norm(want)]
        wrong = [stem for stem, _, _ in cases if stem not in right]
        loose = [stem for stem, text, want in cases if _history_gone(split(text), want)]
        print(f"{name}: {len(right)}/{len(cases)} fixtures give exactly the expected new text ({100 * len(right) / len(cases):.0f} %);"
              f" history gone and new text kept: {len(loose)}/{len(cases)} ({100 * len(loose) / len(cases):.0f} %)")
        for lang in ("en", "ru"):
            subset = [stem for stem, _, _ in cases if f"_{lang}" in stem]
            print(f"  {lang}: exact {len([s for s in right if s in subset])}/{len(subset)}, history gone {len([s for s in loose if s in subset])}/{len(subset)}")
        for stem in wrong:
            print(f"  wrong: {stem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
