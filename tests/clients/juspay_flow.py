"""Juspay's published Python client (juspayp3, pinned in requirements-dev.txt) through a whole
wallet flow against Pocketbook's Juspay facade, as a merchant would run it: only the host changes.

    JUSPAY_BASE_URL=http://127.0.0.1:PORT JUSPAY_API_KEY=pb_... JUSPAY_MERCHANT_ID=acme-... \
        .venv/bin/python tests/clients/juspay_flow.py

Every step is one call (a juspayp3 call, or for the customer's browser a plain GET) and prints
"ok <step> ..." or "FAIL <step>: ..." (and the run exits 1); the last line is
"N of M client calls passed". tests/tests/juspay_clients.rs runs it against a TestApp.

The redirection is at the transport only: juspayp3 builds https://api.juspay.in + path and calls
requests.get/requests.post, each of which opens a new requests.Session; every Session mounts
requests.sessions.HTTPAdapter, which this script replaces by a subclass that rewrites that
prefix to JUSPAY_BASE_URL (and never goes through a proxy). Nothing in juspayp3 is patched.

What juspayp3 1.0.1 does that the flow works around or has to live with (none blocks a step):
- Errors by status: 400 and 404 raise InvalidRequestException, 401 AuthenticationException, and
  every other status, 409 and 422 included, APIException with the message "Internal server error.
  Please contact support@juspay.in." and no body: the refusal checked below is a 400.
- InvalidRequestException.json_body is the raw body (bytes): the harness decodes it.
- Orders.Order reads kwargs['payment_links'] unconditionally: an order answer without that key
  is a KeyError inside the client (the facade answers "payment_links": {}).
- Orders.Order.Refund reads the refund's id from 'refund_id', not 'id': refund.id is None
  against an answer that only says "id"; the harness checks amount and status instead.
- Amounts go on the wire as str() of what the caller passes: "100.00" for the string, but 5000.0
  for the float 5000.00 and 20 for the int: the flow sends all three forms (orders A, B, refunds).
  Booleans go as 'True'/'False'.
- Payments.create_wallet_payment writes "redirect_after_payment should be of type bool" to stderr
  unless it is a bool: the harness passes False.
"""
import json
import os
import random
import sys
import traceback
import uuid
from decimal import Decimal

import requests
import requests.adapters
import requests.sessions

try:
    import juspayp3
    from juspayp3.JuspayException import InvalidRequestException, JuspayException
except ImportError:  # pragma: no cover - a setup problem, not a failure of the flow
    sys.exit("juspayp3 is not installed in this Python: run `make tools` (it installs requirements-dev.txt into .venv)")


def env(name):
    value = os.environ.get(name, "").strip()
    if not value:
        sys.exit(f"set {name} (see the top of {__file__})")
    return value


BASE_URL = env("JUSPAY_BASE_URL").rstrip("/")
API_KEY = env("JUSPAY_API_KEY")
MERCHANT_ID = env("JUSPAY_MERCHANT_ID")

# The servers juspayp3 knows (environment 'production' and 'sandbox').
JUSPAY_SERVERS = ("https://api.juspay.in", "https://sandbox.juspay.in")


class LocalJuspay(requests.adapters.HTTPAdapter):
    """The transport of every requests Session: a Juspay URL goes to BASE_URL instead."""

    def send(self, request, **kwargs):
        for server in JUSPAY_SERVERS:
            if request.url == server or request.url.startswith((server + "/", server + "?")):
                request.url = BASE_URL + request.url[len(server):]
                kwargs["proxies"] = {}
                break
        return super().send(request, **kwargs)


requests.sessions.HTTPAdapter = LocalJuspay
juspayp3.api_key = API_KEY
juspayp3.environment = "production"

Customers, Orders, Wallets, Payments = juspayp3.Customers, juspayp3.Orders, juspayp3.Wallets, juspayp3.Payments


class Failed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failed(message)


def money(value):
    """An amount as the answers write it (a JSON number or a string with two decimals)."""
    expect(value is not None, "an amount is missing")
    return Decimal(str(value))


def same_money(value, expected, what):
    expect(money(value) == Decimal(expected), f"{what}: {value!r}, expected {expected}")


STEPS = []


def step(function):
    STEPS.append(function)
    return function


run = uuid.uuid4().hex[:12]
s = {
    "reference": f"flow-py-{run}",
    "mobile": f"9{random.randrange(10**9):09d}",
    "order_a": f"pya{run}",
    "order_b": f"pyb{run}",
}


