//! Resource quantities and what a pod requests.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};

/// Parses a Kubernetes quantity ("500m", "1Gi", "2", "1e3") into thousandths of a unit.
pub fn parse_milli(q: &str) -> Option<i128> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let (mantissa, exponent) = if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
        (number, exp.parse::<i32>().ok()?)
    } else {
        let exp = match suffix {
            "" => 0,
            "n" => -9,
            "u" => -6,
            "m" => -3,
            "k" => 3,
            "M" => 6,
            "G" => 9,
            "T" => 12,
            "P" => 15,
            "E" => 18,
            _ => {
                let power = match suffix {
                    "Ki" => 1,
                    "Mi" => 2,
                    "Gi" => 3,
                    "Ti" => 4,
                    "Pi" => 5,
                    "Ei" => 6,
                    _ => return None,
                };
                let value: f64 = number.parse().ok()?;
                return Some((value * 1024f64.powi(power) * 1000.0).ceil() as i128);
            }
        };
        (number, exp)
    };
    let value: f64 = mantissa.parse().ok()?;
    Some((value * 10f64.powi(exponent + 3)).ceil() as i128)
}

/// Resource requests in thousandths, by resource name.
pub type Requests = BTreeMap<String, i128>;

fn container_requests(c: &Container) -> Requests {
    let mut out = Requests::new();
    if let Some(requests) = c.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        for (name, q) in requests {
            if let Some(v) = parse_milli(&q.0) {
                out.insert(name.clone(), v);
            }
        }
    }
    out
}

/// What the scheduler reserves for a pod: the larger of the app containers' sum and any single
/// init container, plus the pod overhead; and one pod.
pub fn pod_requests(pod: &Pod) -> Requests {
    let mut total = Requests::new();
    let Some(spec) = pod.spec.as_ref() else {
        return total;
    };
    for c in &spec.containers {
        for (k, v) in container_requests(c) {
            *total.entry(k).or_insert(0) += v;
        }
    }
    for c in spec.init_containers.iter().flatten() {
        for (k, v) in container_requests(c) {
            let entry = total.entry(k).or_insert(0);
            *entry = (*entry).max(v);
        }
    }
    for (k, q) in spec.overhead.iter().flatten() {
        if let Some(v) = parse_milli(&q.0) {
            *total.entry(k.clone()).or_insert(0) += v;
        }
    }
    total.insert("pods".into(), 1000);
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_to_thousandths() {
        assert_eq!(parse_milli("500m"), Some(500));
        assert_eq!(parse_milli("2"), Some(2000));
        assert_eq!(parse_milli("1Ki"), Some(1_024_000));
        assert_eq!(parse_milli("32Gi"), Some(32 * (1i128 << 30) * 1000));
        assert_eq!(parse_milli("1e3"), Some(1_000_000));
        assert_eq!(parse_milli("1.5"), Some(1500));
        assert_eq!(parse_milli("129M"), Some(129_000_000_000));
        assert_eq!(parse_milli("bogus"), None);
    }

    #[test]
    fn init_containers_count_by_their_maximum() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {
                "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "3"}}}],
                "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
                    {"name": "b", "resources": {"requests": {"cpu": "500m"}}}
                ]
            }
        }))
        .unwrap();
        let r = pod_requests(&pod);
        assert_eq!(r["cpu"], 3000);
        assert_eq!(r["memory"], (1i128 << 30) * 1000);
        assert_eq!(r["pods"], 1000);
    }
}
