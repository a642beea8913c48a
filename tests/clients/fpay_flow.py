"""FPay's published Python SDK (finalse-sdk, pinned in requirements-dev.txt) through every wallet and
movement call it has, against Pocketbook's FPay-shaped wallets, as an FPay user would run it: only
the base URL changes.

    FPAY_BASE_URL=http://127.0.0.1:PORT FPAY_API_KEY=pb_... FPAY_SECRET_KEY=... \
        .venv/bin/python tests/clients/fpay_flow.py

FPAY_SECRET_KEY is the key's signing secret; it may be empty (a key without one), the SDK then
signs with the empty key. Every step is one SDK call and prints "ok <step> ..." or
"FAIL <step>: ..."; a step whose input an earlier failure did not produce fails with "not run"
(so one run shows every call that fails, not only the first); the last line is
"N of M SDK calls passed" and the run exits 1 unless all passed. tests/tests/fpay_client.rs runs it
against a TestApp; what the SDK sends and parses is in tests/clients/FPAY_WIRE.md.

The redirection: the SDK builds every URL as Sdk.base_url() + path, calling that staticmethod on
each request; the script replaces it by one returning FPAY_BASE_URL. Nothing else is patched.

What finalse-sdk 1.0.3 gets wrong, and how the harness goes around it (FPAY_WIRE.md section 7):
- list(form) quotes every value with urllib.parse.quote, which raises TypeError on an int: the
  flow passes "limit" as a string ("1", "100").
- list(form) reads the sort from "sort_by" (snake case; "sortBy" is dropped silently) and has
  no page parameter: the flow writes "sort_by" and reaches later pages with fetch_page only.
- repr() of Auth, FPayClient and every service contains the API token: the flow never prints an
  SDK object, only fields it picked.
- to_dict()/to_json() of an answer crash on absent optional fields: the flow never calls them.
- Unknown "sending", "dc", "parentType", "balanceType" spellings parse as None instead of
  failing: the flow checks each one it reads.
- Forms go through json.dumps, which cannot write a Decimal: amounts go as strings
  ("10_000 XOF") or FPay's AmountForm objects with int values.
- TransactionDetails.is_f_pay_transfer does not exist (it is spelled isf_pay_transfer, and
  as_f_pay_transfer calls the missing name): the flow reads details._type.
- HttpCallError has no message: the flow prints its status_code, status_message and body.
"""
import os
import sys
import traceback
import uuid
from decimal import Decimal

try:
    from finalse_sdk.Auth import Auth
    from finalse_sdk.FPayClient import FPayClient
    from finalse_sdk.HttpCallError import HttpCallError
    from finalse_sdk.Sdk import Sdk
except ImportError:  # pragma: no cover - a setup problem, not a failure of the flow
    sys.exit("finalse-sdk is not installed in this Python: run `make tools` (it installs requirements-dev.txt into .venv)")


def env(name):
    value = os.environ.get(name, "").strip()
    if not value:
        sys.exit(f"set {name} (see the top of {__file__})")
    return value


BASE_URL = env("FPAY_BASE_URL").rstrip("/")
API_KEY = env("FPAY_API_KEY")
SECRET_KEY = os.environ.get("FPAY_SECRET_KEY", "")

Sdk.base_url = staticmethod(lambda: BASE_URL)
fpay = FPayClient(Auth(token=API_KEY, secret_key=SECRET_KEY))
wallets, deposits, transfers = fpay.wallet(), fpay.deposit(), fpay.transfer()
quasi_transfers, fund_requests = fpay.quasi_transfer(), fpay.fund_request()
transactions, attempts = fpay.transaction(), fpay.attempt()


class Failed(Exception):
    pass


