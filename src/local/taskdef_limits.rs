//! Amazon ECS's documented per-field limits on RegisterTaskDefinition, read
//! from the raw request before it is parsed: each from the ECS API reference
//! (the `documentation` of the members of RegisterTaskDefinitionRequest in
//! the ECS service model, botocore `ecs/2014-11-13/service-2.json`). The
//! model itself carries constraints only for tags (checked in `api::tags`);
//! family and container names are checked in `taskdef::validate`. ECS
//! documents no per-variable limit on `environment` names or values: the
//! 64 KiB definition size bounds them.
//!
//! Members of the wrong type are left to the parse, which names them.

use super::error::ApiError;
use serde_json::{Map, Value};

/// "For images using tags ... up to 255 characters total"; "for images
/// using digests ... the 255 character limit applies only to the repository
/// URL and image name (everything before the @ sign)".
pub const MAX_IMAGE_NAME: usize = 255;
/// portMappings[].name: "up to 64 characters".
pub const MAX_PORT_NAME: usize = 64;
/// "You can specify a maximum of 100 port ranges per container."
pub const MAX_PORT_RANGES: usize = 100;
/// environmentFiles: "You can specify up to ten environment files."
pub const MAX_ENVIRONMENT_FILES: usize = 10;
/// volumes[].name: "Up to 255 letters (uppercase and lowercase), numbers,
/// underscores, and hyphens are allowed."
pub const MAX_VOLUME_NAME: usize = 255;
/// placementConstraints: "You can specify a maximum of 10 constraints for
/// each task."
pub const MAX_PLACEMENT_CONSTRAINTS: usize = 10;

/// healthCheck: "between 5 and 300 seconds" (interval), "between 2 and 120
/// seconds" (timeout), "between 1 and 10" (retries), "between 0 and 300
/// seconds" (startPeriod) (ECS API reference, `HealthCheck`).
pub const HEALTH_CHECK_RANGES: [(&str, i64, i64); 4] = [
    ("interval", 5, 300),
    ("timeout", 2, 120),
    ("retries", 1, 10),
    ("startPeriod", 0, 300),
];
/// restartPolicy: "a minimum restartAttemptPeriod of 60 seconds and a
/// maximum ... of 1800 seconds"; "a maximum of 50 container exit codes"
/// (ECS API reference, `ContainerRestartPolicy`).
pub const RESTART_ATTEMPT_PERIOD: (i64, i64) = (60, 1800);
pub const MAX_IGNORED_EXIT_CODES: usize = 50;

fn array<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    obj.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn at_most(field: &str, n: usize, max: usize) -> Result<(), ApiError> {
    if n > max {
        return Err(ApiError::client(format!(
            "Too many {field}: {n} given; at most {max} are allowed."
        )));
    }
    Ok(())
}

/// The image reference's documented form: length and characters of the
/// name, and a digest that is sha256 with 64 hex digits.
fn check_image(field: &str, image: &str) -> Result<(), ApiError> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if name.chars().count() > MAX_IMAGE_NAME {
        return Err(ApiError::client(format!(
            "Invalid {field}: {} characters before any '@'; at most {MAX_IMAGE_NAME} are allowed.",
            name.chars().count()
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_:./#".contains(c);
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(ApiError::client(format!(
            "Invalid {field}: character {bad:?} is not allowed (letters, numbers, hyphens, underscores, colons, periods, forward slashes and number signs are)."
        )));
    }
    if let Some(d) = digest {
        let hex = d.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ApiError::client(format!(
                "Invalid {field}: the digest must be sha256: followed by exactly 64 hexadecimal characters."
            )));
        }
    }
    Ok(())
}

fn check_port_name(field: &str, name: &str) -> Result<(), ApiError> {
    let ok = name.len() <= MAX_PORT_NAME
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(ApiError::client(format!(
            "Invalid {field} {name:?}: up to {MAX_PORT_NAME} lowercase letters, numbers, underscores and hyphens, not starting with a hyphen."
        )));
    }
    Ok(())
}

fn in_range(field: &str, v: &Value, (min, max): (i64, i64)) -> Result<(), ApiError> {
    match v.as_i64() {
        Some(n) if n < min || n > max => Err(ApiError::client(format!(
            "Invalid {field}: {n}; it must be between {min} and {max}."
        ))),
        _ => Ok(()),
    }
}

fn check_health_and_restarts(at: &str, c: &Map<String, Value>) -> Result<(), ApiError> {
    if let Some(Value::Object(h)) = c.get("healthCheck") {
        for (key, min, max) in HEALTH_CHECK_RANGES {
            if let Some(v) = h.get(key) {
                in_range(&format!("{at}.healthCheck.{key}"), v, (min, max))?;
            }
        }
    }
    if let Some(Value::Object(r)) = c.get("restartPolicy") {
        if let Some(v) = r.get("restartAttemptPeriod") {
            in_range(
                &format!("{at}.restartPolicy.restartAttemptPeriod"),
                v,
                RESTART_ATTEMPT_PERIOD,
            )?;
        }
        at_most(
            &format!("{at}.restartPolicy.ignoredExitCodes"),
            array(r, "ignoredExitCodes").len(),
            MAX_IGNORED_EXIT_CODES,
        )?;
    }
    Ok(())
}

fn check_container(i: usize, c: &Map<String, Value>) -> Result<(), ApiError> {
    let at = format!("containerDefinitions[{i}]");
    check_health_and_restarts(&at, c)?;
    if let Some(image) = c.get("image").and_then(Value::as_str) {
        check_image(&format!("{at}.image"), image)?;
    }
    let ports = array(c, "portMappings");
    let ranges = ports
        .iter()
        .filter(|p| p.get("containerPortRange").is_some_and(|r| !r.is_null()))
        .count();
    at_most(
        &format!("{at}.portMappings with containerPortRange"),
        ranges,
        MAX_PORT_RANGES,
    )?;
    for (j, p) in ports.iter().enumerate() {
        if let Some(name) = p.get("name").and_then(Value::as_str) {
            check_port_name(&format!("{at}.portMappings[{j}].name"), name)?;
        }
    }
    at_most(
        &format!("{at}.environmentFiles"),
        array(c, "environmentFiles").len(),
        MAX_ENVIRONMENT_FILES,
    )
}

/// The documented limits, in one pass over the request (linear in its size,
/// which the body limit and the 64 KiB check already bound).
pub fn check(def: &Map<String, Value>) -> Result<(), ApiError> {
    for (i, c) in array(def, "containerDefinitions").iter().enumerate() {
        if let Value::Object(c) = c {
            check_container(i, c)?;
        }
    }
    for (k, v) in array(def, "volumes").iter().enumerate() {
        if let Some(name) = v.get("name").and_then(Value::as_str) {
            let ok = name.len() <= MAX_VOLUME_NAME
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(ApiError::client(format!(
                    "Invalid volumes[{k}].name {name:?}: up to {MAX_VOLUME_NAME} letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed."
                )));
            }
        }
    }
    at_most(
        "placementConstraints",
        array(def, "placementConstraints").len(),
        MAX_PLACEMENT_CONSTRAINTS,
    )
}

#[cfg(test)]
#[path = "taskdef_limits_tests.rs"]
mod tests;
