"""`python -m sync_caldav`: serve the service on HTTP_PORT."""

from calsync_platform.service_app import serve
from calsync_platform.settings import ServiceSettings

from sync_caldav.app import create_app

settings = ServiceSettings()
serve(create_app(settings), settings)
