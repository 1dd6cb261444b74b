//! Applies `rules` through the iptables crate (which runs the `iptables`
//! binary with `--wait`), off the async runtime.

use std::sync::OnceLock;

use iptables::IPTables;

use super::rules::{Hook, Rule};
use super::NetworkError;

static IPT: OnceLock<Result<IPTables, String>> = OnceLock::new();

async fn with_ipt<T: Send + 'static>(
    what: String,
    f: impl FnOnce(&IPTables) -> Result<T, String> + Send + 'static,
) -> Result<T, NetworkError> {
    let what2 = what.clone();
    tokio::task::spawn_blocking(move || {
        let ipt = IPT
            .get_or_init(|| iptables::new(false).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| format!("cannot run iptables: {e}"))?;
        f(ipt)
    })
    .await
    .map_err(|e| NetworkError::Iptables {
        op: what2,
        reason: e.to_string(),
    })?
    .map_err(|reason| NetworkError::Iptables { op: what, reason })
}

fn s(e: Box<dyn std::error::Error>) -> String {
    e.to_string()
}

/// Creates the chain if missing and hooks it into its built-in chain once.
pub(crate) async fn ensure_hook(h: &Hook) -> Result<(), NetworkError> {
    let h = h.clone();
    let what = format!("-t {} -A {} {}", h.table, h.builtin, h.spec);
    with_ipt(what, move |ipt| {
        if !ipt.chain_exists(h.table, &h.chain).map_err(s)? {
            // Another manager may create it between the check and here.
            if let Err(e) = ipt.new_chain(h.table, &h.chain) {
                if !ipt.chain_exists(h.table, &h.chain).map_err(s)? {
                    return Err(s(e));
                }
            }
        }
        if !ipt.exists(h.table, h.builtin, &h.spec).map_err(s)? {
            if h.first {
                ipt.insert(h.table, h.builtin, &h.spec, 1).map_err(s)?;
            } else {
                ipt.append(h.table, h.builtin, &h.spec).map_err(s)?;
            }
        }
        Ok(())
    })
    .await
}

/// Like `ensure_hook`, and the jump is moved to the top of its built-in chain
/// if something else got above it (a hook inserted later by the host
/// preparation would otherwise shadow it). Idempotent: one jump, first.
pub(crate) async fn ensure_hook_on_top(h: &Hook) -> Result<(), NetworkError> {
    ensure_hook(h).await?;
    let h = h.clone();
    let what = format!("-t {} -I {} 1 {}", h.table, h.builtin, h.spec);
    with_ipt(what, move |ipt| {
        let wanted = format!("-A {} {}", h.builtin, h.spec);
        let listed = ipt.list(h.table, h.builtin).map_err(s)?;
        let first = listed.iter().find(|l| l.starts_with("-A "));
        if first.map(|l| l.trim()) == Some(wanted.as_str()) {
            return Ok(());
        }
        while ipt.exists(h.table, h.builtin, &h.spec).map_err(s)? {
            ipt.delete(h.table, h.builtin, &h.spec).map_err(s)?;
        }
        ipt.insert(h.table, h.builtin, &h.spec, 1).map_err(s)
    })
    .await
}

/// Unhooks and deletes the chains (and their rules); nothing if absent.
/// All jumps go first: a chain still referenced cannot be deleted.
pub(crate) async fn remove_hooks(hooks: &[Hook]) -> Result<(), NetworkError> {
    let hooks = hooks.to_vec();
    let what = format!(
        "remove chains {}",
        hooks
            .iter()
            .map(|h| h.chain.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    with_ipt(what, move |ipt| {
        for h in &hooks {
            while ipt.exists(h.table, h.builtin, &h.spec).map_err(s)? {
                ipt.delete(h.table, h.builtin, &h.spec).map_err(s)?;
            }
        }
        for h in &hooks {
            if ipt.chain_exists(h.table, &h.chain).map_err(s)? {
                ipt.flush_chain(h.table, &h.chain).map_err(s)?;
                ipt.delete_chain(h.table, &h.chain).map_err(s)?;
            }
        }
        Ok(())
    })
    .await
}

/// Appends the rule unless it is already there.
pub(crate) async fn ensure_rule(r: &Rule) -> Result<(), NetworkError> {
    let r = r.clone();
    let what = format!("-t {} -A {} {}", r.table, r.chain, r.spec);
    with_ipt(what, move |ipt| {
        if !ipt.exists(r.table, &r.chain, &r.spec).map_err(s)? {
            ipt.append(r.table, &r.chain, &r.spec).map_err(s)?;
        }
        Ok(())
    })
    .await
}

/// Appends the rules without checking for them first (one process per
/// rule instead of two): for rules known to be absent, or harmless twice.
pub(crate) async fn append_rules(rules: Vec<Rule>) -> Result<(), NetworkError> {
    if rules.is_empty() {
        return Ok(());
    }
    let what = rules
        .iter()
        .map(|r| format!("-t {} -A {} {}", r.table, r.chain, r.spec))
        .collect::<Vec<_>>()
        .join("; ");
    with_ipt(what, move |ipt| {
        for r in &rules {
            ipt.append(r.table, &r.chain, &r.spec).map_err(s)?;
        }
        Ok(())
    })
    .await
}

/// Deletes every copy of the rule; nothing if absent (or its chain is).
pub(crate) async fn delete_rule(r: &Rule) -> Result<(), NetworkError> {
    let r = r.clone();
    let what = format!("-t {} -D {} {}", r.table, r.chain, r.spec);
    with_ipt(what, move |ipt| {
        if !ipt.chain_exists(r.table, &r.chain).map_err(s)? {
            return Ok(());
        }
        while ipt.exists(r.table, &r.chain, &r.spec).map_err(s)? {
            ipt.delete(r.table, &r.chain, &r.spec).map_err(s)?;
        }
        Ok(())
    })
    .await
}

/// Replaces the chain's content with exactly `rules` (all in that chain).
pub(crate) async fn sync_chain(
    table: &'static str,
    chain: &str,
    rules: Vec<Rule>,
) -> Result<(), NetworkError> {
    let chain = chain.to_string();
    let what = format!("-t {table} -F {chain}");
    with_ipt(what, move |ipt| {
        ipt.flush_chain(table, &chain).map_err(s)?;
        for r in rules
            .iter()
            .filter(|r| r.chain == chain && r.table == table)
        {
            ipt.append(table, &chain, &r.spec).map_err(s)?;
        }
        Ok(())
    })
    .await
}

/// Whether iptables can be run and the nat table read (a container without
/// the program, or without NET_ADMIN, cannot).
pub(crate) async fn probe() -> Result<(), NetworkError> {
    with_ipt("-t nat -S PREROUTING".into(), |ipt| {
        ipt.list("nat", "PREROUTING").map(|_| ()).map_err(s)
    })
    .await
}
