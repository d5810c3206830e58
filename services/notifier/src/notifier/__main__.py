"""`python -m notifier`: serve the service on HTTP_PORT."""

from calsync_platform.service_app import init_process, serve
from notifier.app import SERVICE_NAME, create_app
from notifier.settings import NotifierSettings

settings = NotifierSettings()
init_process(settings, SERVICE_NAME)
serve(create_app(settings), settings)
