//! The group-commit writer: the events of many concurrent requests go into
//! one transaction, and each request still waits for its own durable commit.

use std::sync::Arc;

use llmlab_store::{EventBatch, InsertOutcome, SpentTotal, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::error::{ApiError, ApiResult};
use crate::service::budgets::ledger::Ledger;

/// Most events the writer puts in one transaction.
const MAX_EVENTS_PER_COMMIT: usize = 5_000;

/// A group-commit job: one request's events and where to send the outcome.
struct WriteJob {
    batch: EventBatch,
    reply: oneshot::Sender<Result<Vec<InsertOutcome>, Arc<StoreError>>>,
}

/// Hands events to the writer, which commits the events of many concurrent
/// requests in one transaction: one commit per group instead of one per
/// event, while each request still waits for its own durable commit.
///
/// SQLite has one writer at a time, so one task commits group after group.
/// PostgreSQL takes [`POSTGRES_COMMITTERS`] groups at once: while one
/// transaction waits on the database, the next group is already being
/// inserted, and both cores work.
///
/// On SQLite the writer also keeps the in-memory hard-budget holds
/// ([`Ledger`]) up to date: each commit's spent totals, and the holds of the
/// calls it stored released, right after the commit.
#[derive(Clone)]
pub struct EventWriter {
    jobs: mpsc::Sender<WriteJob>,
    ledger: Option<Arc<Ledger>>,
}

/// Concurrent group commits on PostgreSQL.
const POSTGRES_COMMITTERS: usize = 2;

impl EventWriter {
    /// Starts the writer tasks; the returned task ends when every
    /// `EventWriter` is dropped and the queued jobs are written.
    #[must_use]
    pub fn start(store: &Arc<Store>) -> (EventWriter, tokio::task::JoinHandle<()>) {
        let (jobs, receiver) = mpsc::channel(4096);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let (committers, ledger) = match store.backend() {
            llmlab_store::Backend::Sqlite => (1, Some(Arc::new(Ledger::default()))),
            llmlab_store::Backend::Postgres => (POSTGRES_COMMITTERS, None),
        };
        let tasks: Vec<_> = (0..committers)
            .map(|_| tokio::spawn(run_committer(store.clone(), ledger.clone(), receiver.clone())))
            .collect();
        let task = tokio::spawn(async move {
            for task in tasks {
                let _ = task.await;
            }
        });
        (EventWriter { jobs, ledger }, task)
    }

    /// The in-memory hard-budget holds, on SQLite; `None` on PostgreSQL,
    /// where holds are rows.
    #[must_use]
    pub fn ledger(&self) -> Option<&Arc<Ledger>> {
        self.ledger.as_ref()
    }

    /// Stores one account's events; returns once they are committed.
    pub async fn write(&self, batch: EventBatch) -> ApiResult<Vec<InsertOutcome>> {
        let (reply, outcome) = oneshot::channel();
        self.jobs
            .send(WriteJob { batch, reply })
            .await
            .map_err(|_| ApiError::internal(std::io::Error::other("the event writer has stopped")))?;
        let result =
            outcome.await.map_err(|_| ApiError::internal(std::io::Error::other("the event writer stopped")))?;
        result.map_err(ApiError::from_store)
    }
}

/// Takes the next group off the queue: the first job waiting, and whatever
/// else is queued, up to [`MAX_EVENTS_PER_COMMIT`] events. `None` once the
/// queue is closed and empty.
async fn next_group(receiver: &tokio::sync::Mutex<mpsc::Receiver<WriteJob>>) -> Option<(Vec<WriteJob>, usize)> {
    let mut receiver = receiver.lock().await;
    let first = receiver.recv().await?;
    let mut size = first.batch.events.len();
    let mut jobs = vec![first];
    while size < MAX_EVENTS_PER_COMMIT {
        match receiver.try_recv() {
            Ok(job) => {
                size += job.batch.events.len();
                jobs.push(job);
            }
            Err(_) => break,
        }
    }
    Some((jobs, size))
}

async fn run_committer(
    store: Arc<Store>,
    ledger: Option<Arc<Ledger>>,
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<WriteJob>>>,
) {
    while let Some((jobs, size)) = next_group(&receiver).await {
        let started = std::time::Instant::now();
        let requests = jobs.len();
        commit_isolating_failures(&store, ledger.as_deref(), jobs).await;
        tracing::debug!(requests, events = size, elapsed = ?started.elapsed(), "group committed");
    }
}

/// Commits a group and answers each request. When the group fails because
/// of the rows of some request (a total out of range, a constraint), the
/// failure must be that request's alone: the group is split in halves and
/// each half committed on its own, down to the single request whose rows
/// fail, which alone gets the error. A failure that is not the rows' (the
/// database is down) fails the whole group at once.
async fn commit_isolating_failures(store: &Store, ledger: Option<&Ledger>, jobs: Vec<WriteJob>) {
    let mut pending = vec![jobs];
    while let Some(mut group) = pending.pop() {
        let batches: Vec<EventBatch> = group.iter_mut().map(|job| std::mem::take(&mut job.batch)).collect();
        let result = insert_retrying_collisions(store, &batches).await;
        match result {
            Ok((outcomes, totals)) => {
                if let Some(ledger) = ledger {
                    ledger.committed(&totals, &holds_of(&batches));
                }
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(error) if group.len() > 1 && error.is_caused_by_rows() => {
                tracing::warn!(%error, requests = group.len(), "a group commit failed on some request's rows; retrying it in halves");
                for (job, batch) in group.iter_mut().zip(batches) {
                    job.batch = batch;
                }
                let second = group.split_off(group.len() / 2);
                pending.push(second);
                pending.push(group);
            }
            Err(error) => {
                if error.is_caused_by_rows() {
                    tracing::warn!(%error, user_id = batches[0].user_id, "refused a request whose events cannot be stored");
                } else {
                    tracing::error!(%error, requests = group.len(), "storing events failed");
                }
                let error = Arc::new(error);
                for job in group {
                    let _ = job.reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Inserts a group, once more if it collided with a concurrent one: two
/// transactions can deadlock on the same event id retried into both at once;
/// the database aborts one, and running it again is safe.
async fn insert_retrying_collisions(
    store: &Store,
    batches: &[EventBatch],
) -> Result<(Vec<Vec<InsertOutcome>>, Vec<SpentTotal>), StoreError> {
    let result = store.insert_events_counted(batches, crate::clock::now_ms()).await;
    if result.as_ref().is_err_and(StoreError::is_transient) {
        tracing::debug!("group commit collided with another; retrying");
        return store.insert_events_counted(batches, crate::clock::now_ms()).await;
    }
    result
}

/// The budget holds the calls of these events placed: (account, reservation id).
fn holds_of(batches: &[EventBatch]) -> Vec<(i64, &str)> {
    batches
        .iter()
        .flat_map(|b| b.events.iter().filter_map(|e| Some((b.user_id, e.reservation_id.as_deref()?))))
        .collect()
}
