//! The balance API's service (after the RBS Wallet Service): create a balance, read it, apply
//! an INC or DEC, page through its history.

use crate::domain::balance::{Balance, NewBalance};
use crate::domain::entry::Entry;
use crate::domain::ledger::{Ids, Leg};
use crate::domain::money::MinLimit;
use crate::domain::names::{BalanceId, BalanceName, BalanceType, ProjectId, Subject};
use crate::domain::operation::{Operation, OperationRequest};
use crate::domain::page_token::TokenKey;
use crate::domain::queue::{QueuedKey, Settled};
use crate::engine::{
    Answer, AnswerForm, Done, Engine, EngineError, Fault, Grouped, Idempotency, Job, Outcome, RandomIds, Step,
};
use crate::store::{HeadRecord, Order, Write};
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;
use uuid::Uuid;

/// Balances over the engine, and the key that seals history page tokens.
#[derive(Clone)]
pub struct Balances {
    engine: Engine,
    page_tokens: TokenKey,
}

/// How a batch settled an operation's ticket, as the operation's own answer.
fn outcome_of(settled: Settled) -> Result<Outcome<OperationOutcome>, ExecuteOperationError> {
    match settled {
        Settled::Applied { balance, entry } => Ok(Outcome::Done(OperationOutcome { balance: *balance, entry: *entry })),
        Settled::Rejected(rejection) => Err(EngineError::Rejected(rejection)),
        Settled::Replayed { status, body } => Ok(Outcome::Replayed(Answer { status, body })),
        Settled::KeyReused => Err(EngineError::KeyReused),
        // Withdrawn, or too late for any batch: nothing applied, as for a busy balance.
        Settled::Expired => Err(EngineError::Busy),
    }
}

/// `POST /balances` after parsing.
#[derive(Debug, Clone)]
pub struct CreateBalanceRequest {
    pub balance_type: BalanceType,
    pub name: Option<BalanceName>,
    pub min_limit: MinLimit,
}

/// An INC or DEC of one balance.
#[derive(Debug, Clone)]
pub struct OperationInput {
    pub balance: BalanceId,
    pub operation: Operation,
    pub subject: Option<Subject>,
    /// When given, the operation only applies if the balance still has this token.
    pub update_token: Option<String>,
    /// The entry's `session`; by default the idempotency key, or a fresh UUID.
    pub session: Option<String>,
}

impl OperationInput {
    /// The operation alone: no subject, no update token, the default session.
    pub fn new(balance: BalanceId, operation: Operation) -> Self {
        Self { balance, operation, subject: None, update_token: None, session: None }
    }
}

/// An applied operation: the balance after it and the entry it wrote.
#[derive(Debug, Clone)]
pub struct OperationOutcome {
    pub balance: Balance,
    pub entry: Entry,
}

/// A history page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub size: usize,
    pub order: Order,
    pub token: Option<String>,
}

/// A page of history, newest or oldest first, and the token of the next page.
#[derive(Debug, Clone)]
pub struct EntriesPage {
    pub entries: Vec<Entry>,
    pub next_page: Option<String>,
}

/// Creating a balance fails only on a reused key (or a fault).
pub type CreateBalanceError = EngineError;
/// Reading a balance writes off expired credits first: it can find the balance busy.
pub type GetBalanceError = EngineError;
/// An operation's failures are the engine's (a condition of its other writes failing only
/// with [`Balances::operate`]).
pub type ExecuteOperationError = EngineError;

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

impl From<EngineError> for ListTransactionsError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::NotFound => ListTransactionsError::NotFound,
            EngineError::Busy => ListTransactionsError::Busy,
            EngineError::Fault(fault) => ListTransactionsError::Failed(fault),
            _ => ListTransactionsError::Failed(Fault::Inconsistent("maintenance refused")),
        }
    }
}

/// An operation on one balance, and the writes that commit with it.
struct Operate<'a> {
    with: &'a [Write],
}

impl Job for Operate<'_> {
    type Output = OperationOutcome;
    type Refusal = Infallible;

    fn prepare(&self, _heads: &[HeadRecord]) -> Result<Vec<Write>, Infallible> {
        Ok(self.with.to_vec())
    }

    fn output(&self, done: &[Done]) -> Result<OperationOutcome, Fault> {
        match done {
            [Done { balance, entry: Some(entry) }] => {
                Ok(OperationOutcome { balance: balance.clone(), entry: entry.clone() })
            }
            _ => Err(Fault::Inconsistent("an operation without its entry")),
        }
    }
}

