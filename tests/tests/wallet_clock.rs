//! The time rules of wallet tokens and pending orders, with a clock the test moves: the wallet
//! service in this process on a fresh table of the local DynamoDB (the sandbox provider, and a
//! fake HTTP provider for a payment completed too late).

use pocketbook::domain::wallet_accounts::{
    CustomerId, Gateway, MobileNumber, OrderId, Otp, PaymentAmount, PaymentStatus, WalletToken,
};
use pocketbook::services::wallet_accounts::sandbox;
use pocketbook::services::{Command, DirectDebitError, DirectDebitRequest};
use pocketbook_tests::in_process::LocalLedger;

struct Customer {
    local: LocalLedger,
    customer: CustomerId,
    mobile: MobileNumber,
}

impl Customer {
    /// A customer with a linked sandbox MOBIKWIK wallet (1000.00).
    async fn linked() -> Self {
        let local = LocalLedger::new().await;
        let customer = CustomerId::parse(&pocketbook_tests::app::unique("cust")).unwrap();
        let mobile = MobileNumber::parse(&format!("9{:09}", rand::random::<u32>() % 1_000_000_000)).unwrap();
        let (account, _) = local
            .accounts
            .create_wallet_account(&local.project, &customer, Gateway::Mobikwik, Some(mobile.clone()))
            .await
            .unwrap();
        let otp = Otp::parse(&sandbox::otp_for(&mobile)).unwrap();
        local
            .accounts
            .wallet_account_command(&local.project, Some(&customer), &account.id, Command::Link(otp))
            .await
            .unwrap();
        Self { local, customer, mobile }
    }

    async fn token(&self) -> WalletToken {
        let listed =
            self.local.accounts.list_wallet_accounts(&self.local.project, &self.customer, false).await.unwrap();
        listed[0].token.clone().expect("a token")
    }

    async fn debit(
        &self,
        order: &str,
        amount: &str,
        token: WalletToken,
    ) -> Result<pocketbook::domain::orders::Order, DirectDebitError> {
        let request = DirectDebitRequest {
            order_id: OrderId::parse(order).unwrap(),
            amount: Some(PaymentAmount::parse(amount).unwrap()),
            gateway: Gateway::Mobikwik,
            token,
            customer: Some(self.customer.clone()),
        };
        self.local.accounts.direct_debit(&self.local.project, request, Some("https://api.example")).await
    }

    async fn wallet(&self) -> String {
        let id = sandbox::wallet_balance_id(Gateway::Mobikwik, &self.mobile);
        let head = self.local.store.read_head(&sandbox::project(), id).await.unwrap().unwrap();
        pocketbook::domain::wallet_accounts::two_decimals(head.balance.amount)
    }
}

#[tokio::test]
async fn a_token_is_good_for_ten_minutes_and_not_a_moment_longer() {
    let customer = Customer::linked().await;
    let token = customer.token().await;
    customer.local.clock.advance_ms(WalletToken::LIFETIME_MS - 1);
    assert_eq!(customer.debit("intime", "1", token).await.unwrap().status, PaymentStatus::Charged);

    let token = customer.token().await;
    customer.local.clock.advance_ms(WalletToken::LIFETIME_MS);
    let late = customer.debit("late", "1", token).await;
    assert!(matches!(late, Err(DirectDebitError::Declined { code: "INVALID_TOKEN", .. })), "{late:?}");
    assert_eq!(customer.wallet().await, "999.00");
}

#[tokio::test]
async fn a_pending_order_not_topped_up_in_time_fails_authentication_and_charges_nothing() {
    let customer = Customer::linked().await;
    let pending = customer.debit("slow", "2500", customer.token().await).await.unwrap();
    assert_eq!(pending.status, PaymentStatus::PendingVbv);
    let url = pending.payment.as_ref().unwrap().authentication.as_ref().unwrap().url.clone();
    assert_eq!(url, format!("https://api.example/sandbox/topups/{}", pending.payment.as_ref().unwrap().txn_id));

    customer.local.clock.advance_ms(pocketbook::domain::orders::Order::PENDING_LIFETIME_MS);
    let ledger = &customer.local.accounts;
    let order = ledger.order_status(&customer.local.project, &pending.order_id).await.unwrap();
    assert_eq!(order.status, PaymentStatus::AuthenticationFailed);
    // The top-up page, visited too late, neither credits nor debits.
    let visited = ledger.sandbox_top_up(&pending.payment.as_ref().unwrap().txn_id).await.unwrap();
    assert_eq!(visited.status, PaymentStatus::AuthenticationFailed);
    assert_eq!(customer.wallet().await, "1000.00");
}

