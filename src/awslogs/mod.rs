//! The awslogs log driver's shipping: for each container logging with
//! awslogs, the logger the shim runs keeps writing Docker's json-file (the
//! spool, `logger::json_log_path`) and a task here tails it into CloudWatch
//! Logs. So a container never waits on the agent or on CloudWatch, and its
//! lines survive a kill -9 of the agent: the shipped position of each spool
//! is checkpointed after every PutLogEvents that succeeds, and a restarted
//! agent goes on from there (at least once; exactly once unless the agent
//! dies between a put and its checkpoint).
//!
//! Failures never stop the task: a put that fails is retried with backoff
//! (throttling, 5xx, the network, a group that is missing or cannot be
//! created), each failure in the agent's log and the `awslogs` error
//! counter, while the spool holds the lines. In blocking mode nothing is
//! dropped: the logger hands a spool file over at about 1 MB and the
//! shipper removes it once all of it is shipped (`spool::reclaim`); in
//! non-blocking mode the files are half of max-buffer-size, and while both
//! are full the logger drops new lines and counts them beside the spool,
//! which the agent adds to its dropped-lines metric once (`drops`).
//! A request CloudWatch refuses outright (InvalidParameterException) is
//! logged, counted and skipped, so one bad batch cannot stall a stream.
//!
//! With awslogs-multiline-pattern or awslogs-datetime-format, lines are
//! grouped into events between the spool and the batch (`multiline`).

mod batch;
mod cloudwatch;
mod drops;
mod multiline;
mod shipper;
mod spool;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{
    error::CredentialsError, future, ProvideCredentials, SharedCredentialsProvider,
};
use aws_credential_types::Credentials;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::credentials::{CredentialsStore, RoleType};
use crate::observe::AgentMetrics;
use crate::task::def::{task_id, TaskDef};
use crate::task::log_driver::{Awslogs, LogDriver, StreamName};
use crate::task::spec::container_id;

pub use batch::{Batch, Event};
use cloudwatch::{CloudWatchError, Destination};
pub use drops::DROPS_SUFFIX;
use multiline::Multiline;
pub use shipper::LogShipper;
pub use spool::Position;
use spool::Spool;

/// How often a spool with nothing new is looked at again.
const POLL: Duration = Duration::from_millis(200);
/// A batch goes out at most this long after its first event was read
/// (moby's default awslogs-force-flush-interval-seconds).
const FLUSH_AFTER: Duration = Duration::from_secs(5);
/// How long cleanup waits for a task's last lines to ship.
const FINISH_WAIT: Duration = Duration::from_secs(120);
/// How often the logger's count of dropped lines is looked at (non-blocking).
const DROPS_EVERY: Duration = Duration::from_secs(1);

/// Where shipped positions are kept across restarts (the agent's state
/// file; in memory when checkpointing is off).
pub trait OffsetStore: Send + Sync {
    fn load(&self, key: &str) -> Option<Position>;
    fn save(&self, key: &str, at: Position);
    /// How many of the logger's dropped lines were counted (0 if none).
    fn load_dropped(&self, key: &str) -> u64;
    fn save_dropped(&self, key: &str, counted: u64);
    /// Forgets both.
    fn delete(&self, key: &str);
}

/// Offsets kept for this process only.
#[derive(Default)]
pub struct MemoryOffsets(Mutex<HashMap<String, (Option<Position>, u64)>>);

