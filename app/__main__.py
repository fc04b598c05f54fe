"""`python -m app`: serve the playground with uvicorn, configured from the environment."""

import uvicorn

from app.main import create_app
from app.settings import Settings

settings = Settings.from_env()
uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)
