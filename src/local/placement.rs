//! Task placement: which container instance can take a task. Pure.

use super::state::{Attribute, Reservation};
use std::collections::BTreeSet;

/// An instance as placement sees it: what is left after its live tasks.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub arn: String,
    pub status: String,
    pub connected: bool,
    pub attributes: Vec<Attribute>,
    pub cpu_free: i64,
    pub memory_free: i64,
    /// Reserved by the agent at registration plus held by tasks.
    pub tcp_used: BTreeSet<u16>,
    pub udp_used: BTreeSet<u16>,
}

#[derive(Debug, Clone, Default)]
pub struct Requirement {
    pub reservation: Reservation,
    pub attributes: Vec<Attribute>,
}

/// ECS's `Failure` for a placement that did not happen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Failure {
    pub arn: String,
    pub reason: String,
    pub detail: Option<String>,
}

fn fail(arn: &str, reason: &str, detail: Option<String>) -> Failure {
    Failure {
        arn: arn.to_string(),
        reason: reason.to_string(),
        detail,
    }
}

fn has_attribute(have: &[Attribute], want: &Attribute) -> bool {
    have.iter()
        .any(|a| a.name == want.name && (want.value.is_none() || a.value == want.value))
}

/// The first attribute `req` requires that `c` lacks.
pub fn missing_attribute<'a>(c: &Candidate, req: &'a Requirement) -> Option<&'a str> {
    req.attributes
        .iter()
        .find(|a| !has_attribute(&c.attributes, a))
        .map(|a| a.name.as_str())
}

/// Whether `c` can take `req`, with ECS's failure reason when not.
pub fn check(c: &Candidate, req: &Requirement) -> Result<(), Failure> {
    if c.status != "ACTIVE" {
        return Err(fail(
            &c.arn,
            "INACTIVE",
            Some(format!("container instance is {}", c.status)),
        ));
    }
    if !c.connected {
        return Err(fail(&c.arn, "AGENT", None));
    }
    if let Some(missing) = missing_attribute(c, req) {
        // Amazon ECS answers RunTask with the instance and the reason only,
        // which leaves users guessing (aws/amazon-ecs-cli#444 was written
        // because of it). `detail` is part of ECS's Failure shape, so naming
        // the attribute there is better and breaks no client.
        return Err(fail(
            &c.arn,
            "ATTRIBUTE",
            Some(format!("missing attribute {missing}")),
        ));
    }
    let r = &req.reservation;
    if r.cpu > c.cpu_free {
        return Err(fail(&c.arn, "RESOURCE:CPU", None));
    }
    if r.memory > c.memory_free {
        return Err(fail(&c.arn, "RESOURCE:MEMORY", None));
    }
    if has_conflict(&r.tcp_ports, &c.tcp_used) {
        return Err(fail(&c.arn, "RESOURCE:PORTS", None));
    }
    if has_conflict(&r.udp_ports, &c.udp_used) {
        return Err(fail(&c.arn, "RESOURCE:PORTS_UDP", None));
    }
    Ok(())
}

/// A task asking twice for one host port cannot run anywhere either.
fn has_conflict(want: &[u16], used: &BTreeSet<u16>) -> bool {
    let mut seen = BTreeSet::new();
    want.iter().any(|p| used.contains(p) || !seen.insert(*p))
}

/// Saturating: a reservation never makes an instance's free resources wrap
/// round to a huge value (placement checked it fits, but stored tasks from
/// before a limit existed may not).
pub fn take(c: &mut Candidate, r: &Reservation) {
    c.cpu_free = c.cpu_free.saturating_sub(r.cpu);
    c.memory_free = c.memory_free.saturating_sub(r.memory);
    c.tcp_used.extend(r.tcp_ports.iter().copied());
    c.udp_used.extend(r.udp_ports.iter().copied());
}

/// Places `count` tasks, each on the fitting instance with the most free memory
/// (spreading them). Returns the chosen instance per placed task, and the
/// distinct failures of instances that could not take one.
pub fn place(
    candidates: &mut [Candidate],
    req: &Requirement,
    count: usize,
) -> (Vec<String>, Vec<Failure>) {
    let mut placed = Vec::new();
    let mut failures = BTreeSet::new();
    for _ in 0..count {
        let mut best: Option<usize> = None;
        for (i, c) in candidates.iter().enumerate() {
            match check(c, req) {
                Ok(()) => {
                    let better = best.is_none_or(|b| {
                        let cur = &candidates[b];
                        (c.memory_free, std::cmp::Reverse(&c.arn))
                            > (cur.memory_free, std::cmp::Reverse(&cur.arn))
                    });
                    if better {
                        best = Some(i);
                    }
                }
                Err(f) => {
                    failures.insert(f);
                }
            }
        }
        match best {
            Some(i) => {
                take(&mut candidates[i], &req.reservation);
                placed.push(candidates[i].arn.clone());
            }
            None => break,
        }
    }
    // Failures only matter for tasks that did not get placed.
    let failures = if placed.len() == count {
        Vec::new()
    } else {
        failures.into_iter().collect()
    };
    (placed, failures)
}

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;
