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
import time

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def undo_log_per_transaction():
    """moto makes TransactWriteItems all-or-nothing by deep-copying every table the
    transaction touches before writing, and swapping the copy back in on failure. That copy
    costs time in proportion to the whole table: a 2-item commit on a table of 10,000 history
    items took longer than everything else the request did together, and it grows with every
    entry written (measured by `make bench`). Instead, keep the before image of each item the
    transaction names (an undo log, a handful of items) and put those back if the transaction
    fails; moto's own rollback is handed the live table, so it changes nothing. Safe because
    requests run one at a time. A transaction whose keys cannot even be read (a malformed
    request) is left to moto as it was, copies and all: it is refused before writing anyway."""
    import copy as real_copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class NoTableCopies:
        def deepcopy(self, value, memo=None):
            if isinstance(value, Table):
                return value
            return real_copy.deepcopy(value, memo)

        def __getattr__(self, name):
            return getattr(real_copy, name)

    def before_images(backend, transact_items):
        """[(table, hash, range, item copy or None)], plus each table's stream length; None
        when some key cannot be read."""
        journal, streams = [], {}
        try:
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                table = backend.tables.get(op.get("TableName"))
                if table is None:
                    continue  # moto refuses the item, and the transaction with it
                attrs = op.get("Item") if op_type == "Put" else op.get("Key")
                hash_key = DynamoType(attrs[table.hash_key_attr])
                range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
                current = table.get_item(hash_key, range_key)
                before = real_copy.deepcopy(current) if current is not None else None
                journal.append((table, hash_key, range_key, before))
                if table.stream_shard is not None:
                    streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
        except Exception:
            return None
        return journal, streams

    def restore(journal, streams):
        # Backwards, so that a key named twice ends with its oldest image.
        for table, hash_key, range_key, before in reversed(journal):
            items = table.items if range_key is None else table.items[hash_key]
            key = hash_key if range_key is None else range_key
            if before is None:
                items.pop(key, None)
            else:
                items[key] = before
        for shard, length in streams.values():
            del shard.items[length:]

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        undo = before_images(self, transact_items)
        if undo is None:
            return original(self, transact_items)
        models.copy = NoTableCopies()
        try:
            return original(self, transact_items)
        except BaseException:
            restore(*undo)
            raise
        finally:
            models.copy = real_copy

    models.DynamoDBBackend.transact_write_items = transact_write_items


def query_reads_one_partition():
    """moto answers a Query by walking every item of the table and then sorting the partition
    with its own comparisons, one Python call each: a page of one balance's history cost
    0.07 s with 10,000 entries and 0.7-1.6 s with 100,000 (measured by `make bench`), close
    to the functions' 2 s per-attempt timeout. DynamoDB reads the one partition in key order.
    So hand moto's Query just that partition, already in key order for string sort keys
    (native string comparison, in C): moto still filters and sorts as it always does, which
    on sorted input takes one pass, so what it answers is unchanged. Index queries and
    tables without a sort key are left as they are."""
    from moto.dynamodb.models.table import Table

    original = Table.query

    def query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
              projection_expressions, index_name=None, *args, **kwargs):
        call = (self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                projection_expressions, index_name, *args)
        if index_name is not None or hash_key is None or self.range_key_attr is None:
            return original(*call, **kwargs)
        items = list(self.items.get(hash_key, {}).values())
        if self.range_key_type == "S":
            items.sort(key=lambda item: item.range_key.value)
        self.all_items = lambda: items
        try:
            return original(*call, **kwargs)
        finally:
            del self.all_items

    Table.query = query


def serialised(app):
    """Every response also says how long the request waited for its turn and how long moto
    then took (headers x-local-dynamodb-queue-us and -service-us, in microseconds), so that a
    benchmark can tell moto's own time from everything else."""
    lock = threading.Lock()

    def handle(environ, start_response):
        arrived = time.perf_counter()
        with lock:
            started = time.perf_counter()
            answer = []
            written = []

            def capture(status, headers, exc_info=None):
                answer[:] = [status, list(headers), exc_info]
                return written.append

            # Run the whole response inside the lock: a WSGI app may do its work lazily
            # while the body is iterated.
            result = app(environ, capture)
            try:
                body = b"".join(written) + b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            finished = time.perf_counter()
        status, headers, exc_info = answer
        headers.append(("x-local-dynamodb-queue-us", str(int((started - arrived) * 1e6))))
        headers.append(("x-local-dynamodb-service-us", str(int((finished - started) * 1e6))))
        start_response(status, headers, exc_info)
        return [body]

    return handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--port-file")
    parser.add_argument("--exit-with-stdin", action="store_true")
    args = parser.parse_args()

    undo_log_per_transaction()
    query_reads_one_partition()
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
