//! A merchant's order, as Juspay's order object: created first (`NEW`) or by its direct debit,
//! paid once by wallet direct debit, and refunded in parts, never beyond what was charged.

use super::names::{string_newtype, NameError, ProjectId};
use super::time::Millis;
use super::wallet_accounts::{
    is_random_id, random_id, CustomerId, Gateway, OrderId, PaymentAmount, PaymentStatus, TokenGrant, TxnId,
    WalletAccountId,
};
use rust_decimal::Decimal;
use std::fmt;

string_newtype!(
    /// Our id of an order (Juspay's `id`, `ordeh_…`), beside the merchant's `order_id`.
    OrderUid
);
string_newtype!(
    /// Our id of a refund (`rfd_…`).
    RefundId
);
string_newtype!(
    /// The merchant's `unique_request_id` of a refund: asking again with it refunds once.
    RefundRequestId
);

impl OrderUid {
    pub const PREFIX: &'static str = "ordeh_";

    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(random_id(Self::PREFIX, bytes))
    }

    pub fn parse(text: &str) -> Result<Self, NameError> {
        is_random_id(text, Self::PREFIX).then(|| Self(text.to_owned())).ok_or(NameError("must be an order id"))
    }
}

impl RefundId {
    pub const PREFIX: &'static str = "rfd_";

    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self(random_id(Self::PREFIX, bytes))
    }

    pub fn parse(text: &str) -> Result<Self, NameError> {
        is_random_id(text, Self::PREFIX).then(|| Self(text.to_owned())).ok_or(NameError("must be a refund id"))
    }
}

impl RefundRequestId {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let ok =
            (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        ok.then(|| Self(text.to_owned())).ok_or(NameError("must be 1-64 characters of A-Z, a-z, 0-9, '-', '_', '.'"))
    }
}

/// The `unique_request_id` of the refund of an AUTO_REFUNDED order (see
/// [`Order::auto_refunded`]): a merchant's refunds are only ever asked of CHARGED orders.
pub const AUTO_REFUND_REQUEST: &str = "auto-refund";

/// A free-text field of an order (email, phone, URL, description, udf): printable, bounded.
pub fn order_text(text: &str, max: usize) -> Result<String, NameError> {
    const WHAT: NameError = NameError("must be printable text");
    if text.chars().count() > max {
        return Err(NameError("is too long"));
    }
    if text.chars().any(char::is_control) {
        return Err(WHAT);
    }
    Ok(text.to_owned())
}

/// The only currency the wallets hold.
pub const CURRENCY: &str = "INR";

/// How many `udf` fields an order has (`udf1`…`udf10`).
pub const UDFS: usize = 10;

/// What the merchant tells about an order besides its amount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderDetails {
    /// The merchant's customer (the id its wallet accounts are under).
    pub customer_id: Option<CustomerId>,
    pub customer_email: Option<String>,
    pub customer_phone: Option<String>,
    pub return_url: Option<String>,
    pub description: Option<String>,
    pub udf: [Option<String>; UDFS],
    /// `metadata.<key>` fields, sorted by key.
    pub metadata: Vec<(String, String)>,
}

impl OrderDetails {
    /// These details with every field `changes` gives replaced.
    pub fn merged(&self, changes: &OrderDetails) -> OrderDetails {
        let pick = |new: &Option<String>, old: &Option<String>| new.clone().or_else(|| old.clone());
        let mut udf = self.udf.clone();
        for (slot, new) in udf.iter_mut().zip(&changes.udf) {
            if new.is_some() {
                slot.clone_from(new);
            }
        }
        let mut metadata = self.metadata.clone();
        for (key, value) in &changes.metadata {
            match metadata.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1.clone_from(value),
                None => metadata.push((key.clone(), value.clone())),
            }
        }
        metadata.sort();
        OrderDetails {
            customer_id: changes.customer_id.clone().or_else(|| self.customer_id.clone()),
            customer_email: pick(&changes.customer_email, &self.customer_email),
            customer_phone: pick(&changes.customer_phone, &self.customer_phone),
            return_url: pick(&changes.return_url, &self.return_url),
            description: pick(&changes.description, &self.description),
            udf,
            metadata,
        }
    }
}

/// Where the customer goes to complete a payment (Juspay's `payment.authentication`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    /// `GET` or `POST`.
    pub method: String,
    pub url: String,
    /// Form parameters, for `POST` only.
    pub params: Vec<(String, String)>,
}

