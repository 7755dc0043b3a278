"""Reviews as conversations: a negative review is urgent (docs/reviews.md)."""
