"""The operator's web UI: server-rendered pages and fragments, a little JS, RU/EN."""