class NotRun(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failed(message)


def need(*keys):
    missing = [key for key in keys if key not in s]
    if missing:
        raise NotRun(f"needs {', '.join(missing)}, which an earlier step did not produce")


def number(value, what):
    expect(isinstance(value, (int, float)) and not isinstance(value, bool), f"{what}: {value!r} is not a JSON number")
    return Decimal(str(value))


def same_number(value, expected, what):
    expect(number(value, what) == Decimal(expected), f"{what}: {value!r}, expected {expected}")


def text(value, what):
    expect(isinstance(value, str) and value, f"{what}: {value!r} is not a non-empty string")
    return value


def same_amount(amount, expected, what):
    expect(amount is not None, f"{what}: no amount")
    same_number(amount.value, expected, f"{what}.value")
    expect(amount.currency.code == "XOF", f"{what}.currency.code {amount.currency.code!r}")
    expect(isinstance(amount.currency.unit, str), f"{what}.currency.unit {amount.currency.unit!r}")


def check_time(moment, what):
    expect(moment is not None, f"{what}: absent")
    text(moment.iso8601, f"{what}.iso8601")
    ms = number(moment.timestamp.milliseconds, f"{what}.timestamp.milliseconds")
    seconds = number(moment.timestamp.seconds, f"{what}.timestamp.seconds")
    expect(seconds == ms // 1000, f"{what}: seconds {seconds} for milliseconds {ms}")


def check_creator(creator, what):
    expect(creator.is_api(), f"{what}: creator._type {creator._type!r}, expected Api")
    text(creator.account_id, f"{what}.creator.accountId")
    text(creator.auth_access_id, f"{what}.creator.authAccessId")


def check_pocket(wallet, available, locked_in="0", locked_out="0", volume_in=None, volume_out=None):
    balance, volume = wallet.main_pocket.balance, wallet.main_pocket.volume
    same_number(balance.available, available, f"{wallet.id} available")
    same_number(balance.locked_in, locked_in, f"{wallet.id} lockedIn")
    same_number(balance.locked_out, locked_out, f"{wallet.id} lockedOut")
    total = number(volume.input, "volume.input") + number(volume.output, "volume.output")
    expect(number(volume.total, "volume.total") == total, f"volume.total {volume.total!r} is not input + output")
    if volume_in is not None:
        same_number(volume.input, volume_in, f"{wallet.id} volume.input")
        same_number(volume.output, volume_out, f"{wallet.id} volume.output")


def check_wallet(w, what):
    text(w.id, f"{what}.id")
    text(w.url, f"{what}.url")
    check_creator(w.creator, what)
    check_time(w.created_time, f"{what}.createdTime")
    text(w.name, f"{what}.name")
    expect(w.is_main is False, f"{what}.isMain {w.is_main!r}")
    text(w.mars.alpha, f"{what}.mars.alpha")
    text(w.man.alpha, f"{what}.man.alpha")


def same_wallet(w, key):
    """The wallet s[key] as created (or last updated): same id, name and identifiers."""
    expected = s[key]
    expect(w.id == expected.id, f"id {w.id!r}, expected {expected.id}")
    expect((w.name, w.foreign_id, w.mars.alpha, w.man.alpha) ==
           (expected.name, expected.foreign_id, expected.mars.alpha, expected.man.alpha),
           f"name/foreignId/mars/man {w.name!r} {w.foreign_id!r} {w.mars.alpha!r} {w.man.alpha!r}")


def account(side, what):
    """The MoneyAccount of a Source or Destination, which must be Single."""
    expect(side is not None, f"{what}: absent")
    expect(side.is_single(), f"{what}._type {side._type!r}, expected Single")
    expect(side.account.balance_type is not None, f"{what}.account.balanceType is not one the SDK knows")
    text(side.account.provider.key, f"{what}.account.provider.key")
    text(side.account.provider.country.code.alpha2, f"{what}.account.provider.country.code.alpha2")
    return side.account


def is_wallet(side, wallet_key, what):
    value = account(side, what).identifier.value
    expect(value == s[wallet_key].id, f"{what}.account.identifier.value {value!r}, expected {s[wallet_key].id}")


def check_fees_free(fees, what):
    same_number(fees.value.fixe, "0", f"{what}.fees.value.fixe")
    same_number(fees.value.percent, "0", f"{what}.fees.value.percent")
    same_amount(fees.amount, "0", f"{what}.fees.amount")


def check_h1(h1, expected, what):
    expect(h1 is not None and (h1.fr, h1.en) == (expected, expected), f"{what}.h1Descriptor {h1 and (h1.fr, h1.en)!r}")


def check_movement(m, what, amount, foreign_id):
    text(m.id, f"{what}.id")
    text(m.url, f"{what}.url")
    check_creator(m.creator, what)
    check_time(m.created_time, f"{what}.createdTime")
    same_amount(m.amount, amount, f"{what}.amount")
    check_fees_free(m.fees, what)
    expect(m.sending is not None, f"{what}.sending is not a value the SDK knows")
    expect(m.foreign_id == foreign_id, f"{what}.foreignId {m.foreign_id!r}, expected {foreign_id}")


def check_done(m, what):
    expect(m.status.is_successful(), f"{what}.status._type {m.status._type!r}, expected Successful")
    expect(m.sending.is_totally_done(), f"{what}.sending {m.sending.value!r}, expected TotallyDone")
    check_time(m.completed_time, f"{what}.completedTime")


def check_pending(m, what):
    expect(m.status.is_processing(), f"{what}.status._type {m.status._type!r}, expected Processing")
    text(m.status.reason.fr, f"{what}.status.reason.fr")
    text(m.status.reason.en, f"{what}.status.reason.en")
    expect(m.sending.is_not_yet_done(), f"{what}.sending {m.sending.value!r}, expected NotYetDone")
    expect(m.completed_time is None, f"{what}.completedTime while pending")


def check_cancelled(m, what):
    expect(m.status.is_failure(), f"{what}.status._type {m.status._type!r}, expected Failure")
    expect(m.status.cancelled is not None, f"{what}.status.cancelled is absent")
    expect(m.status.cancelled.after_timeout is False, f"{what}.status.cancelled.afterTimeout "
                                                      f"{m.status.cancelled.after_timeout!r}")
    text(m.status.reason.fr, f"{what}.status.reason.fr")
    text(m.status.reason.en, f"{what}.status.reason.en")
    expect(m.sending.is_not_yet_done(), f"{what}.sending {m.sending.value!r}, expected NotYetDone")


def check_secure_pay(m, purpose, what):
    expect(getattr(m.secure_pay.purpose, f"is_{purpose}")(),
           f"{what}.securePay.purpose._type {m.secure_pay.purpose._type!r}, expected {purpose.capitalize()}")
    text(m.secure_pay.link, f"{what}.securePay.link")
    text(m.secure_pay.qr_code.src, f"{what}.securePay.qrCode.src")


def check_attempt(a, parent_type, parent_key, what):
    text(a.id, f"{what}.id")
    text(a.url, f"{what}.url")
    check_time(a.created_time, f"{what}.createdTime")
    expect(a.parent_type is not None and a.parent_type.value == parent_type,
           f"{what}.parentType {a.parent_type and a.parent_type.value!r}, expected {parent_type}")
    expect(a.parent_id == s[parent_key], f"{what}.parentId {a.parent_id!r}, expected {s[parent_key]}")
    expect(a.status.is_successful(), f"{what}.status._type {a.status._type!r}, expected Successful")
    expect(isinstance(a.validations, list), f"{what}.validations {a.validations!r}")
    expect(all(v.mfa.is_not_required() or v.mfa.is_successful() for v in a.validations),
           f"{what}.validations: {[v.mfa._type for v in a.validations]}")


def check_collection(c, what):
    text(c.url, f"{what}.url")
    p = c.pagination
    expect(isinstance(p.current_page.index, int), f"{what}.pagination.currentPage.index {p.current_page.index!r}")
    expect(isinstance(p.current_page.query_string, str), f"{what}.pagination.currentPage.queryString")
    text(p.started_time, f"{what}.pagination.startedTime")
    expect(p.nb_items_on_current_page == len(c.items),
           f"{what}: nbItemsOnCurrentPage {p.nb_items_on_current_page!r} for {len(c.items)} items")
    expect(isinstance(p.nb_items_per_page, int) and p.nb_items_per_page >= len(c.items),
           f"{what}: nbItemsPerPage {p.nb_items_per_page!r} for {len(c.items)} items")
    if p.next_page is not None:
        expect(p.next_page.query_string.startswith("?"),
               f"{what}.pagination.nextPage.queryString {p.next_page.query_string!r} does not start with '?' "
               "(fetch_page appends it to the path as is)")
        expect(p.next_page.index == p.current_page.index + 1,
               f"{what}: nextPage.index {p.next_page.index!r} after currentPage.index {p.current_page.index!r}")
    return [item.id for item in c.items]


def first_page(listed, key, what):
    """A page of one item out of the two s[key] has: the next page is kept for fetch_page."""
    ids = check_collection(listed, what)
    expect(len(ids) == 1 and ids[0] in s[key], f"{what}: items {ids}, expected one of {s[key]}")
    expect(listed.pagination.nb_items_per_page == 1, f"nbItemsPerPage {listed.pagination.nb_items_per_page!r}")
    expect(listed.has_next_page(), f"{what}: no nextPage after 1 of {len(s[key])}")
    s[f"{key}_page1"], s[f"{key}_next"] = listed, listed.pagination.next_page
    return f"items={ids} next={listed.pagination.next_page.query_string}"


def last_page(listed, key, what):
    ids = check_collection(listed, what)
    first = s[f"{key}_page1"]
    both = [item.id for item in first.items] + ids
    expect(sorted(both) == sorted(s[key]), f"{what}: pages {both}, expected {s[key]}")
    expect(listed.pagination.current_page.index == first.pagination.current_page.index + 1,
           f"currentPage.index {listed.pagination.current_page.index!r} after {first.pagination.current_page.index!r}")
    expect(not listed.has_next_page(), f"{what}: a nextPage after the last item")
    return f"items={ids} index={listed.pagination.current_page.index}"


def contains_all(listed, key, what):
    ids = check_collection(listed, what)
    expect(set(s[key]) <= set(ids), f"{what}: {s[key]} not all in {ids}")
    return f"{len(ids)} items"


STEPS = []


def step(function):
    STEPS.append(function)
    return function


run = uuid.uuid4().hex[:12]
MOBILE = "+2250500000000"
s = {"fa": f"fpay-a-{run}", "fb": f"fpay-b-{run}"}


# ---- wallets -----------------------------------------------------------------------------------

@step
def create_wallet_a():
    w = wallets.create({"name": "Alice", "description": "savings", "foreignId": s["fa"],
                        "foreignData": '{"tier": "gold"}'})
    s["a"] = w
    check_wallet(w, "wallet")
    expect((w.name, w.description, w.foreign_id, w.foreign_data) == ("Alice", "savings", s["fa"], '{"tier": "gold"}'),
           f"name/description/foreignId/foreignData {w.name!r} {w.description!r} {w.foreign_id!r} {w.foreign_data!r}")
    check_pocket(w, "0", volume_in="0", volume_out="0")
    return f"id={w.id} foreignId={w.foreign_id} mars={w.mars.alpha} man={w.man.alpha}"


@step
def create_wallet_b():
    w = wallets.create({"name": "Bob's shop", "foreignId": s["fb"]})
    s["b"] = w
    check_wallet(w, "wallet")
    expect((w.name, w.description, w.foreign_id, w.foreign_data) == ("Bob's shop", None, s["fb"], None),
           f"name/description/foreignId/foreignData {w.name!r} {w.description!r} {w.foreign_id!r} {w.foreign_data!r}")
    check_pocket(w, "0")
    if "a" in s:
        expect(w.id != s["a"].id and w.mars.alpha != s["a"].mars.alpha and w.man.alpha != s["a"].man.alpha,
               "B has A's id, mars or man")
    return f"id={w.id} foreignId={w.foreign_id}"


def get_wallet_by(attribute):
    need("a")
    identifier = attribute(s["a"])
    w = wallets.get(identifier)
    check_wallet(w, "wallet")
    same_wallet(w, "a")
    expect(w.description == "savings" and w.foreign_data == '{"tier": "gold"}', "description/foreignData")
    check_pocket(w, "0")
    return f"{identifier} -> id={w.id}"


@step
def get_wallet_by_id():
    return get_wallet_by(lambda w: w.id)


@step
def get_wallet_by_foreign_id():
    return get_wallet_by(lambda w: w.foreign_id)


@step
def get_wallet_by_mars():
    return get_wallet_by(lambda w: w.mars.alpha)


@step
def get_wallet_by_man():
    return get_wallet_by(lambda w: w.man.alpha)


@step
def update_wallet():
    need("a")
    w = wallets.update({"id": s["a"].id, "set": {"name": "Alice savings", "description": "for the holidays"},
                        "remove": ["foreignData"]})
    check_wallet(w, "wallet")
    expect(w.id == s["a"].id, f"id {w.id!r}")
    expect((w.name, w.description, w.foreign_data) == ("Alice savings", "for the holidays", None),
           f"name/description/foreignData {w.name!r} {w.description!r} {w.foreign_data!r}")
    expect(w.foreign_id == s["fa"] and w.mars.alpha == s["a"].mars.alpha, "foreignId and mars kept")
    s["a"] = w
    return f"name={w.name!r} description={w.description!r} foreignData={w.foreign_data!r}"


@step
def list_wallets_without_a_limit():
    need("a", "b")
    listed = wallets.list()
    ids = check_collection(listed, "wallets")
    expect({s["a"].id, s["b"].id} <= set(ids), f"A and B not in {ids}")
    expect(not listed.has_next_page(), f"a nextPage for {len(ids)} wallets")
    a = next(w for w in listed.items if w.id == s["a"].id)
    same_wallet(a, "a")
    return f"{len(ids)} wallets"


@step
def list_all_wallets():
    need("a", "b")
    listed = wallets.list_all()
    ids = check_collection(listed, "wallets")
    expect({s["a"].id, s["b"].id} <= set(ids), f"A and B not in {ids}")
    return f"{len(ids)} wallets"


@step
def list_wallets_filtered_one_per_page():
    need("a", "b")
    s["wallets"] = [s["a"].id, s["b"].id]
    listed = wallets.list({"filter": f"foreignId = {s['fa']} or foreignId = {s['fb']}", "sort_by": "foreignId:ASC",
                           "limit": "1"})
    detail = first_page(listed, "wallets", "wallets")
    expect(listed.items[0].id == s["a"].id, f"first page {listed.items[0].id}, expected A (foreignId:ASC)")
    return detail


@step
def fetch_next_wallet_page():
    need("wallets_next")
    listed = wallets.fetch_page(s["wallets_next"])
    detail = last_page(listed, "wallets", "wallets")
    expect(listed.items[0].id == s["b"].id, f"second page {listed.items[0].id}, expected B")
    return detail


# ---- deposits ----------------------------------------------------------------------------------

def deposit(amount, wallet_key, mobile, h1, foreign_id, value):
    need(wallet_key)
    d = deposits.initiate({"amount": amount, "source": f"CI MtnMoney {mobile}", "destination": s[wallet_key].id,
                           "h1": h1, "foreignId": foreign_id})
    s.setdefault("deposits", []).append(d.id)
    check_movement(d, "deposit", value, foreign_id)
    check_done(d, "deposit")
    check_h1(d.h1_descriptor, h1, "deposit")
    source = account(d.source, "deposit.source")
    expect(source.identifier.value == mobile, f"deposit.source.account.identifier.value {source.identifier.value!r}")
    expect(source.provider.key == "MtnMoney", f"deposit.source.account.provider.key {source.provider.key!r}")
    expect(source.provider.country.code.alpha2 == "CI",
           f"deposit.source.account.provider.country.code.alpha2 {source.provider.country.code.alpha2!r}")
    is_wallet(d.destination, wallet_key, "deposit.destination")
    same_amount(d.destination.amount, value, "deposit.destination.amount")
    text(d.attempt.id, "deposit.attempt.id")
    return d


@step
def deposit_into_a_as_text():
    d = deposit("10_000 XOF", "a", MOBILE, "Premier dépôt via l'API", f"cash-in-a-{run}", "10000")
    s["deposit"], s["deposit_attempt"] = d.id, d.attempt.id
    return f"id={d.id} amount={d.amount.value} {d.amount.currency.code} status={d.status._type} attempt={d.attempt.id}"


@step
def deposit_into_b_as_an_object():
    d = deposit({"value": 3000, "currency": "XOF"}, "b", "+2250700000000", "Fonds de caisse", f"cash-in-b-{run}", "3000")
    return f"id={d.id} amount={d.amount.value} status={d.status._type}"


@step
def get_deposit():
    need("deposit")
    d = deposits.get(s["deposit"])
    check_movement(d, "deposit", "10000", f"cash-in-a-{run}")
    expect(d.id == s["deposit"], f"id {d.id!r}")
    check_done(d, "deposit")
    is_wallet(d.destination, "a", "deposit.destination")
    expect(d.attempt.id == s["deposit_attempt"], f"attempt.id {d.attempt.id!r}, expected {s['deposit_attempt']}")
    return f"id={d.id} status={d.status._type}"


@step
def get_deposit_attempt():
    need("deposit_attempt")
    a = attempts.get(s["deposit_attempt"])
    check_attempt(a, "Deposit", "deposit", "attempt")
    expect(a.id == s["deposit_attempt"], f"id {a.id!r}")
    return f"id={a.id} parentType={a.parent_type.value} status={a.status._type}"


@step
def update_deposit():
    need("deposit")
    d = deposits.update({"id": s["deposit"], "set": {"description": "first cash-in"}})
    check_movement(d, "deposit", "10000", f"cash-in-a-{run}")
    expect(d.id == s["deposit"] and d.description == "first cash-in", f"id {d.id!r} description {d.description!r}")
    check_done(d, "deposit")
    return f"description={d.description!r}"


@step
def list_deposits_one_per_page():
    need("deposits")
    return first_page(deposits.list({"limit": "1"}), "deposits", "deposits")


@step
def fetch_next_deposit_page():
    need("deposits_next")
    return last_page(deposits.fetch_page(s["deposits_next"]), "deposits", "deposits")


@step
def list_all_deposits():
    need("deposits")
    return contains_all(deposits.list_all(), "deposits", "deposits")


# ---- transfers ---------------------------------------------------------------------------------

def transfer(amount, source_key, destination_key, h1, foreign_id, value):
    need(source_key, destination_key)
    t = transfers.initiate({"amount": amount, "source": s[source_key].id, "destination": s[destination_key].id,
                            "h1": h1, "foreignId": foreign_id})
    s.setdefault("transfers", []).append(t.id)
    check_movement(t, "transfer", value, foreign_id)
    check_done(t, "transfer")
    check_h1(t.h1_descriptor, h1, "transfer")
    is_wallet(t.source, source_key, "transfer.source")
    is_wallet(t.destination, destination_key, "transfer.destination")
    same_amount(t.source.amount, value, "transfer.source.amount")
    same_amount(t.destination.amount, value, "transfer.destination.amount")
    text(t.attempt.id, "transfer.attempt.id")
    return t


@step
def transfer_a_to_b_as_an_object():
    t = transfer({"value": 2500, "currency": "XOF"}, "a", "b", "Loyer", f"rent-{run}", "2500")
    s["transfer"] = t.id
    return f"id={t.id} amount={t.amount.value} status={t.status._type}"


@step
def transfer_b_to_a_as_text():
    t = transfer("500 XOF", "b", "a", "Monnaie", f"change-{run}", "500")
    return f"id={t.id} amount={t.amount.value} status={t.status._type}"


@step
def get_transfer():
    need("transfer")
    t = transfers.get(s["transfer"])
    check_movement(t, "transfer", "2500", f"rent-{run}")
    expect(t.id == s["transfer"], f"id {t.id!r}")
    check_done(t, "transfer")
    is_wallet(t.source, "a", "transfer.source")
    is_wallet(t.destination, "b", "transfer.destination")
    return f"id={t.id} status={t.status._type}"


@step
def update_transfer():
    need("transfer")
    t = transfers.update({"id": s["transfer"], "set": {"description": "March rent"}})
    check_movement(t, "transfer", "2500", f"rent-{run}")
    expect(t.id == s["transfer"] and t.description == "March rent", f"id {t.id!r} description {t.description!r}")
    return f"description={t.description!r}"


@step
def list_transfers_one_per_page():
    need("transfers")
    return first_page(transfers.list({"limit": "1"}), "transfers", "transfers")


@step
def fetch_next_transfer_page():
    need("transfers_next")
    return last_page(transfers.fetch_page(s["transfers_next"]), "transfers", "transfers")


@step
def list_all_transfers():
    need("transfers")
    return contains_all(transfers.list_all(), "transfers", "transfers")


# ---- quasi-transfers ---------------------------------------------------------------------------

def quasi_transfer(amount, h1, foreign_id, value):
    need("a")
    q = quasi_transfers.initiate({"amount": amount, "using": s["a"].id, "h1": h1, "foreignId": foreign_id})
    s.setdefault("quasi_transfers", []).append(q.id)
    check_movement(q, "quasiTransfer", value, foreign_id)
    check_pending(q, "quasiTransfer")
    check_h1(q.h1_descriptor, h1, "quasiTransfer")
    is_wallet(q.source, "a", "quasiTransfer.source")
    same_amount(q.source.amount, value, "quasiTransfer.source.amount")
    expect(q.destination is None, f"quasiTransfer.destination {q.destination!r} before it is received")
    check_secure_pay(q, "receive", "quasiTransfer")
    return q


@step
def quasi_transfer_from_a():
    q = quasi_transfer("1_500 XOF", "Cadeau", f"gift-{run}", "1500")
    s["qt"] = q.id
    return f"id={q.id} status={q.status._type} link={q.secure_pay.link}"


@step
def wallet_a_holds_the_reservation():
    need("a", "qt")
    w = wallets.get(s["a"].id)
    same_wallet(w, "a")
    # 10 000 in, 2 500 to B, 500 back from B, 1 500 reserved for the quasi-transfer.
    check_pocket(w, "6500", locked_out="1500", volume_in="10500", volume_out="4000")
    return "available=6500 lockedOut=1500"


@step
def receive_quasi_transfer_into_b():
    need("qt", "b")
    a = quasi_transfers.receive({"id": s["qt"], "using": s["b"].id})
    check_attempt(a, "QuasiTransfer", "qt", "attempt")
    s["qt_attempt"] = a.id
    return f"attempt={a.id} status={a.status._type}"


@step
def get_receive_attempt():
    need("qt_attempt")
    a = attempts.get(s["qt_attempt"])
    check_attempt(a, "QuasiTransfer", "qt", "attempt")
    expect(a.id == s["qt_attempt"], f"id {a.id!r}")
    return f"id={a.id} parentId={a.parent_id}"


@step
def get_received_quasi_transfer():
    need("qt", "qt_attempt")
    q = quasi_transfers.get(s["qt"])
    check_movement(q, "quasiTransfer", "1500", f"gift-{run}")
    expect(q.id == s["qt"], f"id {q.id!r}")
    check_done(q, "quasiTransfer")
    is_wallet(q.source, "a", "quasiTransfer.source")
    is_wallet(q.destination, "b", "quasiTransfer.destination")
    same_amount(q.destination.amount, "1500", "quasiTransfer.destination.amount")
    return f"id={q.id} status={q.status._type}"


@step
def quasi_transfer_to_cancel():
    q = quasi_transfer({"value": 1000, "currency": "XOF"}, "Erreur", f"oops-{run}", "1000")
    s["qt_cancel"] = q.id
    return f"id={q.id} status={q.status._type}"


@step
def cancel_quasi_transfer():
    need("qt_cancel")
    q = quasi_transfers.cancel(s["qt_cancel"])
    check_movement(q, "quasiTransfer", "1000", f"oops-{run}")
    expect(q.id == s["qt_cancel"], f"id {q.id!r}")
    check_cancelled(q, "quasiTransfer")
    expect(q.destination is None, f"quasiTransfer.destination {q.destination!r} after a cancel")
    return f"id={q.id} status={q.status._type} afterTimeout={q.status.cancelled.after_timeout}"


@step
def update_quasi_transfer():
    need("qt")
    q = quasi_transfers.update({"id": s["qt"], "set": {"description": "birthday"}})
    check_movement(q, "quasiTransfer", "1500", f"gift-{run}")
    expect(q.id == s["qt"] and q.description == "birthday", f"id {q.id!r} description {q.description!r}")
    check_done(q, "quasiTransfer")
    return f"description={q.description!r}"


@step
def list_quasi_transfers_one_per_page():
    need("quasi_transfers")
    return first_page(quasi_transfers.list({"limit": "1"}), "quasi_transfers", "quasiTransfers")


@step
def fetch_next_quasi_transfer_page():
    need("quasi_transfers_next")
    return last_page(quasi_transfers.fetch_page(s["quasi_transfers_next"]), "quasi_transfers", "quasiTransfers")


@step
def list_all_quasi_transfers():
    need("quasi_transfers")
    return contains_all(quasi_transfers.list_all(), "quasi_transfers", "quasiTransfers")


# ---- fund requests -----------------------------------------------------------------------------

def fund_request(amount, h1, foreign_id, value):
    need("b")
    f = fund_requests.create({"amount": amount, "using": s["b"].id, "h1": h1, "foreignId": foreign_id})
    s.setdefault("fund_requests", []).append(f.id)
    check_movement(f, "fundRequest", value, foreign_id)
    check_pending(f, "fundRequest")
    check_h1(f.h1_descriptor, h1, "fundRequest")
    is_wallet(f.destination, "b", "fundRequest.destination")
    same_amount(f.destination.amount, value, "fundRequest.destination.amount")
    expect(f.source is None, f"fundRequest.source {f.source!r} before it is sent")
    check_secure_pay(f, "send", "fundRequest")
    return f


@step
def fund_request_by_b():
    f = fund_request("700 XOF", "Facture 12", f"invoice-{run}", "700")
    s["fr"] = f.id
    return f"id={f.id} status={f.status._type} link={f.secure_pay.link}"


@step
def send_fund_request_from_a():
    need("fr", "a")
    a = fund_requests.send({"id": s["fr"], "using": s["a"].id})
    check_attempt(a, "FundRequest", "fr", "attempt")
    s["fr_attempt"] = a.id
    return f"attempt={a.id} status={a.status._type}"


@step
def get_send_attempt():
    need("fr_attempt")
    a = attempts.get(s["fr_attempt"])
    check_attempt(a, "FundRequest", "fr", "attempt")
    expect(a.id == s["fr_attempt"], f"id {a.id!r}")
    return f"id={a.id} parentId={a.parent_id}"


@step
def get_sent_fund_request():
    need("fr", "fr_attempt")
    f = fund_requests.get(s["fr"])
    check_movement(f, "fundRequest", "700", f"invoice-{run}")
    expect(f.id == s["fr"], f"id {f.id!r}")
    check_done(f, "fundRequest")
    is_wallet(f.source, "a", "fundRequest.source")
    same_amount(f.source.amount, "700", "fundRequest.source.amount")
    is_wallet(f.destination, "b", "fundRequest.destination")
    return f"id={f.id} status={f.status._type}"


@step
def fund_request_to_cancel():
    f = fund_request({"value": 300, "currency": "XOF"}, "Facture 13", f"invoice-2-{run}", "300")
    s["fr_cancel"] = f.id
    return f"id={f.id} status={f.status._type}"


@step
def cancel_fund_request():
    need("fr_cancel")
    f = fund_requests.cancel(s["fr_cancel"])
    check_movement(f, "fundRequest", "300", f"invoice-2-{run}")
    expect(f.id == s["fr_cancel"], f"id {f.id!r}")
    check_cancelled(f, "fundRequest")
    expect(f.source is None, f"fundRequest.source {f.source!r} after a cancel")
    return f"id={f.id} status={f.status._type} afterTimeout={f.status.cancelled.after_timeout}"


@step
def update_fund_request():
    need("fr")
    f = fund_requests.update({"id": s["fr"], "set": {"description": "paid by Alice"}})
    check_movement(f, "fundRequest", "700", f"invoice-{run}")
    expect(f.id == s["fr"] and f.description == "paid by Alice", f"id {f.id!r} description {f.description!r}")
    check_done(f, "fundRequest")
    return f"description={f.description!r}"


@step
def list_fund_requests_one_per_page():
    need("fund_requests")
    return first_page(fund_requests.list({"limit": "1"}), "fund_requests", "fundRequests")


@step
def fetch_next_fund_request_page():
    need("fund_requests_next")
    return last_page(fund_requests.fetch_page(s["fund_requests_next"]), "fund_requests", "fundRequests")


@step
def list_all_fund_requests():
    need("fund_requests")
    return contains_all(fund_requests.list_all(), "fund_requests", "fundRequests")


# ---- transactions ------------------------------------------------------------------------------

def check_transaction(t, what):
    text(t.id, f"{what}.id")
    text(t.url, f"{what}.url")
    check_time(t.created_time, f"{what}.createdTime")
    text(t.h1.fr, f"{what}.h1.fr")
    text(t.h1.en, f"{what}.h1.en")
    expect(t.dc is not None, f"{what}.dc is not Credit or Debit")
    expect(t.details._type in ("MobileMoneyTransfer", "FPayTransfer", "BankTransfer"), f"{what}.details")
    expect(t.status.is_successful(), f"{what}.status._type {t.status._type!r}, expected Successful")
    text(t.parent.id, f"{what}.parent.id")
    account(Single(t.source), f"{what}.source")
    account(Single(t.destination), f"{what}.destination")
    check_time(t.wallet.created_time, f"{what}.wallet.createdTime")
    text(t.wallet.mars.alpha, f"{what}.wallet.mars.alpha")


class Single:
    """A Transaction's source/destination is a bare MoneyAccount: seen as a Single to reuse account()."""

    def __init__(self, money_account):
        self.account = money_account
        self._type = "Single"

    @staticmethod
    def is_single():
        return True


def moved(t, wallet_key, dc, value, what):
    """t moved `value` in or out of the wallet s[wallet_key], as its before/after pockets say."""
    expect(t.wallet.id == s[wallet_key].id, f"{what}.wallet.id {t.wallet.id!r}, expected {s[wallet_key].id}")
    expect(t.dc.value == dc, f"{what}.dc {t.dc.value!r}, expected {dc}")
    same_amount(t.amount, value, f"{what}.amount")
    before = number(t.wallet.before.balance.available, f"{what}.wallet.before.balance.available")
    after = number(t.wallet.after.balance.available, f"{what}.wallet.after.balance.available")
    change = Decimal(value) if dc == "Credit" else -Decimal(value)
    expect(after - before == change, f"{what}: available {before} -> {after}, expected a change of {change}")
    side = t.destination if dc == "Credit" else t.source
    expect(side.identifier.value == s[wallet_key].id,
           f"{what}: the {'destination' if dc == 'Credit' else 'source'} is {side.identifier.value!r}")


@step
def list_transactions():
    need("deposit", "transfer")
    listed = transactions.list({"limit": "100"})
    s["transactions"] = check_collection(listed, "transactions")
    for t in listed.items:
        check_transaction(t, f"transaction {t.id}")
    of_deposit = [t for t in listed.items if t.parent.id == s["deposit"]]
    expect(len(of_deposit) == 1, f"{len(of_deposit)} transactions of the deposit, expected 1")
    credit = of_deposit[0]
    s["transaction"] = credit.id
    expect(credit.parent.is_deposit(), f"parent._type {credit.parent._type!r}, expected Deposit")
    moved(credit, "a", "Credit", "10000", "the deposit's transaction")
    of_transfer = sorted((t for t in listed.items if t.parent.id == s["transfer"]), key=lambda t: t.dc.value)
    expect([t.dc.value for t in of_transfer] == ["Credit", "Debit"],
           f"the transfer's transactions {[t.dc.value for t in of_transfer]}, expected a Credit and a Debit")
    expect(all(t.parent.is_transfer() for t in of_transfer), "parent._type of the transfer's transactions")
    moved(of_transfer[0], "b", "Credit", "2500", "the transfer's credit")
    moved(of_transfer[1], "a", "Debit", "2500", "the transfer's debit")
    return f"{len(listed.items)} transactions; the deposit's: {credit.id}"


@step
def get_transaction():
    need("transaction")
    t = transactions.get(s["transaction"])
    check_transaction(t, "transaction")
    expect(t.id == s["transaction"], f"id {t.id!r}")
    expect(t.parent.is_deposit() and t.parent.id == s["deposit"], f"parent {t.parent._type} {t.parent.id}")
    moved(t, "a", "Credit", "10000", "transaction")
    return f"id={t.id} dc={t.dc.value} parent={t.parent._type}"


@step
def update_transaction():
    need("transaction")
    t = transactions.update({"id": s["transaction"], "set": {"description": "cash-in, reconciled"}})
    check_transaction(t, "transaction")
    expect(t.id == s["transaction"] and t.description == "cash-in, reconciled",
           f"id {t.id!r} description {t.description!r}")
    return f"description={t.description!r}"


@step
def list_transactions_one_per_page():
    need("transactions")
    listed = transactions.list({"limit": "1"})
    ids = check_collection(listed, "transactions")
    expect(len(ids) == 1 and ids[0] in s["transactions"], f"items {ids}")
    expect(listed.has_next_page(), f"no nextPage after 1 of {len(s['transactions'])} transactions")
    s["transactions_page1"], s["transactions_next"] = listed, listed.pagination.next_page
    return f"items={ids} next={listed.pagination.next_page.query_string}"


@step
def fetch_next_transaction_page():
    need("transactions_next")
    listed = transactions.fetch_page(s["transactions_next"])
    ids = check_collection(listed, "transactions")
    first = s["transactions_page1"]
    expect(len(ids) == 1 and ids[0] in s["transactions"] and ids[0] != first.items[0].id,
           f"items {ids} after {first.items[0].id}")
    expect(listed.pagination.current_page.index == first.pagination.current_page.index + 1,
           f"currentPage.index {listed.pagination.current_page.index!r}")
    expect(listed.has_next_page() == (len(s["transactions"]) > 2), "nextPage")
    return f"items={ids} index={listed.pagination.current_page.index}"


@step
def list_all_transactions():
    need("transactions")
    listed = transactions.list_all()
    ids = check_collection(listed, "transactions")
    expect(ids and set(ids) <= set(s["transactions"]), f"{ids} not among the {len(s['transactions'])} listed before")
    return f"{len(ids)} transactions"


# ---- the wallets at the end --------------------------------------------------------------------

@step
def wallet_a_at_the_end():
    need("a")
    w = wallets.get(s["a"].id)
    same_wallet(w, "a")
    # In: 10 000 deposited, 500 from B, 1 000 back from the cancelled quasi-transfer. Out: 2 500 to
    # B, the 1 500 and 1 000 reservations, 700 for B's fund request.
    check_pocket(w, "5800", volume_in="11500", volume_out="5700")
    return "available=5800 volume.input=11500 volume.output=5700"


@step
def wallet_b_at_the_end():
    need("b")
    w = wallets.get(s["fb"])
    same_wallet(w, "b")
    # In: 3 000 deposited, 2 500 from A, the 1 500 quasi-transfer, the 700 fund request. Out: 500 to A.
    check_pocket(w, "7200", volume_in="7700", volume_out="500")
    return "available=7200 volume.input=7700 volume.output=500"


def main():
    passed = 0
    for function in STEPS:
        name = function.__name__
        try:
            detail = function()
        except Failed as failure:
            print(f"FAIL {name}: {failure}", flush=True)
            continue
        except NotRun as skipped:
            print(f"FAIL {name}: not run: {skipped}", flush=True)
            continue
        except HttpCallError as error:
            body = (error.body or "").replace("\n", " ")
            print(f"FAIL {name}: HTTP {error.status_code} {error.status_message}: {body[:500]}", flush=True)
            continue
        except Exception:
            print(f"FAIL {name}: {traceback.format_exc()}", flush=True)
            continue
        passed += 1
        print(f"ok {name} {detail}", flush=True)
    print(f"{passed} of {len(STEPS)} SDK calls passed", flush=True)
    return 0 if passed == len(STEPS) else 1


if __name__ == "__main__":
    sys.exit(main())
