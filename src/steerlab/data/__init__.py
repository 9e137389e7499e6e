"""The data layer: load, validate, clean, redact, split and version a task's examples."""