/// An order's payment by wallet direct debit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub txn_id: TxnId,
    pub customer: CustomerId,
    pub wallet_id: WalletAccountId,
    pub gateway: Gateway,
    /// The provider's handle for the wallet debited.
    pub reference: String,
    pub authentication: Option<Authentication>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    /// Recorded; the provider has not confirmed it yet.
    Pending,
    Success,
    /// The provider refused it: it does not count against the order.
    Failure,
}

impl RefundStatus {
    const ALL: [RefundStatus; 3] = [RefundStatus::Pending, RefundStatus::Success, RefundStatus::Failure];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "PENDING",
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Failure => "FAILURE",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundId,
    pub request: RefundRequestId,
    pub amount: PaymentAmount,
    pub status: RefundStatus,
    pub created_at: Millis,
}

/// Why a refund cannot be made. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("only a CHARGED order can be refunded; this one is {0}")]
    NotCharged(&'static str),
    #[error("the refund exceeds what is left to refund ({0})")]
    Exceeds(String),
    #[error("this unique_request_id was used for a refund of another amount")]
    RequestReused,
}

/// What asking for a refund comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundStep {
    /// The same `unique_request_id` again: that refund, as it stands.
    Existing(Refund),
    /// The order with the new refund, pending, at the end of its refunds.
    New(Order),
}

/// Why an order cannot be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderChangeRefusal {
    #[error("the order's payment has started ({0}): it can no longer change")]
    PaymentStarted(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub project: ProjectId,
    pub order_id: OrderId,
    pub uid: OrderUid,
    pub amount: PaymentAmount,
    pub details: OrderDetails,
    /// `None` until a direct debit starts.
    pub payment: Option<Payment>,
    pub status: PaymentStatus,
    /// In the order they were asked for.
    pub refunds: Vec<Refund>,
    /// Moves on every write: each write is conditioned on the version it read.
    pub version: u64,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// A PENDING_VBV order not completed by then is AUTHENTICATION_FAILED.
    pub expires_at: Millis,
}

impl Order {
    /// How long a customer has to complete a top-up.
    pub const PENDING_LIFETIME_MS: i64 = 15 * 60 * 1000;

    /// A new order, not paid yet.
    pub fn created(
        project: &ProjectId,
        order_id: OrderId,
        uid: OrderUid,
        amount: PaymentAmount,
        details: OrderDetails,
        now: Millis,
    ) -> Self {
        Self {
            project: project.clone(),
            order_id,
            uid,
            amount,
            details,
            payment: None,
            status: PaymentStatus::New,
            refunds: Vec::new(),
            version: 0,
            created_at: now,
            updated_at: now,
            expires_at: now,
        }
    }

    /// The order with a new amount and details, while no payment has started.
    pub fn changed(
        &self,
        amount: Option<PaymentAmount>,
        details: &OrderDetails,
        now: Millis,
    ) -> Result<Self, OrderChangeRefusal> {
        if self.payment.is_some() || self.status != PaymentStatus::New {
            return Err(OrderChangeRefusal::PaymentStarted(self.status.as_str()));
        }
        Ok(Self {
            amount: amount.unwrap_or(self.amount),
            details: self.details.merged(details),
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        })
    }

    /// The order paid from `grant`'s wallet by transaction `txn`, charged unless its debit
    /// says otherwise: this (NEW) order, or a new one of `amount` when there was none.
    pub fn placed(self, txn: TxnId, grant: &TokenGrant, now: Millis) -> Self {
        let payment = Payment {
            txn_id: txn,
            customer: grant.customer.clone(),
            wallet_id: grant.wallet_id.clone(),
            gateway: grant.gateway,
            reference: grant.reference.clone(),
            authentication: None,
        };
        let customer_id = self.details.customer_id.clone().or_else(|| Some(grant.customer.clone()));
        Self {
            details: OrderDetails { customer_id, ..self.details },
            payment: Some(payment),
            status: PaymentStatus::Charged,
            version: self.version + 1,
            updated_at: now,
            expires_at: now.plus_ms(Self::PENDING_LIFETIME_MS),
            ..self
        }
    }