@step
def create_customer():
    c = Customers.create(object_reference_id=s["reference"], mobile_number=s["mobile"], mobile_country_code="91",
                         email_address=f"{s['reference']}@example.com", first_name="Asha", last_name="Rao")
    expect(isinstance(c.id, str) and c.id.startswith("cst_"), f"customer id {c.id!r}")
    expect(c.object == "customer", f"object {c.object!r}")
    expect(c.object_reference_id == s["reference"], f"object_reference_id {c.object_reference_id!r}")
    expect(c.mobile_number == s["mobile"], f"mobile_number {c.mobile_number!r}")
    expect(c.first_name == "Asha" and c.last_name == "Rao", f"name {c.first_name!r} {c.last_name!r}")
    expect(c.date_created and c.last_updated, "date_created and last_updated")
    s["customer"] = c.id
    return f"id={c.id} object_reference_id={c.object_reference_id}"


@step
def get_customer():
    c = Customers.get(id=s["customer"])
    expect(c.id == s["customer"], f"id {c.id!r}")
    expect(c.mobile_number == s["mobile"] and c.email_address == f"{s['reference']}@example.com",
           f"mobile {c.mobile_number!r} email {c.email_address!r}")
    return f"id={c.id} mobile_number={c.mobile_number}"


@step
def get_customer_by_object_reference_id():
    c = Customers.get(id=s["reference"])
    expect(c.id == s["customer"], f"id {c.id!r}, expected {s['customer']}")
    return f"id={c.id}"


@step
def update_customer():
    c = Customers.update(id=s["customer"], first_name="Ashwini")
    expect(c.id == s["customer"], f"id {c.id!r}")
    expect(c.first_name == "Ashwini", f"first_name {c.first_name!r}")
    expect(c.last_name == "Rao" and c.mobile_number == s["mobile"], "the other fields are kept")
    return f"first_name={c.first_name}"


@step
def create_order_a():
    o = Orders.create(order_id=s["order_a"], amount="100.00", currency="INR", customer_id=s["customer"],
                      customer_email=f"{s['reference']}@example.com", customer_phone=s["mobile"],
                      return_url="https://shop.example/return", description="Order A", udf1="python")
    expect(o.order_id == s["order_a"], f"order_id {o.order_id!r}")
    expect(isinstance(o.id, str) and o.id, f"id {o.id!r}")
    expect(o.status == "CREATED", f"status {o.status!r}")
    same_money(o.amount, "100.00", "amount")
    expect(o.customer_id == s["customer"], f"customer_id {o.customer_id!r}")
    expect(o.merchant_id == MERCHANT_ID, f"merchant_id {o.merchant_id!r}")
    expect(o.udf1 == "python", f"udf1 {o.udf1!r}")
    return f"order_id={o.order_id} status={o.status} amount={o.amount}"


@step
def order_status_a():
    o = Orders.status(order_id=s["order_a"])
    expect(o.status == "NEW", f"status {o.status!r}")
    same_money(o.amount, "100.00", "amount")
    expect(o.txn_id is None and o.refunded is False, f"txn_id {o.txn_id!r} refunded {o.refunded!r}")
    return f"status={o.status}"


@step
def update_order_a():
    o = Orders.update(order_id=s["order_a"], amount="120.00")
    expect(o.order_id == s["order_a"], f"order_id {o.order_id!r}")
    same_money(o.amount, "120.00", "amount")
    expect(o.customer_id == s["customer"], f"customer_id {o.customer_id!r} (kept by the update)")
    return f"amount={o.amount}"


@step
def list_wallets_empty():
    wallets = Wallets.list(customer_id=s["customer"])
    expect(wallets == [], f"{len(wallets)} wallets")
    return "0 wallets"


@step
def create_wallet_mobikwik():
    w = Wallets.create(customer_id=s["customer"], gateway="MOBIKWIK")
    expect(isinstance(w.id, str) and w.id.startswith("wlt_"), f"id {w.id!r}")
    expect(w.object == "wallet_account" and w.wallet == "MOBIKWIK", f"object {w.object!r} wallet {w.wallet!r}")
    expect(w.linked is False and w.current_balance is None, f"linked {w.linked!r} balance {w.current_balance!r}")
    s["mobikwik"] = w.id
    return f"id={w.id} wallet={w.wallet} linked={w.linked}"


@step
def create_and_authenticate_wallet_paytm():
    w = Wallets.create_and_authenticate(customer_id=s["customer"], gateway="PAYTM")
    expect(isinstance(w.id, str) and w.id.startswith("wlt_") and w.id != s["mobikwik"], f"id {w.id!r}")
    expect(w.wallet == "PAYTM" and w.linked is False, f"wallet {w.wallet!r} linked {w.linked!r}")
    s["paytm"] = w.id
    return f"id={w.id} wallet={w.wallet}"


@step
def authenticate_wallet():
    w = Wallets.authenticate(wallet_id=s["mobikwik"])
    expect(w.id == s["mobikwik"] and w.linked is False, f"id {w.id!r} linked {w.linked!r}")
    return f"id={w.id}"


