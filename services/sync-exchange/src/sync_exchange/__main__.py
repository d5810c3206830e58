"""`python -m sync_exchange`: serve the service on HTTP_PORT."""

from calsync_platform.service_app import serve
from calsync_platform.settings import ServiceSettings

from sync_exchange.app import create_app

settings = ServiceSettings()
serve(create_app(settings), settings)
