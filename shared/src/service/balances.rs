//! The four balance actions: create, get, execute an operation, list transactions.

use super::writer::{WriteError, Written};
use super::{Fault, Idempotency, Ledger, Outcome, RandomIds, Stored, IDEMPOTENCY_TTL_SECONDS};
use crate::api::{self, BalanceResponse, TransactionListItem, TransactionsPage};
use crate::domain::balance::{Balance, NewBalance};
use crate::domain::entry::Entry;
use crate::domain::ledger::Ids;
use crate::domain::money::{self, MinLimit};
use crate::domain::names::{BalanceId, BalanceName, BalanceType, IdempotencyKey, ProjectId};
use crate::domain::operation::{Operation, OperationRequest, Rejection};
use crate::store::{IdempotencyWrite, InsertError, Order};
use sha2::{Digest, Sha256};
use uuid::Uuid;

fn fingerprint(parts: &[&str]) -> String {
    hex::encode(Sha256::digest(parts.join("\n").as_bytes()))
}

#[derive(Debug, Clone)]
pub struct CreateBalanceRequest {
    pub balance_type: BalanceType,
    pub name: Option<BalanceName>,
    pub min_limit: MinLimit,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateBalanceError {
    #[error("idempotency key reused with a different request")]
    KeyReused,
    #[error(transparent)]
    Failed(#[from] Fault),
}

#[derive(Debug, thiserror::Error)]
pub enum GetBalanceError {
    #[error("balance not found")]
    NotFound,
    #[error("balance busy")]
    Busy,
    #[error(transparent)]
    Failed(#[from] Fault),
}

#[derive(Debug, thiserror::Error)]
pub enum ExecuteOperationError {
    #[error("balance not found")]
    NotFound,
    #[error("balance busy")]
    Busy,
    #[error(transparent)]
    Rejected(Rejection),
    #[error("idempotency key reused with a different request")]
    KeyReused,
    /// A condition of the extra writes that were to commit with it failed (their
    /// cancellation reasons); only [`Ledger::operation_with_extras`] has any.
    #[error("a condition of the extra writes failed")]
    ExtraRefused(Vec<aws_sdk_dynamodb::types::CancellationReason>),
    #[error(transparent)]
    Failed(#[from] Fault),
}

impl From<WriteError> for ExecuteOperationError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::NotFound => ExecuteOperationError::NotFound,
            WriteError::Busy => ExecuteOperationError::Busy,
            WriteError::Rejected(rejection) => ExecuteOperationError::Rejected(rejection),
            WriteError::KeyReused => ExecuteOperationError::KeyReused,
            WriteError::ExtraRefused(reasons) => ExecuteOperationError::ExtraRefused(reasons),
            WriteError::Fault(fault) => ExecuteOperationError::Failed(fault),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ListTransactionsError {
    #[error("balance not found")]
    NotFound,
    #[error("bad pagination token")]
    BadPageToken,
    #[error("balance busy")]
    Busy,
    #[error(transparent)]
    Failed(#[from] Fault),
}

/// An applied operation: the balance after it and the entry it wrote.
#[derive(Debug, Clone)]
pub struct OperationOutcome {
    pub balance: Balance,
    pub entry: Entry,
}

#[derive(Debug, Clone)]
pub struct PageRequest {
    pub size: usize,
    pub order: Order,
    pub token: Option<String>,
}

impl Order {
    fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

/// Why writing the maintenance that was due (expiries) did not happen.
pub(super) enum Due {
    NotFound,
    Busy,
    Fault(Fault),
}

impl Ledger {
    /// Writes whatever is due (expiries, settling) and returns the balance as it is then. A
    /// maintenance-only write has no operation to refuse and no key to replay.
    pub(super) async fn write_due(&self, project: &ProjectId, id: BalanceId) -> Result<Balance, Due> {
        match self.write(project, id, None, None, &[]).await {
            Ok(Written::Maintained(balance)) => Ok(*balance),
            Ok(Written::Operation(_) | Written::Replayed(_)) => Err(Due::Fault(Fault::Inconsistent("not maintenance"))),
            Err(WriteError::NotFound) => Err(Due::NotFound),
            Err(WriteError::Busy) => Err(Due::Busy),
            Err(WriteError::Fault(fault)) => Err(Due::Fault(fault)),
            Err(WriteError::Rejected(_) | WriteError::KeyReused | WriteError::ExtraRefused(_)) => {
                Err(Due::Fault(Fault::Inconsistent("maintenance refused")))
            }
        }
    }

    /// One round trip: the head (and the idempotency record, in the same transaction).
    pub async fn create_balance(
        &self,
        project: &ProjectId,
        request: &CreateBalanceRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<Outcome<Balance>, CreateBalanceError> {
        let now = self.clock.now();
        let balance = Balance::open(
            NewBalance {
                project_id: project.clone(),
                id: BalanceId::new(Uuid::new_v4()),
                name: request.name.clone().unwrap_or_else(|| BalanceName::from_type(&request.balance_type)),
                balance_type: request.balance_type.clone(),
                min_limit: request.min_limit,
            },
            now,
            RandomIds.update_token(),
        );
        let idempotency = key.map(|key| Idempotency {
            key,
            fingerprint: fingerprint(&[
                "create-balance",
                request.balance_type.as_str(),
                request.name.as_ref().map_or("", BalanceName::as_str),
                &money::format(request.min_limit.value()),
            ]),
        });
        let record = idempotency.as_ref().map(|idempotency| IdempotencyWrite {
            key: idempotency.key.clone(),
            fingerprint: idempotency.fingerprint.clone(),
            status: 201,
            body: api::to_json(&BalanceResponse::new(&balance, false)),
            now,
            expires_at: now.plus_seconds(IDEMPOTENCY_TTL_SECONDS),
        });
        match self.store.insert_balance(&balance, record.as_ref()).await {
            Ok(()) => Ok(Outcome::Done(balance)),
            Err(InsertError::Store(error)) => Err(Fault::Store(error).into()),
            Err(InsertError::IdempotencyTaken(stored)) => {
                match self.stored(project, idempotency.as_ref(), stored, now).await? {
                    Stored::Replay(record) => Ok(Outcome::Replayed(record)),
                    Stored::Reused => Err(CreateBalanceError::KeyReused),
                    Stored::Nothing => Err(Fault::Inconsistent("idempotency record vanished").into()),
                }
            }
        }
    }

    /// One round trip, unless a credit has expired since the last write: then the expiry is
    /// written first, so that the answer never counts an expired credit.
    pub async fn get_balance(&self, project: &ProjectId, id: BalanceId) -> Result<(Balance, bool), GetBalanceError> {
        let head = self.store.read_head(project, id).await.map_err(Fault::from)?.ok_or(GetBalanceError::NotFound)?;
        let now = self.clock.now();
        if !head.balance.expiry_due(now) {
            let in_progress = head.in_progress(now);
            return Ok((head.balance, in_progress));
        }
        match self.write_due(project, id).await {
            Ok(balance) => Ok((balance, false)),
            Err(Due::NotFound) => Err(GetBalanceError::NotFound),
            Err(Due::Busy) => Err(GetBalanceError::Busy),
            Err(Due::Fault(fault)) => Err(fault.into()),
        }
    }

    /// Two round trips uncontended: take the lock while reading the head, commit.
    pub async fn execute_operation(
        &self,
        project: &ProjectId,
        id: BalanceId,
        operation: Operation,
        subject: Option<crate::domain::names::Subject>,
        update_token: Option<String>,
        key: Option<IdempotencyKey>,
    ) -> Result<Outcome<OperationOutcome>, ExecuteOperationError> {
        let idempotency = key.as_ref().map(|key| {
            let (kind, amount, ttl) = match operation {
                Operation::Inc { amount, ttl } => ("INC", amount, ttl.map(|t| t.seconds().to_string())),
                Operation::Dec { amount } => ("DEC", amount, None),
            };
            Idempotency {
                key: key.clone(),
                fingerprint: fingerprint(&[
                    "execute-operation",
                    &id.to_string(),
                    kind,
                    &amount.to_string(),
                    ttl.as_deref().unwrap_or(""),
                    subject.as_ref().map_or("", |s| s.as_str()),
                    update_token.as_deref().unwrap_or(""),
                ]),
            }
        });
        let request = OperationRequest {
            operation,
            subject,
            update_token,
            session: key.map_or_else(|| Uuid::new_v4().to_string(), |key| key.to_string()),
        };
        match self.write(project, id, Some(&request), idempotency.as_ref(), &[]).await {
            Ok(Written::Operation(change)) => match change.entry {
                Some(entry) => Ok(Outcome::Done(OperationOutcome { balance: change.after, entry })),
                None => Err(Fault::Inconsistent("operation without an entry").into()),
            },
            Ok(Written::Replayed(record)) => Ok(Outcome::Replayed(record)),
            Ok(Written::Maintained(_)) => Err(Fault::Inconsistent("operation not applied").into()),
            Err(error) => Err(error.into()),
        }
    }

    /// One Query per page. The first page in the default (newest first) order also reads the
    /// head, which proves the balance exists and is the caller's.
    pub async fn list_transactions(
        &self,
        project: &ProjectId,
        id: BalanceId,
        request: &PageRequest,
    ) -> Result<TransactionsPage, ListTransactionsError> {
        let balance_text = id.to_string();
        let scope = [project.as_str(), balance_text.as_str(), request.order.as_str()];
        let after = match &request.token {
            None => None,
            Some(token) => {
                let payload = self.page_tokens.open(&scope, token).map_err(|_| ListTransactionsError::BadPageToken)?;
                let seq = std::str::from_utf8(&payload).ok().and_then(|text| text.parse::<u64>().ok());
                Some(seq.ok_or(ListTransactionsError::BadPageToken)?)
            }
        };
        let mut maintained = false;
        loop {
            let page =
                self.store.history_page(project, id, request.order, after, request.size).await.map_err(Fault::from)?;
            if after.is_none() {
                let exists = page.head.is_some() || !page.entries.is_empty();
                if !exists || (request.order == Order::Desc && page.head.is_none()) {
                    return Err(ListTransactionsError::NotFound);
                }
            }
            // The page that reaches the newest entries also shows whether an expiry is due;
            // write it first so the page includes it.
            let now = self.clock.now();
            if !maintained && page.head.as_ref().is_some_and(|head| head.balance.expiry_due(now)) {
                maintained = true;
                match self.write_due(project, id).await {
                    Ok(_) => continue,
                    Err(Due::Busy) => return Err(ListTransactionsError::Busy),
                    Err(Due::NotFound) => return Err(ListTransactionsError::NotFound),
                    Err(Due::Fault(fault)) => return Err(fault.into()),
                }
            }
            let pagination_token = match (page.more, page.entries.last()) {
                (true, Some(last)) => Some(self.page_tokens.seal(&scope, last.seq.to_string().as_bytes())),
                _ => None,
            };
            return Ok(TransactionsPage {
                transactions: page.entries.iter().map(TransactionListItem::new).collect(),
                pagination_token,
            });
        }
    }
}

impl Ledger {
    /// An INC or DEC that commits together with `extras` (conditional writes elsewhere in the
    /// table), or not at all. The balance amount after it.
    ///
    /// `key` makes it idempotent only when there are no extras: extras carry their own
    /// once-only conditions (an order that must not exist yet, a status it must still have),
    /// so an idempotency record would only cost an item, and a read on every refusal.
    pub async fn operation_with_extras(
        &self,
        project: &ProjectId,
        id: BalanceId,
        operation: Operation,
        key: IdempotencyKey,
        extras: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> Result<rust_decimal::Decimal, ExecuteOperationError> {
        let (kind, amount) = match operation {
            Operation::Inc { amount, .. } => ("INC", amount),
            Operation::Dec { amount } => ("DEC", amount),
        };
        let idempotency = extras.is_empty().then(|| Idempotency {
            key: key.clone(),
            fingerprint: fingerprint(&["operation-with-extras", &id.to_string(), kind, &amount.to_string()]),
        });
        let request = OperationRequest { operation, subject: None, update_token: None, session: key.to_string() };
        match self.write(project, id, Some(&request), idempotency.as_ref(), &extras).await {
            Ok(Written::Operation(change)) => Ok(change.after.amount),
            // Applied before (with its extras): the balance as it is now.
            Ok(Written::Replayed(_)) => match self.get_balance(project, id).await {
                Ok((balance, _)) => Ok(balance.amount),
                Err(GetBalanceError::NotFound) => Err(ExecuteOperationError::NotFound),
                Err(GetBalanceError::Busy) => Err(ExecuteOperationError::Busy),
                Err(GetBalanceError::Failed(fault)) => Err(fault.into()),
            },
            Ok(Written::Maintained(_)) => Err(Fault::Inconsistent("operation not applied").into()),
            Err(error) => Err(error.into()),
        }
    }
}
