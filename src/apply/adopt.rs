//! Taking over an object from another deploy tool right before applying it: the request side of
//! [`crate::plan::ownership`] (which managers, which `managedFields`), callable by any stage that
//! applies (charts adopting objects last managed by Helm included).

use kube::Client;

use crate::cluster::{self, Failure, RetryPolicy, Target};
pub use crate::plan::ownership::{Adopted, LAST_APPLIED, TOOL_MANAGERS};
use crate::plan::ownership::{adoption_patch, has_last_applied, tool_managers_of};

/// Takes over the live object `name` at `target` for `own_manager`: reads it, and if deploy
/// tools own fields of it (or it carries `last-applied-configuration`), patches its
/// `managedFields` as kubectl's client-side → server-side upgrade does. Retried when another
/// writer got there first. Call it right before the server-side apply.
pub async fn adopt(
    client: &Client,
    policy: RetryPolicy,
    target: &Target,
    name: &str,
    own_manager: &str,
) -> Result<Adopted, Failure> {
    const ATTEMPTS: usize = 3;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(live) = cluster::get(client, policy, target, name).await? else {
            return Ok(Adopted::default());
        };
        let Some(patch) = adoption_patch(&live, own_manager) else {
            return Ok(Adopted::default());
        };
        match cluster::merge_patch(client, policy, target, name, &patch, own_manager).await {
            Ok(_) => {
                return Ok(Adopted {
                    managers: tool_managers_of(&live, own_manager),
                    dropped_last_applied: has_last_applied(&live),
                });
            }
            Err(f) if f.is_conflict() && attempt < ATTEMPTS => continue,
            Err(f) => return Err(f),
        }
    }
}
