#!/usr/bin/env python3
"""Recompute a balance's checksum chain from its transaction list, with nothing but the API.

    verify_chain.py BASE_URL API_KEY BALANCE_ID

The formula (also in the README): checksum(0) = sha256_hex(balanceId); for every entry, oldest
first, checksum(n) = sha256_hex of these fields joined with "\\n":
    checksum(n-1), id, type, amount, balanceAfter, createdAt, requestTimeEpoch,
    expiredAt, session, mainTxId, subject
Amounts as the API writes them (no exponent, no trailing zeros), times in epoch milliseconds,
absent (null) fields as "". The last value must equal the balance's transactionsChecksum.
Standard library only; exits 0 when the chain holds, 1 (naming the entry) when it does not.
"""

import hashlib
import json
import sys
import urllib.parse
import urllib.request
from decimal import Decimal


def get(base, key, path):
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + key})
    with urllib.request.urlopen(request) as response:
        # Decimal, never float: the numbers must keep the exact text the API sent.
        return json.loads(response.read(), parse_float=Decimal)


def text(value):
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")  # str() would write 0.00000001 as 1E-8
    return str(value)


def main(base, key, balance_id):
    balance = get(base, key, f"/balances/{balance_id}")
    entries, token = [], None
    while True:
        query = {"order": "asc", "pageSize": "1000"}
        if token:
            query["paginationToken"] = token
        page = get(base, key, f"/balances/{balance_id}/transactions?" + urllib.parse.urlencode(query))
        entries += page["transactions"]
        token = page.get("paginationToken")
        if not token:
            break

    checksum = hashlib.sha256(balance_id.encode()).hexdigest()
    fields = ["id", "type", "amount", "balanceAfter", "createdAt", "requestTimeEpoch",
              "expiredAt", "session", "mainTxId", "subject"]
    for n, entry in enumerate(entries, start=1):
        line = "\n".join([checksum] + [text(entry.get(f)) for f in fields])
        checksum = hashlib.sha256(line.encode()).hexdigest()
        if checksum != entry["checksum"]:
            print(f"entry {n} ({entry['id']}): expected {checksum}, stored {entry['checksum']}")
            return 1
    if checksum != balance["transactionsChecksum"]:
        print(f"transactionsChecksum {balance['transactionsChecksum']} != recomputed {checksum}")
        return 1
    print(f"chain verified: {len(entries)} entries, checksum {checksum}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
