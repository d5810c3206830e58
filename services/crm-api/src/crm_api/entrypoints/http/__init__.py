"""HTTP entrypoints. Each module has a ``router``; ``ROUTERS`` in ``bootstrap`` lists them."""
