"""Entry point for `flask --app wsgi` and gunicorn (`gunicorn wsgi:app`)."""

import sys

from config import ConfigError

try:
    from crm import create_app

    app = create_app()
except ConfigError as exc:
    # A clear message and a non-zero exit instead of a traceback.
    print(f"Configuration error: {exc}", file=sys.stderr)
    sys.exit(2)
