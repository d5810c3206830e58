"""`python -m sync_google`: serve the service on HTTP_PORT."""

from calsync_platform.service_app import init_process, serve
from calsync_platform.settings import ServiceSettings
from sync_google.app import SERVICE_NAME, create_app

settings = ServiceSettings()
init_process(settings, SERVICE_NAME)
serve(create_app(settings), settings)
