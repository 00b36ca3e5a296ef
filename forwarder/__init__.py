"""Process entry points: the `forwarder` command wires core, bot, jobs and webapp together."""