impl MemoryOffsets {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (Option<Position>, u64)>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl OffsetStore for MemoryOffsets {
    fn load(&self, key: &str) -> Option<Position> {
        self.with(|m| m.get(key).and_then(|e| e.0))
    }
    fn save(&self, key: &str, at: Position) {
        self.with(|m| m.entry(key.to_string()).or_default().0 = Some(at));
    }
    fn load_dropped(&self, key: &str) -> u64 {
        self.with(|m| m.get(key).map_or(0, |e| e.1))
    }
    fn save_dropped(&self, key: &str, counted: u64) {
        self.with(|m| m.entry(key.to_string()).or_default().1 = counted);
    }
    fn delete(&self, key: &str) {
        self.with(|m| m.remove(key));
    }
}

struct Shipper {
    stop: watch::Sender<bool>,
    done: JoinHandle<()>,
    key: String,
}

/// What every shipping task shares.
struct Ctx {
    /// The SDK's settings without credentials (region, retries, endpoint
    /// variables such as AWS_ENDPOINT_URL_CLOUDWATCH_LOGS).
    base: SdkConfig,
    /// The agent's own credentials (static keys or the default chain), as
    /// its ECS client has them; None: none configured.
    instance: Option<SharedCredentialsProvider>,
    region: String,
    /// ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE.
    execution_role_override: bool,
    credentials: CredentialsStore,
    offsets: Arc<dyn OffsetStore>,
    metrics: Arc<AgentMetrics>,
    data_dir: PathBuf,
}

/// The awslogs shipping of every task (see the module's header).
pub struct Shipping {
    ctx: Arc<Ctx>,
    tasks: Mutex<HashMap<String, Vec<Shipper>>>,
}

impl Shipping {
    pub async fn new(
        region: &str,
        instance: Option<SharedCredentialsProvider>,
        execution_role_override: bool,
        credentials: CredentialsStore,
        offsets: Arc<dyn OffsetStore>,
        metrics: Arc<AgentMetrics>,
        data_dir: PathBuf,
    ) -> Shipping {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .no_credentials()
            .load()
            .await;
        Shipping {
            ctx: Arc::new(Ctx {
                base,
                instance,
                region: region.to_string(),
                execution_role_override,
                credentials,
                offsets,
                metrics,
                data_dir,
            }),
            tasks: Mutex::new(HashMap::new()),
        }
    }
}

impl Shipping {
    /// Ships container `i` of `task` with `opts`.
    fn spawn(&self, task: &TaskDef, i: usize, opts: &Awslogs) -> Shipper {
        let id = task_id(&task.arn);
        let name = task
            .containers
            .get(i)
            .map(|c| c.name.as_str())
            .unwrap_or_default();
        let key = format!("{id}/{name}");
        let job = Job {
            ctx: self.ctx.clone(),
            task_arn: task.arn.clone(),
            key: key.clone(),
            path: crate::logger::json_log_path(&self.ctx.data_dir, id, name),
            stream: opts.stream_name(name, id, &container_id(id, i, name)),
            opts: opts.clone(),
        };
        let (stop, stopped) = watch::channel(false);
        let done = tokio::spawn(job.run(stopped));
        Shipper { stop, done, key }
    }
}

impl LogShipper for Shipping {
    fn start(&self, task: &TaskDef) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        if tasks.contains_key(&task.arn) {
            return;
        }
        let mut shippers = Vec::new();
        for (i, c) in task.containers.iter().enumerate() {
            let LogDriver::Awslogs(opts) = &c.log else {
                continue;
            };
            shippers.push(self.spawn(task, i, opts));
        }
        if !shippers.is_empty() {
            tasks.insert(task.arn.clone(), shippers);
        }
    }

    fn start_container(&self, task: &TaskDef, index: usize, opts: &Awslogs) {
        let Some(c) = task.containers.get(index) else {
            return;
        };
        let key = format!("{}/{}", task_id(&task.arn), c.name);
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        let shippers = tasks.entry(task.arn.clone()).or_default();
        if shippers.iter().any(|s| s.key == key) {
            return;
        }
        shippers.push(self.spawn(task, index, opts));
    }