@step
def link_wallet():
    w = Wallets.link(wallet_id=s["mobikwik"], otp=s["mobile"][-6:])
    expect(w.id == s["mobikwik"], f"id {w.id!r}")
    expect(w.linked is True, f"linked {w.linked!r}")
    same_money(w.current_balance, "1000.00", "current_balance")
    expect(w.current_balance == "1000.00", f"current_balance {w.current_balance!r} is a string with two decimals")
    return f"linked={w.linked} current_balance={w.current_balance}"


@step
def refresh_wallet_by_id():
    w = Wallets.refresh_by_wallet_id(wallet_id=s["mobikwik"])
    expect(w.id == s["mobikwik"] and w.linked is True, f"id {w.id!r} linked {w.linked!r}")
    same_money(w.current_balance, "1000.00", "current_balance")
    expect(w.last_refreshed, f"last_refreshed {w.last_refreshed!r}")
    return f"current_balance={w.current_balance} last_refreshed={w.last_refreshed}"


@step
def refresh_balances_of_customer():
    wallets = {w.id: w for w in Wallets.refreshBalance(customer_id=s["customer"])}
    expect(set(wallets) == {s["mobikwik"], s["paytm"]}, f"wallets {sorted(wallets)}")
    same_money(wallets[s["mobikwik"]].current_balance, "1000.00", "MOBIKWIK current_balance")
    expect(wallets[s["paytm"]].linked is False, "PAYTM is not linked")
    return f"{len(wallets)} wallets"


@step
def list_wallets_of_order_a():
    wallets = Wallets.list(order_id=s["order_a"])
    linked = [w for w in wallets if w.id == s["mobikwik"]]
    expect(len(linked) == 1, f"the MOBIKWIK wallet among {[w.id for w in wallets]}")
    token = linked[0].token
    expect(isinstance(token, str) and token.startswith("tok_"), f"token {token!r}")
    expect(all(w.token is None for w in wallets if not w.linked), "no token for an unlinked wallet")
    s["token_a"] = token
    return f"{len(wallets)} wallets, token={token}"


@step
def pay_order_a():
    p = Payments.create_wallet_payment(order_id=s["order_a"], merchant_id=MERCHANT_ID, payment_method="MOBIKWIK",
                                       direct_wallet_token=s["token_a"], redirect_after_payment=False)
    expect(p.order_id == s["order_a"], f"order_id {p.order_id!r}")
    expect(p.status == "CHARGED", f"status {p.status!r}")
    expect(isinstance(p.txn_id, str) and p.txn_id, f"txn_id {p.txn_id!r}")
    s["txn_a"] = p.txn_id
    return f"status={p.status} txn_id={p.txn_id}"


@step
def order_status_a_charged():
    o = Orders.status(order_id=s["order_a"])
    expect(o.status == "CHARGED", f"status {o.status!r}")
    expect(o.txn_id == s["txn_a"], f"txn_id {o.txn_id!r}")
    expect((o.payment_method_type, o.payment_method) == ("WALLET", "MOBIKWIK"),
           f"payment {o.payment_method_type!r} {o.payment_method!r}")
    same_money(o.amount, "120.00", "amount")
    return f"status={o.status} txn_id={o.txn_id}"


@step
def wallet_balance_after_payment():
    w = Wallets.refresh_by_wallet_id(wallet_id=s["mobikwik"])
    same_money(w.current_balance, "880.00", "current_balance after paying 120.00")
    return f"current_balance={w.current_balance}"


@step
def create_order_b():
    o = Orders.create(order_id=s["order_b"], amount=5000.00, customer_id=s["customer"], description="Order B")
    expect(o.order_id == s["order_b"] and o.status == "CREATED", f"order_id {o.order_id!r} status {o.status!r}")
    same_money(o.amount, "5000", "amount")
    return f"order_id={o.order_id} amount={o.amount}"


@step
def list_wallets_of_customer_for_a_fresh_token():
    wallets = [w for w in Wallets.list(customer_id=s["customer"]) if w.id == s["mobikwik"]]
    expect(len(wallets) == 1, "the MOBIKWIK wallet")
    token = wallets[0].token
    expect(isinstance(token, str) and token.startswith("tok_") and token != s["token_a"], f"token {token!r}")
    s["token_b"] = token
    return f"token={token}"


@step
def pay_order_b_above_the_balance():
    p = Payments.create_wallet_payment(order_id=s["order_b"], merchant_id=MERCHANT_ID, payment_method="MOBIKWIK",
                                       direct_wallet_token=s["token_b"], redirect_after_payment=False)
    expect(p.status == "PENDING_VBV", f"status {p.status!r}")
    authentication = p.payment.authentication
    expect(authentication.method == "GET", f"authentication.method {authentication.method!r}")
    expect(isinstance(authentication.url, str) and authentication.url.startswith(("http://", "https://")),
           f"authentication.url {authentication.url!r}")
    s["txn_b"], s["top_up"] = p.txn_id, authentication.url
    return f"status={p.status} url={authentication.url}"


