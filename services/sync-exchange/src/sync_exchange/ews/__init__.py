"""Exchange Server on premises through Exchange Web Services (EWS), with exchangelib."""