#[tokio::test]
async fn a_pending_order_topped_up_in_time_is_charged_once() {
    let customer = Customer::linked().await;
    let pending = customer.debit("quick", "2500", customer.token().await).await.unwrap();
    customer.local.clock.advance_ms(pocketbook::domain::orders::Order::PENDING_LIFETIME_MS - 1);
    let ledger = &customer.local.accounts;
    let (a, b) = tokio::join!(
        ledger.sandbox_top_up(&pending.payment.as_ref().unwrap().txn_id),
        ledger.sandbox_top_up(&pending.payment.as_ref().unwrap().txn_id)
    );
    assert_eq!(a.unwrap().status, PaymentStatus::Charged);
    assert_eq!(b.unwrap().status, PaymentStatus::Charged);
    assert_eq!(customer.wallet().await, "1000.00", "credited 2500 once, debited 2500 once");
    let again = customer.debit("quick", "2500", customer.token().await).await.unwrap();
    assert_eq!(
        (again.status, again.payment.as_ref().unwrap().txn_id.clone()),
        (PaymentStatus::Charged, pending.payment.as_ref().unwrap().txn_id.clone())
    );
}

/// A customer who paid at an HTTP provider's top-up page after the order's 15 minutes gets the
/// money back: the order is AUTO_REFUNDED, refunded whole, once however often it is reported.
#[tokio::test]
async fn a_payment_completed_after_its_order_failed_is_auto_refunded_once() {
    use pocketbook::providers::http::HttpProviderConfig;
    use pocketbook::providers::ProviderSettings;
    use pocketbook_tests::fake_provider::FakeProvider;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    let fake = FakeProvider::start().await;
    let config = HttpProviderConfig {
        base_url: fake.url(),
        api_key: fake.api_key(),
        callback_secret: fake.callback_secret(),
        timeout: std::time::Duration::from_secs(2),
        attempts: 2,
    };
    let settings = ProviderSettings { http: vec![(Gateway::Paytm, config)], ..ProviderSettings::default() };
    let local = LocalLedger::with_providers(settings).await;
    let ledger = &local.accounts;
    let customer = CustomerId::parse(&pocketbook_tests::app::unique("cust")).unwrap();
    let number = format!("9{:09}", rand::random::<u32>() % 1_000_000_000);
    fake.set_balance(&number, Decimal::from_str("1.00").unwrap());
    let mobile = MobileNumber::parse(&number).unwrap();
    let (account, _) =
        ledger.create_wallet_account(&local.project, &customer, Gateway::Paytm, Some(mobile)).await.unwrap();
    let otp = Otp::parse(&FakeProvider::otp_for(&number)).unwrap();
    ledger.wallet_account_command(&local.project, Some(&customer), &account.id, Command::Link(otp)).await.unwrap();
    let listed = ledger.list_wallet_accounts(&local.project, &customer, false).await.unwrap();
    let request = DirectDebitRequest {
        order_id: OrderId::parse("late1").unwrap(),
        amount: Some(PaymentAmount::parse("40").unwrap()),
        gateway: Gateway::Paytm,
        token: listed[0].token.clone().expect("a token"),
        customer: Some(customer.clone()),
    };
    let pending = ledger.direct_debit(&local.project, request, None).await.unwrap();
    assert_eq!(pending.status, PaymentStatus::PendingVbv);
    let txn = pending.payment.as_ref().unwrap().txn_id.clone();

    local.clock.advance_ms(pocketbook::domain::orders::Order::PENDING_LIFETIME_MS);
    let (report, signature) = fake.complete_top_up(txn.as_str(), true).unwrap();
    let order = ledger.provider_callback(Gateway::Paytm, report.as_bytes(), Some(&signature)).await.unwrap();
    assert_eq!(order.status, PaymentStatus::AutoRefunded);
    assert!(order.fully_refunded());
    assert_eq!(order.refunds.len(), 1);
    assert_eq!(order.refunds[0].status, pocketbook::domain::orders::RefundStatus::Success);
    assert_eq!(order.refunds[0].amount, pending.amount);
    let sent = fake.requests_to("/refunds");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].idempotency_key(), Some(order.refunds[0].id.as_str()));
    assert_eq!(fake.balance(&number), Some(Decimal::from_str("41.00").unwrap()), "the 40 paid late came back");

    // The provider reports again (its retry): nothing more is refunded.
    let again = ledger.provider_callback(Gateway::Paytm, report.as_bytes(), Some(&signature)).await.unwrap();
    assert_eq!((again.status, again.refunds.len()), (PaymentStatus::AutoRefunded, 1));
    assert_eq!(fake.requests_to("/refunds").len(), 1);
    let status = ledger.order_status(&local.project, &pending.order_id).await.unwrap();
    assert_eq!((status.status, status.amount_refunded()), (PaymentStatus::AutoRefunded, pending.amount.value()));
}
