//! No settings file and no environment value makes reading the configuration
//! panic: bad ones are errors naming the variable.

use std::collections::BTreeMap;

use crate::fuzz_support;

const ENV_FILES: &[&str] = &[
    "ECS_CLUSTER=prod\n# comment\nexport ECS_LOGLEVEL=\"debug\"\nECS_RESERVED_PORTS=[22, 2375]\n",
    "ECS_ENGINE_AUTH_TYPE=docker\nECS_ENGINE_AUTH_DATA='{\"https://index.docker.io/v1/\":{\"username\":\"u\",\"password\":\"p\"}}'\n",
    "ECS_INSTANCE_ATTRIBUTES={\"a\":\"b\"}\r\nECS_ENGINE_TASK_CLEANUP_WAIT_DURATION=1h30m\r\n",
];

const DURATIONS: &[&str] = &[
    "1h30m",
    "3h",
    "-1.5s",
    "300ms",
    "2h45m10.5s",
    "1µs",
    "0",
    "9999999999h",
];

/// Values of the shapes the variables take, to mutate from.
const VALUES: &[&str] = &[
    "",
    "true",
    "false",
    "default",
    "10.0.0.0/24",
    "169.254.172.0/22",
    "32768-60999",
    "[22,2375,51678]",
    "{\"k\":\"v\"}",
    "1h",
    "512",
    "/var/lib/ecs/data",
    "unix:///run/containerd/containerd.sock",
    "http://127.0.0.1:8080",
    "40,60",
    "always",
    "once",
    "prefer-cached",
    "{\"registry.example.com:5000\":{\"username\":\"u\",\"password\":\"p\",\"email\":\"e\"}}",
    "{\"https://index.docker.io/v1/\":{\"auth\":\"dTpw\"}}",
];

#[test]
fn env_files_never_panic_the_parser() {
    fuzz_support::strings(ENV_FILES, |text| {
        let _ = super::parse_env_file(text);
    });
}

#[test]
fn go_durations_never_panic_the_parser() {
    fuzz_support::strings(DURATIONS, |text| {
        let _ = super::parse_go_duration(text);
    });
}

#[test]
fn no_variable_value_panics_the_config_reader() {
    let names: Vec<&str> = super::documented_variables()
        .iter()
        .map(|(name, _, _)| *name)
        .chain(["ECS_ENGINE_AUTH_TYPE", "ECS_ENGINE_AUTH_DATA"])
        .collect();
    fuzz_support::run(|u| {
        let mut env = BTreeMap::new();
        for _ in 0..u.int_in_range(1..=8)? {
            let name = *u.choose(&names)?;
            env.insert(name.to_string(), fuzz_support::text(u, VALUES)?);
        }
        let mut file = Vec::new();
        for _ in 0..u.int_in_range(0..=4)? {
            let name = *u.choose(&names)?;
            file.push((name.to_string(), fuzz_support::text(u, VALUES)?));
        }
        let _ = super::Config::from_sources(&env, &file);
        Ok(())
    });
}
