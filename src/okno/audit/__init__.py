"""The audit log as people read it: who read which customer's data (recorded in batches), and the
admins' query over every entry. Changes are audited where they happen (``okno.kit.audit``)."""
