"""``python -m crm_api``: serve the API (and its outbox relay and consumers) on HTTP_PORT."""

import uvicorn

from calsync_platform.service_app import init_process
from crm_api.bootstrap import create_app
from crm_api.settings import Settings

SERVICE_NAME = "crm-api"

settings = Settings()
init_process(settings, SERVICE_NAME)
uvicorn.run(create_app(settings), host="0.0.0.0", port=settings.http_port, log_config=None)  # noqa: S104
