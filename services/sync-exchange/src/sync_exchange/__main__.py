"""`python -m sync_exchange`: serve the service on HTTP_PORT."""

from calsync_platform.service_app import init_process, serve
from sync_exchange.app import SERVICE_NAME, create_app
from sync_exchange.settings import Settings

settings = Settings()  # from the environment
init_process(settings, SERVICE_NAME)
serve(create_app(settings), settings)
