//! Compiles the cgroups metrics protos that containerd-client does not ship
//! (the payloads inside containerd's Tasks.Metrics), and the two small
//! programs the agent installs: the container logger containerd's shim runs
//! and the container init.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    protos();
    helper("ecs-agent-logger", "ECS_LOGGER_FNV1A");
    helper("ecs-agent-init", "ECS_INIT_FNV1A");
}

/// Messages only: no services, so plain prost-build is enough.
fn protos() {
    let protos = [
        "proto/cgroups/v1/metrics.proto",
        "proto/cgroups/v2/metrics.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    if let Err(e) = prost_build::Config::new().compile_protos(&protos, &["proto"]) {
        // protoc is a build prerequisite (Debian: protobuf-compiler), as for containerd-client.
        panic!("compiling {protos:?} failed (is protoc installed?): {e}");
    }
}

/// `src/bin/<name>` compiled on its own with rustc: std only, so no crate
/// graph; static, so it runs on any host the shim runs on and in any
/// container image (the init is mounted into containers); always
/// size-optimised without unwinding, whatever the agent's profile, because
/// one runs per container (src/logger/install.rs embeds the result, whose
/// hash goes to the agent in `hash_env`).
fn helper(name: &str, hash_env: &str) {
    let dir = Path::new("src/bin").join(name);
    println!("cargo:rerun-if-changed={}", dir.display());
    // Included by path from the logger's main.rs (one time formatter for both).
    println!("cargo:rerun-if-changed=src/endpoints/gotime.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target = std::env::var("TARGET").expect("TARGET");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let bin = out.join(name);
    let status = Command::new(rustc)
        .args(["--edition=2021", "--crate-type=bin", "--crate-name"])
        .arg(name.replace('-', "_"))
        .args([
            "-C",
            "opt-level=s",
            "-C",
            "panic=abort",
            "-C",
            "codegen-units=1",
        ])
        .args(["-C", "debuginfo=0", "-C", "strip=symbols"])
        .args(["-C", "target-feature=+crt-static", "--target", &target])
        // Not position-independent: a static PIE relocates its own data at
        // every start, which makes those pages private to each process (about
        // 20 KiB of every logger); the shim beside it (Debian's
        // containerd-shim-runc-v2) is not position-independent either.
        .args(["-C", "relocation-model=static"])
        .arg("-o")
        .arg(&bin)
        .arg(dir.join("main.rs"))
        .status()
        .unwrap_or_else(|e| panic!("running rustc for {name}: {e}"));
    // A static link needs the C library's static archive (Debian: libc6-dev).
    assert!(status.success(), "compiling {} failed", dir.display());
    let bytes = std::fs::read(&bin).unwrap_or_else(|e| panic!("reading the built {name}: {e}"));
    println!("cargo:rustc-env={hash_env}={:016x}", fnv1a(&bytes));
    // The agent carries it deflated (a static program is mostly the C
    // library and std, which compress to less than half) and inflates it
    // only when it has to write it out.
    let packed = miniz_oxide::deflate::compress_to_vec(&bytes, 9);
    let packed_path = out.join(format!("{name}.deflate"));
    std::fs::write(&packed_path, packed)
        .unwrap_or_else(|e| panic!("writing {}: {e}", packed_path.display()));
}

/// The same hash as `src/logger/install.rs` computes of the installed file.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
