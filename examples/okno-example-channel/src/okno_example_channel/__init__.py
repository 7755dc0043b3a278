"""An example okno channel plugin: a polled guestbook (see README.md)."""