    /// The same order in another status (the next version).
    pub fn moved_to(&self, status: PaymentStatus, now: Millis) -> Self {
        Self { status, version: self.version + 1, updated_at: now, ..self.clone() }
    }

    /// Pending for a top-up at `authentication`, for another `PENDING_LIFETIME_MS`.
    pub fn pending(&self, authentication: Authentication, now: Millis) -> Self {
        let payment = self.payment.clone().map(|payment| Payment { authentication: Some(authentication), ..payment });
        Self {
            payment,
            expires_at: now.plus_ms(Self::PENDING_LIFETIME_MS),
            ..self.moved_to(PaymentStatus::PendingVbv, now)
        }
    }

    /// What a provider's report of a top-up makes of the order.
    pub fn reported(&self, success: bool, now: Millis) -> Self {
        let status = match (success, self.status) {
            (true, _) => PaymentStatus::Charged,
            (false, PaymentStatus::PendingVbv) => PaymentStatus::AuthenticationFailed,
            (false, _) => PaymentStatus::AuthorizationFailed,
        };
        self.moved_to(status, now)
    }

    /// The status as of `now`: a pending order whose time ran out has failed, whether or not
    /// that has been written yet.
    pub fn status_at(&self, now: Millis) -> PaymentStatus {
        match self.status {
            PaymentStatus::PendingVbv if now >= self.expires_at => PaymentStatus::AuthenticationFailed,
            status => status,
        }
    }

    /// The order as of `now` (see [`Order::status_at`]).
    pub fn as_of(self, now: Millis) -> Self {
        Self { status: self.status_at(now), ..self }
    }

    /// Refunds that count against the order: pending and successful ones.
    pub fn amount_refunded(&self) -> Decimal {
        self.refunds.iter().filter(|r| r.status != RefundStatus::Failure).map(|r| r.amount.value()).sum()
    }

    /// Juspay's `refunded`: everything charged has been given back.
    pub fn fully_refunded(&self) -> bool {
        matches!(self.status, PaymentStatus::Charged | PaymentStatus::AutoRefunded)
            && self.amount_refunded() >= self.amount.value()
    }

    /// A provider took the payment after the order had failed (a top-up completed too late):
    /// the order becomes AUTO_REFUNDED with a PENDING refund of the whole amount, as Juspay
    /// gives back a payment it can no longer honour. `None` when there is nothing to give
    /// back: no payment, not failed, or auto-refunded already.
    pub fn auto_refunded(&self, id: RefundId, now: Millis) -> Option<Self> {
        let failed =
            matches!(self.status_at(now), PaymentStatus::AuthenticationFailed | PaymentStatus::AuthorizationFailed);
        if self.payment.is_none() || !failed {
            return None;
        }
        let request = RefundRequestId(AUTO_REFUND_REQUEST.to_owned());
        let refund = Refund { id, request, amount: self.amount, status: RefundStatus::Pending, created_at: now };
        let mut next = self.moved_to(PaymentStatus::AutoRefunded, now);
        next.refunds.push(refund);
        Some(next)
    }

    /// The refund [`Order::auto_refunded`] made, while the provider has not settled it.
    pub fn pending_auto_refund(&self) -> Option<&Refund> {
        (self.status == PaymentStatus::AutoRefunded).then_some(())?;
        self.refunds.iter().find(|r| r.request.0 == AUTO_REFUND_REQUEST && r.status == RefundStatus::Pending)
    }

    /// A refund of `amount` asked for under `request`: the same request again is that refund;
    /// a new one must fit in what is left of the charged amount.
    pub fn refund(
        &self,
        request: RefundRequestId,
        amount: PaymentAmount,
        id: RefundId,
        now: Millis,
    ) -> Result<RefundStep, RefundRefusal> {
        if let Some(existing) = self.refunds.iter().find(|r| r.request == request) {
            return match existing.amount == amount {
                true => Ok(RefundStep::Existing(existing.clone())),
                false => Err(RefundRefusal::RequestReused),
            };
        }
        if self.status != PaymentStatus::Charged {
            return Err(RefundRefusal::NotCharged(self.status.as_str()));
        }
        let left = self.amount.value() - self.amount_refunded();
        if amount.value() > left {
            return Err(RefundRefusal::Exceeds(super::wallet_accounts::two_decimals(left)));
        }
        let refund = Refund { id, request, amount, status: RefundStatus::Pending, created_at: now };
        let mut next = Self { version: self.version + 1, updated_at: now, ..self.clone() };
        next.refunds.push(refund);
        Ok(RefundStep::New(next))
    }