@step
def customer_tops_up_in_the_browser():
    # The customer's browser: a plain GET without the merchant's key.
    answer = requests.get(s["top_up"], timeout=30)
    expect(answer.status_code == 200, f"HTTP {answer.status_code}: {answer.text[:500]}")
    body = answer.json()
    expect(body.get("status") == "CHARGED", f"status {body.get('status')!r}")
    return f"HTTP {answer.status_code} status={body['status']}"


@step
def order_status_b_charged():
    o = Orders.status(order_id=s["order_b"])
    expect(o.status == "CHARGED", f"status {o.status!r}")
    same_money(o.amount, "5000", "amount")
    return f"status={o.status}"


def refund(unique_request_id, amount):
    return Orders.refund(order_id=s["order_a"], unique_request_id=unique_request_id, amount=amount)


@step
def refund_20():
    s["r1"], s["r2"] = f"r1{run}", f"r2{run}"
    o = refund(s["r1"], 20)
    expect(o.refunded is False, f"refunded {o.refunded!r}")
    same_money(o.amount_refunded, "20", "amount_refunded")
    expect(o.refunds is not None and len(o.refunds) == 1, f"refunds {o.refunds!r}")
    same_money(o.refunds[0].amount, "20", "refunds[0].amount")
    expect(o.refunds[0].status in ("SUCCESS", "PENDING"), f"refunds[0].status {o.refunds[0].status!r}")
    expect(o.status == "CHARGED", f"status {o.status!r}")
    return f"refunded={o.refunded} amount_refunded={o.amount_refunded}"


@step
def refund_20_again_is_idempotent():
    o = refund(s["r1"], 20)
    same_money(o.amount_refunded, "20", "amount_refunded")
    expect(len(o.refunds) == 1, f"{len(o.refunds)} refunds")
    return f"amount_refunded={o.amount_refunded} refunds={len(o.refunds)}"


@step
def refund_the_remaining_100():
    o = refund(s["r2"], 100)
    expect(o.refunded is True, f"refunded {o.refunded!r}")
    same_money(o.amount_refunded, "120", "amount_refunded")
    expect(len(o.refunds) == 2 and o.status == "CHARGED", f"{len(o.refunds)} refunds, status {o.status!r}")
    return f"refunded={o.refunded} amount_refunded={o.amount_refunded}"


@step
def refund_beyond_the_charge_is_refused():
    try:
        o = refund(f"r3{run}", 1)
    except InvalidRequestException as refused:
        expect(refused.http_status == 400, f"HTTP {refused.http_status}")
        body = json.loads(refused.json_body)
        expect(body.get("error_code"), f"an error_code in {body}")
        return f"HTTP {refused.http_status} error_code={body['error_code']}"
    raise Failed(f"a refund beyond the charge was accepted: amount_refunded {o.amount_refunded!r}")


@step
def delink_wallet():
    w = Wallets.delink(wallet_id=s["mobikwik"])
    expect(w.id == s["mobikwik"] and w.linked is False, f"id {w.id!r} linked {w.linked!r}")
    return f"linked={w.linked}"


@step
def payment_methods():
    methods = Payments.get_payment_methods(merchant_id=MERCHANT_ID)
    wallets = {m.payment_method for m in methods if m.payment_method_type == "WALLET"}
    expect("MOBIKWIK" in wallets, f"wallet methods {sorted(wallets)}")
    return f"{len(methods)} methods: {', '.join(sorted(wallets))}"


@step
def list_orders():
    listed = Orders.list()
    ids = {o.order_id for o in listed["list"]}
    expect({s["order_a"], s["order_b"]} <= ids, f"order ids {sorted(ids)}")
    expect(listed["total"] >= 2, f"total {listed['total']!r}")
    return f"{len(ids)} orders, total={listed['total']}"


def main():
    passed = 0
    for function in STEPS:
        name = function.__name__
        try:
            detail = function()
        except Failed as failure:
            print(f"FAIL {name}: {failure}", flush=True)
            break
        except JuspayException as error:
            print(f"FAIL {name}: juspayp3 raised {type(error).__name__} (HTTP {error.http_status}): {error}", flush=True)
            break
        except Exception:
            print(f"FAIL {name}: {traceback.format_exc()}", flush=True)
            break
        passed += 1
        print(f"ok {name} {detail}", flush=True)
    print(f"{passed} of {len(STEPS)} client calls passed", flush=True)
    return 0 if passed == len(STEPS) else 1


if __name__ == "__main__":
    sys.exit(main())
