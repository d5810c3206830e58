"""WebDAV / CalDAV protocol: pure XML in ``xml``, a thin httpx shim in ``client`` (ADR 7)."""
