"""The forward pipeline: rules, metadata, proxy choice and the step runner (no web, bot or queue code)."""
