//! The time rules of wallet tokens and pending orders, with a clock the test moves: the wallet
//! service in this process on a fresh table of the local DynamoDB (sandbox provider).

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
            .create_wallet_account(&local.project, &customer, Gateway::Mobikwik, mobile.clone())
            .await
            .unwrap();
        let otp = Otp::parse(&sandbox::otp_for(&mobile)).unwrap();
        local
            .accounts
            .wallet_account_command(&local.project, &customer, &account.id, Command::Link(otp))
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
    ) -> Result<pocketbook::domain::wallet_accounts::Order, DirectDebitError> {
        let request = DirectDebitRequest {
            order_id: OrderId::parse(order).unwrap(),
            merchant_id: "shop".into(),
            amount: PaymentAmount::parse(amount).unwrap(),
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
    let url = pending.authentication.as_ref().unwrap().url.clone();
    assert_eq!(url, format!("https://api.example/sandbox/topups/{}", pending.txn_id));

    customer.local.clock.advance_ms(pocketbook::domain::wallet_accounts::Order::PENDING_LIFETIME_MS);
    let ledger = &customer.local.accounts;
    let order = ledger.order_status(&customer.local.project, &pending.order_id).await.unwrap();
    assert_eq!(order.status, PaymentStatus::AuthenticationFailed);
    // The top-up page, visited too late, neither credits nor debits.
    let visited = ledger.sandbox_top_up(&pending.txn_id).await.unwrap();
    assert_eq!(visited.status, PaymentStatus::AuthenticationFailed);
    assert_eq!(customer.wallet().await, "1000.00");
}

#[tokio::test]
async fn a_pending_order_topped_up_in_time_is_charged_once() {
    let customer = Customer::linked().await;
    let pending = customer.debit("quick", "2500", customer.token().await).await.unwrap();
    customer.local.clock.advance_ms(pocketbook::domain::wallet_accounts::Order::PENDING_LIFETIME_MS - 1);
    let ledger = &customer.local.accounts;
    let (a, b) = tokio::join!(ledger.sandbox_top_up(&pending.txn_id), ledger.sandbox_top_up(&pending.txn_id));
    assert_eq!(a.unwrap().status, PaymentStatus::Charged);
    assert_eq!(b.unwrap().status, PaymentStatus::Charged);
    assert_eq!(customer.wallet().await, "1000.00", "credited 2500 once, debited 2500 once");
    let again = customer.debit("quick", "2500", customer.token().await).await.unwrap();
    assert_eq!((again.status, again.txn_id), (PaymentStatus::Charged, pending.txn_id));
}
