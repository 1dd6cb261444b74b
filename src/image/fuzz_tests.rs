//! No manifest, index or image config from a registry makes the parsers
//! panic (image references: task/fuzz_tests.rs, with their parser).

use super::manifest::{
    check_image_manifest, check_layers, parse_config, parse_manifest, select_manifest, Parsed,
    Platform, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST,
};
use crate::fuzz_support;

const MANIFESTS: &[&str] = &[
    r#"{"config":{"digest":"sha256:b556c8bfc15b42e6242264e691df0ab7661ac8c5d53a156387da8ff622fb1355","mediaType":"application/vnd.oci.image.config.v1+json","size":382},"layers":[{"digest":"sha256:56b2c5f18527289468fb1f39cca97ce9cfa7c2864ee1021c755a9ef1fbd63f1b","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1031895}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}"#,
    r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:56b2c5f18527289468fb1f39cca97ce9cfa7c2864ee1021c755a9ef1fbd63f1b","size":10,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:b556c8bfc15b42e6242264e691df0ab7661ac8c5d53a156387da8ff622fb1355","size":12,"platform":{"os":"linux","architecture":"amd64"}}]}"#,
];

const CONFIGS: &[&str] = &[
    r#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"],"Entrypoint":null,"WorkingDir":"/","User":"1000:1000","Labels":{"a":"b"}},"rootfs":{"type":"layers","diff_ids":["sha256:56b2c5f18527289468fb1f39cca97ce9cfa7c2864ee1021c755a9ef1fbd63f1b"]}}"#,
];

#[test]
fn manifests_and_indexes_never_panic_the_parser() {
    let host = Platform::host();
    fuzz_support::json(MANIFESTS, |text| {
        for content_type in [
            None,
            Some(OCI_MANIFEST),
            Some(DOCKER_MANIFEST),
            Some(OCI_INDEX),
        ] {
            match parse_manifest(content_type, text.as_bytes()) {
                Ok(Parsed::Manifest(m)) => {
                    let _ = check_image_manifest(&m);
                }
                Ok(Parsed::Index(i)) => {
                    let _ = select_manifest(&i, &host);
                }
                Err(_) => {}
            }
        }
    });
}

#[test]
fn manifest_bytes_never_panic_the_parser() {
    fuzz_support::bytes(MANIFESTS, |b| {
        let _ = parse_manifest(None, b);
    });
}

#[test]
fn image_configs_never_panic_the_parser() {
    let Ok(Parsed::Manifest(m)) = parse_manifest(None, MANIFESTS[0].as_bytes()) else {
        panic!("the manifest seed must parse");
    };
    fuzz_support::json(CONFIGS, |text| {
        if let Ok(cfg) = parse_config(text.as_bytes()) {
            let _ = check_layers(&m, &cfg);
        }
    });
}
