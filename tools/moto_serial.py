"""moto's server, one request at a time.

moto_server serves requests on threads, and moto's DynamoDB backend does not
lock around UpdateItem, so concurrent `ADD` updates can be lost in the
emulator (DynamoDB itself applies them atomically). Stackwright's tests run
moto through this launcher so that the emulator is as atomic as the real
service. Usage: python moto_serial.py HOST PORT
"""

import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False)


if __name__ == "__main__":
    main()
