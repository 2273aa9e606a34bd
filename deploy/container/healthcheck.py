"""HEALTHCHECK of the chatkeeper image: GET /healthz on the server port, exit 0 only on 200."""

import os
import sys
import urllib.request

port = int(os.environ.get("CHATKEEPER_SERVER_PORT", "8080"))
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)
