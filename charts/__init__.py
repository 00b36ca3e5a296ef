"""matplotlib renderers: data in, PNG bytes out, no I/O of their own."""
