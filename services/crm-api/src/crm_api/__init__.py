"""crm_api."""
