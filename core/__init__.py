"""The kernel every package may use: clock, base errors, types, db sessions, the event bus,
Redis key names. Each module is one facility and is imported as such (``core.errors``,
``core.bus``, ...): the kernel has no business rules to hide, and a single namespace
would make every importer load FastAPI and SQLAlchemy for the sake of a clock."""
