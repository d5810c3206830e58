"""`python -m sync_caldav`: serve the service on HTTP_PORT."""

from calsync_platform.service_app import init_process, serve
from sync_caldav.app import SERVICE_NAME, create_app
from sync_caldav.settings import Settings

settings = Settings()  # from the environment
init_process(settings, SERVICE_NAME)
serve(create_app(settings), settings)
