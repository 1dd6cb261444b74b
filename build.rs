//! Compiles the cgroups metrics protos that containerd-client does not ship
//! (the payloads inside containerd's Tasks.Metrics). Messages only: no
//! services, so plain prost-build is enough.

fn main() {
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
