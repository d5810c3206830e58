"""Exchange Online / Office 365 through Microsoft Graph v1.0."""
