//! RunTask/StartTask overrides and the effective container definitions and
//! resource reservation they produce.

use super::state::Reservation;
use super::taskdef::{parse_cpu, parse_memory, ContainerDef, KeyValue, TaskDefView};
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

/// What the task holds on its instance: task-level cpu/memory when set, else
/// the containers' sum (memoryReservation before memory, as ECS reserves);
/// host ports by network mode (host: containerPort; bridge: a fixed hostPort;
/// dynamic host ports and awsvpc hold none).
pub fn reservation(v: &TaskDefView, ov: &TaskOverride) -> Reservation {
    let containers = effective_containers(v, ov);
    let (task_cpu, task_mem) = task_cpu_memory(v, ov);
    let cpu = task_cpu.unwrap_or_else(|| containers.iter().map(|c| c.cpu.unwrap_or(0)).sum());
    let memory = task_mem.unwrap_or_else(|| {
        containers
            .iter()
            .map(|c| c.memory_reservation.or(c.memory).unwrap_or(0))
            .sum()
    });
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
    r
}
