"""Telephony: what okno does when a call's facts change (screen pop, the answering operator,
missed calls as callback tasks, callbacks completing them). docs/telephony.md."""
