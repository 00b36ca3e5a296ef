"""The forward pipeline (no web, bot or queue code, and nothing from ``core.services``).

Pure rules: ``rules`` (filters, schedule, retry policy), ``metadata``, ``transform``, and the
job state machine's decisions in ``machine``. Steps: ``steps`` (platform and ffmpeg work, no
database). Database effects: ``machine`` (the lease and the job's moves), ``outcome`` (a
run's end in one transaction), ``effects``, ``job_alerts``, ``proxy_choice``.
"""
