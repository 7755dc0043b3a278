"""Surveys (CSAT, NPS, CES) sent in the conversation's channel after it is resolved."""
