//! What the commands that move money through the sandbox share: the
//! parsers of `--sandbox-latency` and `--claim-timeout`, and who a worker
//! is in the claims it holds (`charge` and `correct apply` both claim).

use std::time::Duration;

use billing::{InvalidId, WorkerId};

use crate::time::parse_duration;

/// The longest `--sandbox-latency`: a real processor that took longer would
/// have timed out; a larger value (`9999999m`) is a slip, refused rather
/// than a run that sleeps for years.
const MAX_SANDBOX_LATENCY: Duration = Duration::from_secs(60);

/// A sandbox latency: a duration of at most [`MAX_SANDBOX_LATENCY`].
pub(crate) fn parse_latency(text: &str) -> Result<Duration, String> {
    match parse_duration(text) {
        Ok(latency) if latency > MAX_SANDBOX_LATENCY => {
            Err(format!("{text} is above the longest sandbox latency, 1m"))
        }
        Ok(latency) => Ok(latency),
        Err(error) => Err(error.to_string()),
    }
}

/// A claim's lease: a duration, and not zero (a claim that runs out at
/// once would let every worker collect every invoice).
pub(crate) fn parse_lease(text: &str) -> Result<Duration, String> {
    match parse_duration(text) {
        Ok(lease) if lease.is_zero() => Err("a claim must last longer than 0".to_owned()),
        Ok(lease) => Ok(lease),
        Err(error) => Err(error.to_string()),
    }
}

/// This worker's default id: `hostname:pid`, unique among the workers
/// sharing a run whatever host each runs on.
fn default_worker() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

/// A nonce of this run, eight hex digits: a worker's id in its claims is its
/// name and this nonce, so two live workers given one name (a copied unit
/// file, containers whose hostname and pid are the same) never take each
/// other's claims for their own and send every request twice. The name
/// still says whose a claim is; the nonce says which run.
fn run_nonce() -> String {
    use std::io::Read as _;
    let mut bytes = [0_u8; 4];
    let random =
        std::fs::File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut bytes));
    if random.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        bytes = fallback_nonce(nanos, std::process::id()).to_le_bytes();
    }
    format!("{:08x}", u32::from_le_bytes(bytes))
}

/// The nonce without a random device: the clock's nanoseconds and the
/// process id mixed, so two processes started in the same nanosecond, or
/// with the same pid in two containers at other instants, still differ.
fn fallback_nonce(nanos: u32, pid: u32) -> u32 {
    nanos ^ pid.rotate_left(16)
}

/// This worker's id in its claims: `name` (else `hostname:pid`) and a
/// nonce of this run, `name/1a2b3c4d`.
pub(crate) fn worker_id(name: Option<&str>) -> Result<WorkerId, InvalidId> {
    let name = name.map_or_else(default_worker, str::to_owned);
    WorkerId::new(name).and_then(|name| WorkerId::new(format!("{name}/{}", run_nonce())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_is_named_after_its_host_and_process() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(
            default_worker(),
            format!("{}:{}", host.trim(), std::process::id())
        );
    }

    #[test]
    fn each_run_has_a_nonce_of_its_own() {
        let (one, two) = (run_nonce(), run_nonce());
        assert_eq!(one.len(), 8);
        assert!(one.bytes().all(|byte| byte.is_ascii_hexdigit()), "{one}");
        assert_ne!(one, two, "two runs share a name, never a nonce");
    }

    #[test]
    fn without_a_random_device_two_pids_or_two_instants_give_two_nonces() {
        for nanos in [0, 999_999_999, u32::MAX] {
            assert_ne!(fallback_nonce(nanos, 4242), fallback_nonce(nanos, 4243));
        }
        for pid in [0, 1, u32::MAX] {
            assert_ne!(fallback_nonce(0, pid), fallback_nonce(1, pid));
        }
    }

    #[test]
    fn a_sandbox_latency_is_at_most_a_minute() {
        assert_eq!(parse_latency("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_latency("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(
            parse_latency("61s"),
            Err("61s is above the longest sandbox latency, 1m".to_owned())
        );
        assert!(parse_latency("soon").is_err());
    }

    #[test]
    fn a_claim_must_last_longer_than_zero() {
        assert_eq!(parse_lease("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(
            parse_lease("0"),
            Err("a claim must last longer than 0".to_owned())
        );
        assert!(parse_lease("1h").is_err());
    }

    #[test]
    fn a_worker_id_is_its_name_and_a_nonce_and_a_blank_name_is_refused() {
        let id = worker_id(Some("w1")).unwrap();
        assert!(id.as_str().starts_with("w1/"), "{id}");
        assert_eq!(id.as_str().len(), "w1/".len() + 8);
        assert!(worker_id(Some(" ")).is_err());
        assert!(worker_id(None).unwrap().as_str().contains(':'));
    }
}
