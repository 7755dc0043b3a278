"""Channel kind ``email``: IMAP IDLE inbound, SMTP outbound, threads by Message-ID."""
