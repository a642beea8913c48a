"""The local DynamoDB for `make dev` and the tests: moto's server, one request at a time.

moto's threaded server runs requests side by side, and then two conditional writes to the
same item can both pass their condition. DynamoDB never allows that, and the ledger's lock
depends on it. Serialising every request behind one lock gives back the per-item atomicity
(and, as a bonus, the all-or-nothing visibility of TransactWriteItems) that DynamoDB promises.
Connections stay keep-alive: only the handling is serialised, not the sockets.

Usage: local_dynamodb.py [--host 127.0.0.1] [--port 8000] [--port-file PATH] [--exit-with-stdin]
  --port 0 picks a free port; --port-file receives the port once the server listens;
  --exit-with-stdin stops the server when its parent closes our stdin (tests use it so that a
  killed test run never leaves a server behind).
"""

import argparse
import os
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def one_backup_per_transaction():
    """moto backs up a whole table before a TransactWriteItems, once per item of the
    transaction: a 100-item transaction copied the table 100 times. Every one of those copies
    is taken before anything is written, so one copy per table serves them all; rollback is
    unchanged. Safe because requests run one at a time."""
    import copy as real_copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    class OncePerTable:
        def __init__(self):
            self.copies = {}

        def deepcopy(self, value, memo=None):
            if not isinstance(value, Table):
                return real_copy.deepcopy(value, memo)
            if id(value) not in self.copies:
                self.copies[id(value)] = real_copy.deepcopy(value, memo)
            return self.copies[id(value)]

        def __getattr__(self, name):
            return getattr(real_copy, name)

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        models.copy = OncePerTable()
        try:
            return original(self, transact_items)
        finally:
            models.copy = real_copy

    models.DynamoDBBackend.transact_write_items = transact_write_items


def serialised(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            # Run the whole response inside the lock: a WSGI app may do its work lazily
            # while the body is iterated.
            result = app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]

    return handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--port-file")
    parser.add_argument("--exit-with-stdin", action="store_true")
    args = parser.parse_args()

    one_backup_per_transaction()
    app = serialised(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_port
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.replace(tmp, args.port_file)
    print(f"local DynamoDB (moto, serialised) on http://{args.host}:{port}", flush=True)

    if args.exit_with_stdin:
        def watch_parent():
            sys.stdin.read()
            os._exit(0)

        threading.Thread(target=watch_parent, daemon=True).start()

    server.serve_forever()


if __name__ == "__main__":
    main()
