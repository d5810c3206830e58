"""I/O adapters: database tables and repositories, the secret box."""
