//! Test images pushed to the test registry at run time.

use std::process::Command;

use super::TestEnv;

/// Builds a busybox image whose only layer also holds `mib` MiB of bytes
/// seeded by `seed` (scripts/mkimage.py --filler) and pushes it as
/// `<registry>/<name>:latest`; returns that reference.
pub fn push_busybox_with_filler(env: &TestEnv, name: &str, mib: u32, seed: u32) -> String {
    let layout = tempfile::tempdir().unwrap();
    run_ok(
        Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/mkimage.py"))
            .arg("/bin/busybox")
            .arg(layout.path())
            .arg(format!("--filler={mib}:{seed}")),
    );
    let image = format!("{}/{name}:latest", env.registry);
    run_ok(
        Command::new("skopeo")
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:latest", layout.path().display()))
            .arg(format!("docker://{image}")),
    );
    image
}

/// A busybox image no other test has: its layer must really be downloaded.
/// containerd shares blobs between namespaces, so its Transfer service
/// (2.x) takes the common busybox layer from another test's pull without
/// asking the registry, and a test of what the registry does to a download
/// would see none. Returns the repository (in `env.registry`), the
/// reference, and the digest of its one layer.
pub fn push_unique_busybox(env: &TestEnv, prefix: &str) -> (String, String, String) {
    let repo = super::unique_ns(prefix).to_ascii_lowercase();
    let seed = rand_seed();
    let reference = push_busybox_with_filler(env, &repo, 1, seed);
    let layers = layers(env, &repo, "latest");
    assert_eq!(layers.len(), 1, "{layers:?}");
    (repo, reference, layers[0].clone())
}

fn rand_seed() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}

/// The layer digests of `repo`'s manifest `object` in the test registry.
pub fn layers(env: &TestEnv, repo: &str, object: &str) -> Vec<String> {
    let out = run_ok(
        Command::new("curl")
            .args(["-sf", "-H"])
            .arg("Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
            .arg(format!("http://{}/v2/{repo}/manifests/{object}", env.registry)),
    );
    let m: serde_json::Value = serde_json::from_str(&out).unwrap();
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `cmd`, panicking with its stderr unless it succeeds; its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