    fn finish<'a>(&'a self, task_arn: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let shippers = self
                .tasks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(task_arn)
                .unwrap_or_default();
            for s in &shippers {
                let _ = s.stop.send(true);
            }
            for mut s in shippers {
                match tokio::time::timeout(FINISH_WAIT, &mut s.done).await {
                    Ok(_) => {}
                    Err(_) => {
                        s.done.abort();
                        self.ctx.metrics.inc_error("awslogs");
                        tracing::error!(task = %task_arn, container = %s.key, wait_s = FINISH_WAIT.as_secs(), "awslogs: the last lines did not ship before cleanup; they are lost with the task's logs");
                    }
                }
                let offsets = self.ctx.offsets.clone();
                let key = s.key.clone();
                crate::blocking::run(move || offsets.delete(&key));
            }
        })
    }
}

/// Non-blocking mode: the logger's dropped lines counted so far, and when
/// to look at its total again.
struct LoggerDrops {
    counted: u64,
    next: tokio::time::Instant,
}

/// One container's shipping.
struct Job {
    ctx: Arc<Ctx>,
    task_arn: String,
    key: String,
    path: PathBuf,
    stream: String,
    opts: Awslogs,
}

impl Job {
    fn destination(&self) -> Destination {
        let region = self.opts.region.clone().unwrap_or(self.ctx.region.clone());
        let mut conf = aws_sdk_cloudwatchlogs::config::Builder::from(&self.ctx.base);
        if uses_execution_role(&self.opts, self.ctx.execution_role_override) {
            conf.set_credentials_provider(Some(SharedCredentialsProvider::new(ExecutionRole {
                store: self.ctx.credentials.clone(),
                task_arn: self.task_arn.clone(),
            })));
        } else {
            conf.set_credentials_provider(self.ctx.instance.clone());
        }
        conf = conf.region(Region::new(region));
        if let Some(url) = &self.opts.endpoint {
            conf = conf.endpoint_url(url);
        }
        Destination {
            client: aws_sdk_cloudwatchlogs::Client::from_conf(conf.build()),
            group: self.opts.group.clone(),
            stream: self.stream.clone(),
            shown_group: self.opts.shown("awslogs-group", &self.opts.group),
            shown_stream: match &self.opts.stream {
                StreamName::Fixed(_) => self.opts.shown("awslogs-stream", &self.stream),
                StreamName::Prefix(_) => self.opts.shown("awslogs-stream-prefix", &self.stream),
                StreamName::ContainerId => self.stream.clone(),
            },
            create_group: self.opts.create_group,
        }
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        let dest = self.destination();
        let resume = {
            let offsets = self.ctx.offsets.clone();
            let key = self.key.clone();
            crate::blocking::run(move || offsets.load(&key))
        };
        tracing::info!(task = %self.task_arn, container = %self.key, group = %dest.shown_group, stream = %dest.shown_stream, resume = ?resume, "awslogs: shipping");
        let mut spool = Spool::new(&self.path, resume, !self.opts.blocking);
        let mut logger_drops = (!self.opts.blocking).then(|| {
            let offsets = self.ctx.offsets.clone();
            let key = self.key.clone();
            LoggerDrops {
                counted: crate::blocking::run(move || offsets.load_dropped(&key)),
                next: tokio::time::Instant::now(),
            }
        });
        let mut grouping = self.grouping();
        let mut batch = Batch::new();
        let mut checkpoint: Option<Position> = None;
        let mut first_read: Option<tokio::time::Instant> = None;
        let mut ensured = false;
        loop {
            let stopping = *stop.borrow();
            let mut items = match crate::blocking::run(|| spool.read()) {
                Ok(items) => items,
                Err(e) => {
                    tracing::warn!(task = %self.task_arn, container = %self.key, path = %self.path.display(), error = %e, "awslogs: cannot read the spool");
                    Vec::new()
                }
            };
            if spool.dropped > 0 {
                self.ctx.metrics.add_awslogs_dropped(spool.dropped);
                spool.dropped = 0;
            }
            let at_end = items.is_empty();
            if stopping && at_end {
                items = spool.finish();
            }
            if let Some(g) = grouping.as_mut() {
                let now = tokio::time::Instant::now();
                let mut events: Vec<_> = items.into_iter().filter_map(|l| g.push(l, now)).collect();
                if stopping && at_end {
                    events.extend(g.finish());
                } else if at_end {
                    events.extend(g.take_older(FLUSH_AFTER, now));
                }
                items = events;
            }
            for item in items {
                if !batch.fits(&item.event) {
                    self.flush(&dest, &mut batch, checkpoint, &mut ensured)
                        .await;
                    first_read = None;
                }
                first_read.get_or_insert_with(tokio::time::Instant::now);
                batch.push(item.event);
                checkpoint = Some(item.checkpoint);
            }
            let due = first_read.is_some_and(|t| t.elapsed() >= FLUSH_AFTER);
            if !batch.is_empty() && (due || (stopping && at_end)) {
                self.flush(&dest, &mut batch, checkpoint, &mut ensured)
                    .await;
                first_read = None;
            }
            let done = stopping && at_end && batch.is_empty();
            if let Some(d) = logger_drops.as_mut() {
                if done || tokio::time::Instant::now() >= d.next {
                    self.count_logger_drops(d);
                    d.next = tokio::time::Instant::now() + DROPS_EVERY;
                }
            }
            if done {
                return;
            }
            if at_end {
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// The multi-line grouping the options ask for, if any.
    fn grouping(&self) -> Option<Multiline> {
        let start = self.opts.multiline_start.as_deref()?;
        match Multiline::new(start) {
            Ok(m) => Some(m),
            Err(e) => {
                // Compiled when the task was accepted; a checkpoint from
                // another build of the regex crate could still disagree.
                // Only the error's last line: the others quote the pattern,
                // which may come from a secretOptions entry.
                let e = e.to_string();
                let why = e.lines().last().unwrap_or_default().to_string();
                self.ctx.metrics.inc_error("awslogs");
                tracing::error!(task = %self.task_arn, container = %self.key, error = %why, "awslogs: the multiline pattern does not compile; every line is an event");
                None
            }
        }
    }

    /// Sends the batch until CloudWatch takes it (or refuses it outright),
    /// then checkpoints `checkpoint`.
    async fn flush(
        &self,
        dest: &Destination,
        batch: &mut Batch,
        checkpoint: Option<Position>,
        ensured: &mut bool,
    ) {
        let events = batch.take();
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30), 0.2);
        loop {
            let result = match *ensured {
                true => dest.put(&events).await,
                false => match dest.ensure().await {
                    Ok(()) => {
                        *ensured = true;
                        dest.put(&events).await
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(()) => {
                    self.ctx.metrics.add_awslogs_shipped(events.len() as u64);
                    break;
                }
                Err(e @ CloudWatchError::Refused { .. }) => {
                    self.ctx.metrics.inc_error("awslogs");
                    tracing::error!(task = %self.task_arn, container = %self.key, events = events.len(), error = %e, "awslogs: CloudWatch refused a batch; its events are skipped");
                    break;
                }
                Err(e @ CloudWatchError::Retry { missing, .. }) => {
                    self.ctx.metrics.inc_error("awslogs");
                    if missing {
                        *ensured = false;
                    }
                    let wait = backoff.next(rand::random::<f64>());
                    tracing::warn!(task = %self.task_arn, container = %self.key, events = events.len(), retry_in_ms = wait.as_millis() as u64, error = %e, "awslogs: cannot ship; the lines wait in the spool");
                    tokio::time::sleep(wait).await;
                }
            }
        }
        if let Some(at) = checkpoint {
            let offsets = self.ctx.offsets.clone();
            let key = self.key.clone();
            crate::blocking::run(move || offsets.save(&key, at));
            self.reclaim(at);
        }
    }

    /// Non-blocking mode: adds to the dropped-lines metric what the
    /// logger's total holds beyond `d.counted`, saving the new count first
    /// (see `drops`).
    fn count_logger_drops(&self, d: &mut LoggerDrops) {
        let total = match crate::blocking::run(|| drops::logger_total(&self.path)) {
            Ok(total) => total,
            Err(e) => {
                tracing::warn!(task = %self.task_arn, container = %self.key, path = %self.path.display(), error = %e, "awslogs: cannot read the logger's count of dropped lines");
                return;
            }
        };
        let new = drops::new_drops(total, d.counted);
        if new == 0 {
            return;
        }
        let offsets = self.ctx.offsets.clone();
        let key = self.key.clone();
        crate::blocking::run(move || offsets.save_dropped(&key, total));
        d.counted = total;
        self.ctx.metrics.add_awslogs_dropped(new);
        tracing::warn!(task = %self.task_arn, container = %self.key, lines = new, total, "awslogs non-blocking: CloudWatch is max-buffer-size behind; the container's logger dropped new lines");
    }

    /// Gives the spool file the logger handed over back to the disk once
    /// `shipped` (checkpointed) shows all of it is shipped.
    fn reclaim(&self, shipped: Position) {
        match crate::blocking::run(|| spool::reclaim(&self.path, shipped)) {
            Ok(true) => {
                tracing::debug!(task = %self.task_arn, container = %self.key, "awslogs: a shipped spool file was removed");
            }
            Ok(false) => {}
            Err(e) => {
                self.ctx.metrics.inc_error("awslogs");
                tracing::warn!(task = %self.task_arn, container = %self.key, path = %self.path.display(), error = %e, "awslogs: cannot remove a shipped spool file; the container's logger keeps writing to the current one");
            }
        }
    }
}

/// The Go agent's rule (docker_task_engine.go, `AWSLogAuthExecutionRole` and
/// `OverrideAWSLogsExecutionRole`): the execution role when Amazon ECS marked
/// the container and the setting is on, else the instance's credentials.
fn uses_execution_role(opts: &Awslogs, execution_role_override: bool) -> bool {
    opts.execution_role && execution_role_override
}

/// The task execution role's latest credentials, as ACS refreshes them.
#[derive(Debug)]
struct ExecutionRole {
    store: CredentialsStore,
    task_arn: String,
}

impl ProvideCredentials for ExecutionRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(
            match self
                .store
                .task_credentials(&self.task_arn, RoleType::TaskExecution)
            {
                Some(c) => Ok(Credentials::new(
                    c.access_key_id,
                    c.secret_access_key,
                    Some(c.session_token).filter(|t| !t.is_empty()),
                    None,
                    "task-execution-role",
                )),
                None => Err(CredentialsError::not_loaded(
                    "the task's execution role credentials have not arrived",
                )),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_execution_role_only_when_marked_and_allowed() {
        let mut opts = Awslogs {
            group: "g".into(),
            region: None,
            stream: StreamName::ContainerId,
            create_group: false,
            endpoint: None,
            blocking: false,
            max_buffer_size: 1,
            multiline_start: None,
            execution_role: true,
            secret_options: Vec::new(),
        };
        assert!(uses_execution_role(&opts, true));
        assert!(!uses_execution_role(&opts, false));
        opts.execution_role = false;
        assert!(!uses_execution_role(&opts, true));
    }

    #[test]
    fn offsets_in_memory_load_what_was_saved() {
        let m = MemoryOffsets::default();
        assert_eq!(m.load("t/c"), None);
        let at = Position {
            inode: 7,
            offset: 42,
        };
        m.save("t/c", at);
        assert_eq!(m.load("t/c"), Some(at));
        assert_eq!(m.load_dropped("t/c"), 0);
        m.save_dropped("t/c", 9);
        assert_eq!((m.load("t/c"), m.load_dropped("t/c")), (Some(at), 9));
        m.delete("t/c");
        assert_eq!((m.load("t/c"), m.load_dropped("t/c")), (None, 0));
    }
}
