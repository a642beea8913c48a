//! The HTTP wallet provider against the fake provider, through real sockets on loopback:
//! the protocol, the error mapping, retries with their idempotency keys, and time bounds.

use pocketbook::domain::wallet_accounts::{MobileNumber, Otp, PaymentAmount, TxnId};
use pocketbook::providers::http::{sign_callback, HttpProvider, HttpProviderConfig};
use pocketbook::providers::{Debit, DebitOutcome, ProviderError, TopUp, WalletProvider};
use pocketbook_tests::fake_provider::{Behaviour, FakeProvider};
use rust_decimal::Decimal;
use std::str::FromStr;
use std::time::{Duration, Instant};

const MOBILE: &str = "9876543210";

fn client(fake: &FakeProvider, timeout: Duration, attempts: u32) -> HttpProvider {
    HttpProvider::new(HttpProviderConfig {
        base_url: fake.url(),
        api_key: fake.api_key(),
        callback_secret: fake.callback_secret(),
        timeout,
        attempts,
    })
    .unwrap()
}

/// Generous per attempt: these tests are not about time.
fn patient_client(fake: &FakeProvider) -> HttpProvider {
    client(fake, Duration::from_secs(5), 3)
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn mobile() -> MobileNumber {
    MobileNumber::parse(MOBILE).unwrap()
}

fn otp(text: &str) -> Otp {
    Otp::parse(text).unwrap()
}

fn amount(text: &str) -> PaymentAmount {
    PaymentAmount::parse(text).unwrap()
}

fn new_txn() -> TxnId {
    TxnId::from_random(*uuid::Uuid::new_v4().as_bytes())
}

/// A wallet of `MOBILE` with `balance`, linked: its reference.
async fn linked_wallet(fake: &FakeProvider, provider: &HttpProvider, balance: &str) -> String {
    fake.set_balance(MOBILE, dec(balance));
    provider.authenticate(&mobile()).await.unwrap();
    let wallet = provider.link(&mobile(), &otp(&FakeProvider::otp_for(MOBILE))).await.unwrap();
    fake.clear_requests();
    wallet.reference
}

async fn debit(
    provider: &HttpProvider,
    reference: &str,
    txn_id: &TxnId,
    value: &str,
) -> Result<DebitOutcome, ProviderError> {
    provider.debit(&Debit { reference, txn_id, amount: amount(value) }).await
}

#[tokio::test]
async fn a_wallet_is_linked_with_the_right_otp_and_refused_with_a_wrong_one() {
    let fake = FakeProvider::start().await;
    let provider = patient_client(&fake);
    fake.set_balance(MOBILE, dec("250.00"));

    provider.authenticate(&mobile()).await.unwrap();
    let asked = &fake.requests_to("/otp")[0];
    assert_eq!(asked.method, "POST");
    assert_eq!(asked.header("authorization"), Some(format!("Bearer {}", fake.api_key()).as_str()));
    assert_eq!(asked.header("content-type"), Some("application/json"));
    assert_eq!(asked.json(), serde_json::json!({"mobile_number": MOBILE}));

    let wrong = provider.link(&mobile(), &otp("000000")).await;
    assert!(
        matches!(&wrong, Err(ProviderError::Refused(reason)) if reason.contains("400") && reason.contains("wrong OTP")),
        "{wrong:?}"
    );
    assert_eq!(fake.requests_to("/link").len(), 1, "a refusal is not retried");

    let wallet = provider.link(&mobile(), &otp(&FakeProvider::otp_for(MOBILE))).await.unwrap();
    assert!(wallet.reference.starts_with("fake/"));
    assert_eq!(wallet.balance, dec("250.00"));
    assert_eq!(fake.requests_to("/link")[1].json()["otp"], "543210");
}

#[tokio::test]
async fn a_linked_wallet_answers_balance_debits_top_ups_and_delink() {
    let fake = FakeProvider::start().await;
    let provider = patient_client(&fake);
    let reference = linked_wallet(&fake, &provider, "150.00").await;

    assert_eq!(provider.balance(&reference).await, Ok(dec("150.00")));
    assert!(fake.requests()[0].path.contains("/wallets/fake%2F"), "the reference is one path segment");

    let txn = new_txn();
    assert_eq!(debit(&provider, &reference, &txn, "100").await, Ok(DebitOutcome::Charged { balance: dec("50.00") }));
    let sent = &fake.requests_to("/debits")[0];
    assert_eq!(sent.idempotency_key(), Some(txn.as_str()));
    assert_eq!(sent.json(), serde_json::json!({"wallet_id": reference, "txn_id": txn.as_str(), "amount": "100.00"}));
    assert_eq!(fake.balance(MOBILE), Some(dec("50.00")));

    let short = debit(&provider, &reference, &new_txn(), "60.50").await;
    assert_eq!(short, Ok(DebitOutcome::InsufficientFunds { balance: dec("50.00") }));
    assert_eq!(fake.balance(MOBILE), Some(dec("50.00")), "nothing was debited");

    let top_up_txn = new_txn();
    let top_up =
        provider.top_up(&TopUp { reference: &reference, txn_id: &top_up_txn, amount: amount("60.50") }).await.unwrap();
    assert_eq!(top_up.method, "POST");
    assert!(top_up.url.starts_with(&fake.url()) && top_up.url.ends_with(top_up_txn.as_str()), "{}", top_up.url);
    assert!(top_up.params.contains(&("amount".to_owned(), "60.50".to_owned())), "{:?}", top_up.params);
    assert_eq!(fake.requests_to("/topups")[0].idempotency_key(), Some(top_up_txn.as_str()));

    fake.decline_debits(MOBILE, "wallet blocked");
    let declined = debit(&provider, &reference, &new_txn(), "1").await;
    assert_eq!(declined, Ok(DebitOutcome::Declined { reason: "wallet blocked".to_owned() }));

    assert_eq!(provider.delink(&reference).await, Ok(()));
    let gone = provider.balance(&reference).await;
    assert!(matches!(&gone, Err(ProviderError::Refused(reason)) if reason.contains("404")), "{gone:?}");
}

#[tokio::test]
async fn a_provider_slower_than_the_timeout_is_unavailable_within_attempts_times_timeout() {
    let fake = FakeProvider::start().await;
    let timeout = Duration::from_millis(300);
    let provider = client(&fake, timeout, 3);
    let reference = linked_wallet(&fake, &provider, "10.00").await;
    fake.set_behaviour(Behaviour::Slow(Duration::from_secs(2)));

    let started = Instant::now();
    let answer = provider.balance(&reference).await;
    let elapsed = started.elapsed();

    assert!(matches!(&answer, Err(ProviderError::Unavailable(_))), "{answer:?}");
    assert!(elapsed >= timeout * 3, "each attempt waited its timeout: {elapsed:?}");
    // Three timeouts, two pauses of at most 100 ms, and room for a busy machine.
    assert!(elapsed <= timeout * 3 + Duration::from_millis(200 + 500), "{elapsed:?}");
    assert_eq!(fake.requests_to("/balance").len(), 3);
}

#[tokio::test]
async fn a_debit_that_timed_out_can_be_asked_again_and_debits_once() {
    let fake = FakeProvider::start().await;
    let provider = client(&fake, Duration::from_millis(200), 2);
    let reference = linked_wallet(&fake, &provider, "10.00").await;
    let txn = new_txn();

    fake.set_behaviour(Behaviour::Slow(Duration::from_millis(600)));
    let unknown = debit(&provider, &reference, &txn, "4").await;
    assert!(matches!(unknown, Err(ProviderError::Unavailable(_))), "{unknown:?}");

    fake.set_behaviour(Behaviour::Normal);
    let again = debit(&provider, &reference, &txn, "4").await;
    assert_eq!(again, Ok(DebitOutcome::Charged { balance: dec("6.00") }));
    // Let the slow handlers, which the client gave up on, finish too.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.balance(MOBILE), Some(dec("6.00")));
    let keys: Vec<_> = fake.requests_to("/debits").iter().map(|r| r.idempotency_key().map(str::to_owned)).collect();
    assert_eq!(keys, vec![Some(txn.as_str().to_owned()); 3]);
}

#[tokio::test]
async fn a_provider_answering_500_is_unavailable_after_every_attempt() {
    let fake = FakeProvider::start().await;
    let provider = patient_client(&fake);
    let reference = linked_wallet(&fake, &provider, "10.00").await;
    fake.set_behaviour(Behaviour::Fail500);

    let answer = debit(&provider, &reference, &new_txn(), "1").await;

    assert!(matches!(&answer, Err(ProviderError::Unavailable(why)) if why.contains("500")), "{answer:?}");
    assert_eq!(fake.requests_to("/debits").len(), 3);
    assert_eq!(fake.balance(MOBILE), Some(dec("10.00")));
}

#[tokio::test]
async fn a_provider_answering_garbage_is_unavailable_after_every_attempt() {
    let fake = FakeProvider::start().await;
    let provider = patient_client(&fake);
    let reference = linked_wallet(&fake, &provider, "10.00").await;
    fake.set_behaviour(Behaviour::Garbage);

    let answer = provider.balance(&reference).await;

    assert!(matches!(&answer, Err(ProviderError::Unavailable(why)) if why.contains("unreadable")), "{answer:?}");
    assert_eq!(fake.requests_to("/balance").len(), 3);
}

#[tokio::test]
async fn a_debit_retried_after_two_failures_succeeds_with_one_idempotency_key_and_debits_once() {
    let fake = FakeProvider::start().await;
    let provider = patient_client(&fake);
    let reference = linked_wallet(&fake, &provider, "10.00").await;
    fake.set_behaviour(Behaviour::FailTimes(2));
    let txn = new_txn();

    let answer = debit(&provider, &reference, &txn, "2.50").await;

    assert_eq!(answer, Ok(DebitOutcome::Charged { balance: dec("7.50") }));
    let debits = fake.requests_to("/debits");
    assert_eq!(debits.len(), 3);
    assert!(debits.iter().all(|r| r.idempotency_key() == Some(txn.as_str())), "{debits:?}");
    assert!(debits.iter().all(|r| r.body == debits[0].body), "retries send the same request");
    assert_eq!(fake.balance(MOBILE), Some(dec("7.50")));

    let repeated = debit(&provider, &reference, &txn, "2.50").await;
    assert_eq!(repeated, answer, "a repeated transaction id gets the first answer");
    assert_eq!(fake.balance(MOBILE), Some(dec("7.50")));
}

#[tokio::test]
async fn a_wrong_api_key_is_refused_once_and_never_shown() {
    let fake = FakeProvider::start().await;
    fake.set_balance(MOBILE, dec("1.00"));
    let provider = HttpProvider::new(HttpProviderConfig {
        base_url: fake.url(),
        api_key: "not-the-right-key".to_owned(),
        callback_secret: fake.callback_secret(),
        timeout: Duration::from_secs(5),
        attempts: 3,
    })
    .unwrap();

    let answer = provider.authenticate(&mobile()).await;

    assert!(matches!(&answer, Err(ProviderError::Refused(reason)) if reason.contains("401")), "{answer:?}");
    assert!(!format!("{answer:?}").contains("not-the-right-key"));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable_within_the_bound() {
    let fake = FakeProvider::start().await;
    let url = fake.url();
    let provider = client(&fake, Duration::from_millis(300), 2);
    drop(fake);
    tokio::time::sleep(Duration::from_millis(50)).await;

    let started = Instant::now();
    let answer = provider.balance("fake/gone").await;

    assert!(matches!(&answer, Err(ProviderError::Unavailable(_))), "{answer:?} from {url}");
    assert!(started.elapsed() <= Duration::from_millis(2 * 300 + 100 + 500), "{:?}", started.elapsed());
}

#[tokio::test]
async fn amounts_come_back_exact_whether_strings_or_numbers() {
    let fake = FakeProvider::start().await;
    let provider = patient_client(&fake);
    fake.set_balance(MOBILE, dec("12345678901234.10"));
    provider.authenticate(&mobile()).await.unwrap();
    let wallet = provider.link(&mobile(), &otp(&FakeProvider::otp_for(MOBILE))).await.unwrap();
    assert_eq!(wallet.balance.to_string(), "12345678901234.10");

    fake.amounts_as_numbers(true);
    assert_eq!(provider.balance(&wallet.reference).await.map(|b| b.to_string()), Ok("12345678901234.10".to_owned()));
    let charged = debit(&provider, &wallet.reference, &new_txn(), "0.10").await;
    assert_eq!(charged, Ok(DebitOutcome::Charged { balance: dec("12345678901234.00") }));
}

#[tokio::test]
async fn a_callback_verifies_with_the_right_signature_and_not_when_tampered_with() {
    let fake = FakeProvider::start().await;
    let provider = patient_client(&fake);
    let reference = linked_wallet(&fake, &provider, "1.00").await;
    let txn = new_txn();
    provider.top_up(&TopUp { reference: &reference, txn_id: &txn, amount: amount("5") }).await.unwrap();

    let (body, signature) = fake.complete_top_up(txn.as_str(), true).unwrap();

    assert!(provider.verify_callback(body.as_bytes(), &signature));
    let tampered = body.replace("SUCCESS", "FAILURE");
    assert_ne!(tampered, body);
    assert!(!provider.verify_callback(tampered.as_bytes(), &signature));
    assert!(!provider.verify_callback(body.as_bytes(), &sign_callback("someone else's secret", body.as_bytes())));
}
