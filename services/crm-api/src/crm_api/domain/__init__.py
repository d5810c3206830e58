"""Pure rules of the CRM's meetings: no I/O."""
