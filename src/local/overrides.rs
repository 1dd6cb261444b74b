//! RunTask/StartTask overrides and the effective container definitions and
//! resource reservation they produce.

use super::error::ApiError;
use super::state::Reservation;
use super::taskdef::{
    parse_cpu, parse_memory, ContainerDef, KeyValue, TaskDefView, MAX_CONTAINER_VALUE,
};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskOverride {
    pub container_overrides: Vec<ContainerOverride>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerOverride {
    pub name: Option<String>,
    pub command: Option<Vec<String>>,
    pub environment: Vec<KeyValue>,
    pub cpu: Option<i64>,
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
}

/// The definition of one container with its override merged in.
pub fn effective_container(def: &ContainerDef, ov: &TaskOverride) -> ContainerDef {
    let mut c = def.clone();
    let Some(o) = ov
        .container_overrides
        .iter()
        .find(|o| o.name.is_some() && o.name == def.name)
    else {
        return c;
    };
    if let Some(cmd) = &o.command {
        c.command = cmd.clone();
    }
    for kv in &o.environment {
        match c.environment.iter_mut().find(|e| e.name == kv.name) {
            Some(e) => e.value = kv.value.clone(),
            None => c.environment.push(kv.clone()),
        }
    }
    if o.cpu.is_some() {
        c.cpu = o.cpu;
    }
    if o.memory.is_some() {
        c.memory = o.memory;
    }
    if o.memory_reservation.is_some() {
        c.memory_reservation = o.memory_reservation;
    }
    c
}

pub fn effective_containers(v: &TaskDefView, ov: &TaskOverride) -> Vec<ContainerDef> {
    v.container_definitions
        .iter()
        .map(|c| effective_container(c, ov))
        .collect()
}

/// Task-level cpu units and memory MiB (override first), if set.
pub fn task_cpu_memory(v: &TaskDefView, ov: &TaskOverride) -> (Option<i64>, Option<i64>) {
    let cpu = ov.cpu.as_deref().or(v.cpu.as_deref()).and_then(parse_cpu);
    let mem = ov
        .memory
        .as_deref()
        .or(v.memory.as_deref())
        .and_then(parse_memory);
    (cpu, mem)
}

/// Sums what the containers ask for, refusing values out of ECS's range
/// instead of letting the sum wrap (which would place an impossible task and
/// corrupt the instance's remaining resources).
fn checked_total(
    containers: &[ContainerDef],
    field: &str,
    value: impl Fn(&ContainerDef) -> Option<i64>,
) -> Result<i64, ApiError> {
    containers.iter().try_fold(0i64, |sum, c| {
        let v = value(c).unwrap_or(0);
        if !(0..=MAX_CONTAINER_VALUE).contains(&v) {
            return Err(ApiError::invalid(format!(
                "Invalid '{field}' setting for container '{}': {v} is out of range (0 to {MAX_CONTAINER_VALUE}).",
                c.name.as_deref().unwrap_or("")
            )));
        }
        sum.checked_add(v).ok_or_else(|| {
            ApiError::invalid(format!(
                "The containers' total '{field}' is out of range."
            ))
        })
    })
}

/// What the task holds on its instance: task-level cpu/memory when set, else
/// the containers' sum (memoryReservation before memory, as ECS reserves);
/// host ports by network mode (host: containerPort; bridge: a fixed hostPort;
/// dynamic host ports and awsvpc hold none). Values out of ECS's range are
/// refused (InvalidParameterException), never wrapped.
pub fn reservation(v: &TaskDefView, ov: &TaskOverride) -> Result<Reservation, ApiError> {
    let containers = effective_containers(v, ov);
    let (task_cpu, task_mem) = task_cpu_memory(v, ov);
    let cpu = match task_cpu {
        Some(c) => c,
        None => checked_total(&containers, "cpu", |c| c.cpu)?,
    };
    let memory = match task_mem {
        Some(m) => m,
        None => checked_total(&containers, "memory", |c| c.memory_reservation.or(c.memory))?,
    };
    let mode = v.network_mode.as_deref().unwrap_or("bridge");
    let mut r = Reservation {
        cpu,
        memory,
        ..Default::default()
    };
    for c in &containers {
        for p in &c.port_mappings {
            let port = match mode {
                "host" => p.container_port,
                "bridge" => p.host_port.filter(|h| *h != 0),
                _ => None,
            };
            let Some(port) = port.and_then(|p| u16::try_from(p).ok()) else {
                continue;
            };
            if p.protocol.as_deref() == Some("udp") {
                r.udp_ports.push(port);
            } else {
                r.tcp_ports.push(port);
            }
        }
    }
    Ok(r)
}