    /// The order with refund `id` settled as `status` (the next version).
    pub fn refund_settled(&self, id: &RefundId, status: RefundStatus, now: Millis) -> Self {
        let mut next = Self { version: self.version + 1, updated_at: now, ..self.clone() };
        for refund in next.refunds.iter_mut().filter(|r| r.id == *id) {
            refund.status = status;
        }
        next
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn amount(text: &str) -> PaymentAmount {
        PaymentAmount::parse(text).unwrap()
    }

    fn charged(total: &str) -> Order {
        let project = ProjectId::parse("p").unwrap();
        let now = Millis::from_epoch_ms(1);
        let order = Order::created(
            &project,
            OrderId::parse("o1").unwrap(),
            OrderUid::from_random([1; 16]),
            amount(total),
            OrderDetails::default(),
            now,
        );
        Order { status: PaymentStatus::Charged, ..order }
    }

    fn request(text: &str) -> RefundRequestId {
        RefundRequestId::parse(text).unwrap()
    }

    fn settle(step: RefundStep) -> Order {
        match step {
            RefundStep::New(order) => {
                let id = order.refunds.last().unwrap().id.clone();
                order.refund_settled(&id, RefundStatus::Success, Millis::from_epoch_ms(2))
            }
            RefundStep::Existing(_) => panic!("a new refund was expected"),
        }
    }

    /// `charged` as a PENDING_VBV payment whose top-up time ran out at 1 + the lifetime.
    fn failed(total: &str) -> Order {
        let payment = Payment {
            txn_id: TxnId::from_random([2; 16]),
            customer: CustomerId::parse("c1").unwrap(),
            wallet_id: WalletAccountId::from_random([3; 16]),
            gateway: Gateway::Paytm,
            reference: "paytm/w1".into(),
            authentication: None,
        };
        let order = Order { payment: Some(payment), ..charged(total) };
        Order {
            status: PaymentStatus::PendingVbv,
            expires_at: Millis::from_epoch_ms(1 + Order::PENDING_LIFETIME_MS),
            ..order
        }
    }

    #[test]
    fn a_payment_taken_after_its_order_failed_is_given_back_whole_once() {
        let order = failed("40.00");
        let in_time = Millis::from_epoch_ms(Order::PENDING_LIFETIME_MS);
        assert_eq!(
            order.auto_refunded(RefundId::from_random([4; 16]), in_time),
            None,
            "still pending: nothing to give back"
        );
        let late = Millis::from_epoch_ms(2 + Order::PENDING_LIFETIME_MS);
        let refunded = order.auto_refunded(RefundId::from_random([4; 16]), late).expect("failed: given back");
        assert_eq!(refunded.status, PaymentStatus::AutoRefunded);
        assert_eq!(refunded.version, order.version + 1);
        assert_eq!(refunded.amount_refunded(), Decimal::from_str("40.00").unwrap());
        assert!(refunded.fully_refunded(), "Juspay's refunded: true");
        let pending = refunded.pending_auto_refund().expect("pending at the provider").clone();
        assert_eq!((pending.amount, pending.request.as_str()), (order.amount, AUTO_REFUND_REQUEST));
        // Auto-refunded already: no second refund, and a merchant's refund is refused.
        assert_eq!(refunded.auto_refunded(RefundId::from_random([5; 16]), late), None);
        let asked = refunded.refund(request("m1"), amount("1"), RefundId::from_random([6; 16]), late);
        assert_eq!(asked, Err(RefundRefusal::NotCharged("AUTO_REFUNDED")));
        let settled = refunded.refund_settled(&pending.id, RefundStatus::Success, late);
        assert_eq!(settled.pending_auto_refund(), None);
        assert!(settled.fully_refunded());
        // A charged order, or one never paid, has nothing to give back.
        assert_eq!(charged("5").auto_refunded(RefundId::from_random([7; 16]), late), None);
    }

    #[test]
    fn refunds_add_up_to_the_charged_amount_and_no_further() {
        let order = charged("100.00");
        let now = Millis::from_epoch_ms(2);
        let order = settle(order.refund(request("r1"), amount("40"), RefundId::from_random([2; 16]), now).unwrap());
        assert_eq!(order.amount_refunded(), Decimal::from(40));
        assert!(!order.fully_refunded());
        let too_much = order.refund(request("r2"), amount("60.01"), RefundId::from_random([3; 16]), now);
        assert_eq!(too_much, Err(RefundRefusal::Exceeds("60.00".into())));
        let order = settle(order.refund(request("r2"), amount("60"), RefundId::from_random([3; 16]), now).unwrap());
        assert!(order.fully_refunded());
        assert_eq!(order.version, 4);
    }

    #[test]
    fn the_same_request_is_the_same_refund_and_another_amount_under_it_is_refused() {
        let order = charged("10");
        let now = Millis::from_epoch_ms(2);
        let order = settle(order.refund(request("r1"), amount("4"), RefundId::from_random([2; 16]), now).unwrap());
        let again = order.refund(request("r1"), amount("4"), RefundId::from_random([9; 16]), now).unwrap();
        assert!(matches!(again, RefundStep::Existing(r) if r.id == RefundId::from_random([2; 16])));
        assert_eq!(
            order.refund(request("r1"), amount("5"), RefundId::from_random([9; 16]), now),
            Err(RefundRefusal::RequestReused)
        );
    }

    #[test]
    fn only_charged_orders_are_refunded_and_failed_refunds_do_not_count() {
        let now = Millis::from_epoch_ms(2);
        let order = Order { status: PaymentStatus::PendingVbv, ..charged("10") };
        assert!(matches!(
            order.refund(request("r"), amount("1"), RefundId::from_random([2; 16]), now),
            Err(RefundRefusal::NotCharged("PENDING_VBV"))
        ));
        let order = charged("10");
        let RefundStep::New(pending) =
            order.refund(request("r"), amount("10"), RefundId::from_random([2; 16]), now).unwrap()
        else {
            panic!()
        };
        let failed = pending.refund_settled(&RefundId::from_random([2; 16]), RefundStatus::Failure, now);
        assert_eq!(failed.amount_refunded(), Decimal::ZERO);
    }

    #[test]
    fn a_change_keeps_what_it_does_not_name_and_stops_at_payment() {
        let now = Millis::from_epoch_ms(2);
        let mut order = charged("10");
        order.status = PaymentStatus::New;
        order.details.udf[0] = Some("a".into());
        order.details.metadata = vec![("k".into(), "v".into())];
        let mut changes = OrderDetails::default();
        changes.udf[1] = Some("b".into());
        changes.metadata = vec![("j".into(), "w".into())];
        let changed = order.changed(Some(amount("12")), &changes, now).unwrap();
        assert_eq!(changed.amount, amount("12"));
        assert_eq!(changed.details.udf[..2], [Some("a".into()), Some("b".into())]);
        assert_eq!(changed.details.metadata, vec![("j".into(), "w".into()), ("k".into(), "v".into())]);
        assert!(charged("10").changed(None, &changes, now).is_err());
    }

    proptest! {
        /// Whatever refunds are asked for, in whatever order and with repeats, what counts
        /// never exceeds the charged amount, and a request id refunds at most once.
        #[test]
        fn refunds_never_exceed_the_charge(
            total in 1u32..100_000,
            asks in proptest::collection::vec((0u8..6, 1u32..60_000, any::<bool>()), 0..20),
        ) {
            let cents = |c: u32| Decimal::from(c) / Decimal::from(100);
            let mut order = charged(&cents(total).to_string());
            let now = Millis::from_epoch_ms(2);
            for (i, (req, ask, fail)) in asks.into_iter().enumerate() {
                let id = RefundId::from_random([i as u8; 16]);
                let ask = PaymentAmount::new(cents(ask)).unwrap();
                if let Ok(RefundStep::New(next)) = order.refund(request(&format!("r{req}")), ask, id.clone(), now) {
                    let status = if fail { RefundStatus::Failure } else { RefundStatus::Success };
                    order = next.refund_settled(&id, status, now);
                }
                prop_assert!(order.amount_refunded() <= order.amount.value());
                let mut ids: Vec<_> = order.refunds.iter().map(|r| r.request.clone()).collect();
                ids.sort();
                ids.dedup();
                prop_assert_eq!(ids.len(), order.refunds.len());
            }
            prop_assert!(Decimal::from_str("0").unwrap() <= order.amount_refunded());
        }
    }
}
