"""ARQ worker: task functions, cron functions and the pipeline driver."""