impl Balances {
    pub fn new(engine: Engine, page_tokens: TokenKey) -> Self {
        Self { engine, page_tokens }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// One round trip: the head (and the idempotency record, in the same transaction).
    pub async fn create_balance(
        &self,
        project: &ProjectId,
        request: &CreateBalanceRequest,
        idempotency: Option<&Idempotency<'_, Balance>>,
    ) -> Result<Outcome<Balance>, CreateBalanceError> {
        let new = NewBalance {
            project_id: project.clone(),
            id: BalanceId::new(Uuid::new_v4()),
            name: request.name.clone().unwrap_or_else(|| BalanceName::from_type(&request.balance_type)),
            balance_type: request.balance_type.clone(),
            min_limit: request.min_limit,
        };
        let balance = Balance::open(new, self.engine.clock().now(), RandomIds.update_token());
        let writes = [Write::NewBalance(balance.clone())];
        self.engine.create(project, &writes, balance, idempotency).await
    }

    /// One round trip, unless a credit has expired since the last write: then the expiry is
    /// written first, so that the answer never counts an expired credit. Also whether a
    /// write holds the balance's lock.
    pub async fn get_balance(&self, project: &ProjectId, id: BalanceId) -> Result<(Balance, bool), GetBalanceError> {
        let head = self.engine.store().read_head(project, id).await?.ok_or(EngineError::NotFound)?;
        let now = self.engine.clock().now();
        let in_progress = head.in_progress(now) && !head.balance.expiry_due(now);
        Ok((self.engine.current(head.balance).await?, in_progress))
    }

    /// Two round trips uncontended: take the lock while reading the head, commit. With a
    /// `form`, an operation that finds the balance locked joins its group commit (README,
    /// "Group commit") instead of retrying the lock: it waits as a ticket, and whoever holds
    /// the lock next commits it with the others waiting; past the wait, BALANCE_BUSY with
    /// nothing applied, as without.
    pub async fn execute_operation(
        &self,
        project: &ProjectId,
        input: &OperationInput,
        idempotency: Option<&Idempotency<'_, OperationOutcome>>,
        form: Option<&AnswerForm>,
    ) -> Result<Outcome<OperationOutcome>, ExecuteOperationError> {
        let Some(form) = form.filter(|_| self.engine.group_commit()) else {
            return self.operate(project, input, &[], idempotency).await;
        };
        let request = self.request(input, idempotency);
        let mut step = Step::new(project, vec![Leg::operation(input.balance, request.clone())]);
        step.wait = Some(Duration::ZERO);
        match self.engine.apply(&step, &Operate { with: &[] }, idempotency).await {
            Err(EngineError::Busy) => {}
            done => return done,
        }
        let key = idempotency.map(|idempotency| QueuedKey {
            key: idempotency.key().clone(),
            fingerprint: idempotency.fingerprint().as_str().to_owned(),
        });
        let grouped = Grouped { project, balance: input.balance, request, key, form };
        outcome_of(self.engine.wait_in_batch(&grouped).await?)
    }

    /// Operations that arrived together (one SQS batch's records), each answered as if it had
    /// come alone, in the given order. Those on the same balance keep their order and are
    /// committed together by group commit (README, "Group commit"): their tickets are written
    /// in one transaction and the first batch commits them with whatever else waits, a few
    /// calls for all of them where one at a time would cost two calls each. Balances are
    /// worked on side by side. Without group commit, one after another.
    pub async fn execute_operations(
        &self,
        operations: &[(ProjectId, OperationInput, Option<Idempotency<'_, OperationOutcome>>)],
        form: &AnswerForm,
    ) -> Vec<Result<Outcome<OperationOutcome>, ExecuteOperationError>> {
        // Each balance's operations, in order; balances in the order they first appear.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut group_of: HashMap<(&ProjectId, BalanceId), usize> = HashMap::new();
        for (index, (project, input, _)) in operations.iter().enumerate() {
            let group = *group_of.entry((project, input.balance)).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[group].push(index);
        }
        let work = groups.into_iter().map(|group| async move {
            let outcomes = match group.as_slice() {
                [one] => {
                    let (project, input, idempotency) = &operations[*one];
                    vec![self.execute_operation(project, input, idempotency.as_ref(), Some(form)).await]
                }
                _ if !self.engine.group_commit() => {
                    let mut outcomes = Vec::with_capacity(group.len());
                    for &index in &group {
                        let (project, input, idempotency) = &operations[index];
                        outcomes.push(self.execute_operation(project, input, idempotency.as_ref(), None).await);
                    }
                    outcomes
                }
                _ => self.execute_together(operations, &group, form).await,
            };
            group.into_iter().zip(outcomes)
        });
        let mut answered: Vec<(usize, _)> = futures_util::future::join_all(work).await.into_iter().flatten().collect();
        answered.sort_by_key(|(index, _)| *index);
        answered.into_iter().map(|(_, outcome)| outcome).collect()
    }

    /// One balance's operations of [`Self::execute_operations`], as consecutive tickets.
    async fn execute_together(
        &self,
        operations: &[(ProjectId, OperationInput, Option<Idempotency<'_, OperationOutcome>>)],
        group: &[usize],
        form: &AnswerForm,
    ) -> Vec<Result<Outcome<OperationOutcome>, ExecuteOperationError>> {
        let grouped: Vec<Grouped<'_>> = group
            .iter()
            .map(|&index| {
                let (project, input, idempotency) = &operations[index];
                let key = idempotency.as_ref().map(|idempotency| QueuedKey {
                    key: idempotency.key().clone(),
                    fingerprint: idempotency.fingerprint().as_str().to_owned(),
                });
                let request = self.request(input, idempotency.as_ref());
                Grouped { project, balance: input.balance, request, key, form }
            })
            .collect();
        match self.engine.wait_as_tickets(&grouped).await {
            Ok(settled) => settled.into_iter().map(outcome_of).collect(),
            // Each is told (a fault: which of them landed is unknown, and a retry with its key
            // replays those that did).
            Err(error) => group.iter().map(|_| Err(error.clone())).collect(),
        }
    }

    /// The ledger's request for an input: its session is the given one, else the key, else new.
    fn request(
        &self,
        input: &OperationInput,
        idempotency: Option<&Idempotency<'_, OperationOutcome>>,
    ) -> OperationRequest {
        let session = match (&input.session, idempotency) {
            (Some(session), _) => session.clone(),
            (None, Some(idempotency)) => idempotency.key().to_string(),
            (None, None) => Uuid::new_v4().to_string(),
        };
        OperationRequest {
            operation: input.operation,
            subject: input.subject.clone(),
            update_token: input.update_token.clone(),
            session,
        }
    }

    /// An INC or DEC that commits together with `with` (conditional writes elsewhere in the
    /// table: a direct debit's claim, an order's status), or not at all.
    pub async fn operate(
        &self,
        project: &ProjectId,
        input: &OperationInput,
        with: &[Write],
        idempotency: Option<&Idempotency<'_, OperationOutcome>>,
    ) -> Result<Outcome<OperationOutcome>, ExecuteOperationError> {
        let step = Step::new(project, vec![Leg::operation(input.balance, self.request(input, idempotency))]);
        self.engine.apply(&step, &Operate { with }, idempotency).await
    }

    /// One Query per page. The first page in the default (newest first) order also reads the
    /// head, which proves the balance exists and is the caller's.
    pub async fn list_transactions(
        &self,
        project: &ProjectId,
        id: BalanceId,
        request: &PageRequest,
    ) -> Result<EntriesPage, ListTransactionsError> {
        let balance_text = id.to_string();
        let order_text = match request.order {
            Order::Asc => "asc",
            Order::Desc => "desc",
        };
        let scope = [project.as_str(), "history", balance_text.as_str(), order_text];
        let after = match &request.token {
            None => None,
            Some(token) => {
                let payload = self.page_tokens.open(&scope, token).map_err(|_| ListTransactionsError::BadPageToken)?;
                let seq = std::str::from_utf8(&payload).ok().and_then(|text| text.parse::<u64>().ok());
                Some(seq.ok_or(ListTransactionsError::BadPageToken)?)
            }
        };
        let store = self.engine.store();
        let mut maintained = false;
        loop {
            let page =
                store.history_page(project, id, request.order, after, request.size).await.map_err(Fault::from)?;
            if after.is_none() {
                let exists = page.head.is_some() || !page.entries.is_empty();
                if !exists || (request.order == Order::Desc && page.head.is_none()) {
                    return Err(ListTransactionsError::NotFound);
                }
            }
            // The page that reaches the newest entries also shows whether an expiry is due;
            // write it first so the page includes it.
            if let Some(head) =
                page.head.filter(|head| !maintained && head.balance.expiry_due(self.engine.clock().now()))
            {
                maintained = true;
                self.engine.current(head.balance).await?;
                continue;
            }
            let next_page = match (page.more, page.entries.last()) {
                (true, Some(last)) => Some(self.page_tokens.seal(&scope, last.seq.to_string().as_bytes())),
                _ => None,
            };
            return Ok(EntriesPage { entries: page.entries, next_page });
        }
    }
}
