//! Helpers shared by the rules: generation checks and a view of JSON conditions.

use serde_json::Value;

use super::Readiness;

/// `InProgress` when the controller has not yet observed `generation`; an absent observed
/// generation counts as not observed (the status predates the controller's first look).
pub(super) fn stale(generation: Option<i64>, observed: Option<i64>) -> Option<Readiness> {
    let generation = generation?;
    match observed {
        Some(o) if o >= generation => None,
        Some(o) => Some(Readiness::in_progress(format!(
            "waiting for the controller to observe generation {generation} (status is for generation {o})"
        ))),
        None => Some(Readiness::in_progress(format!(
            "waiting for the controller to observe generation {generation}"
        ))),
    }
}

/// `text`, followed by ` (reason: message)` when the controller said more.
pub(super) fn with_detail(text: String, reason: Option<&str>, message: Option<&str>) -> String {
    match explain(reason, message) {
        Some(detail) => format!("{text} ({detail})"),
        None => text,
    }
}

/// `reason: message`, either part alone, or `None` when both are empty.
pub(super) fn explain(reason: Option<&str>, message: Option<&str>) -> Option<String> {
    let reason = reason.filter(|s| !s.is_empty());
    let message = message.filter(|s| !s.is_empty());
    match (reason, message) {
        (Some(r), Some(m)) => Some(format!("{r}: {m}")),
        (Some(r), None) => Some(r.to_string()),
        (None, Some(m)) => Some(m.to_string()),
        (None, None) => None,
    }
}

/// One entry of `status.conditions` in a JSON object.
#[derive(Debug, Clone, Copy)]
pub(super) struct Condition<'a> {
    pub type_: &'a str,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub message: Option<&'a str>,
    pub observed_generation: Option<i64>,
}

impl Condition<'_> {
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// `metadata.generation` of a JSON object.
pub(super) fn generation(obj: &Value) -> Option<i64> {
    obj.get("metadata")?.get("generation")?.as_i64()
}

/// `status.observedGeneration` of a JSON object.
pub(super) fn observed_generation(obj: &Value) -> Option<i64> {
    obj.get("status")?.get("observedGeneration")?.as_i64()
}

/// `status.conditions` of a JSON object; entries without a string `type` are skipped.
pub(super) fn conditions(obj: &Value) -> Vec<Condition<'_>> {
    let Some(list) = obj
        .get("status")
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|c| {
            let str_of = |k: &str| c.get(k).and_then(Value::as_str);
            Some(Condition {
                type_: str_of("type")?,
                status: str_of("status").unwrap_or("Unknown"),
                reason: str_of("reason"),
                message: str_of("message"),
                observed_generation: c.get("observedGeneration").and_then(Value::as_i64),
            })
        })
        .collect()
}

/// `InProgress` when the object's status, or the deciding condition, is for an older generation.
///
/// Unlike [`stale`], an absent observed generation is not taken as stale: many kinds never
/// report one.
pub(super) fn stale_json(obj: &Value, deciding: Option<&Condition<'_>>) -> Option<Readiness> {
    let generation = generation(obj)?;
    [
        observed_generation(obj),
        deciding.and_then(|c| c.observed_generation),
    ]
    .into_iter()
    .flatten()
    .find_map(|observed| stale(Some(generation), Some(observed)))
}
