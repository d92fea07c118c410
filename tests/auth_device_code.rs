//! Device-code sign-in: the prompt, the polling, and the token cache file.

mod harness;

use harness::azure::*;
use kpush::auth::{AuthMethod, AzureSettings, DeviceCodePrompt, access_token};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn with_prompt(mut settings: AzureSettings, seen: Arc<Mutex<Vec<String>>>) -> AzureSettings {
    settings.device_code_prompt = Some(Arc::new(move |p: &DeviceCodePrompt| {
        seen.lock().unwrap().push(p.user_code.clone());
        assert!(p.message.contains(&p.user_code));
    }));
    settings
}

/// Approves (or declines) the first device code that shows up.
async fn user_answers(f: &Fixture, approve: bool) {
    for _ in 0..100 {
        if let Some(code) = f.emulator.pending_user_codes().first() {
            if approve {
                f.emulator.approve_device_code(code, USER_OID).unwrap();
            } else {
                f.emulator.decline_device_code(code).unwrap();
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no device code was requested");
}

#[tokio::test]
async fn device_code_signs_in_once_then_uses_the_cache_and_refresh_token() {
    let f = start(Duration::from_secs(3600));
    let _env = EnvGuard::set(&[]).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let settings = with_prompt(f.settings(AuthMethod::DeviceCode), seen.clone());
    let (token, ()) = tokio::join!(access_token(&settings, AKS_SCOPE), user_answers(&f, true));
    let token = token.unwrap();
    let claims = f.emulator.verify_entra_token(token.secret()).unwrap();
    assert_eq!(claims["oid"], USER_OID);
    assert_eq!(claims["upn"], "dev@contoso.example");
    assert_eq!(seen.lock().unwrap().len(), 1);

    let cache = settings.token_cache_file.clone().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the token cache is private to the user");
        let dir_mode = std::fs::metadata(cache.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
    }

    // Same scope again: served from the cache file, no prompt, no request.
    let again = access_token(&settings, AKS_SCOPE).await.unwrap();
    assert_eq!(again.secret(), token.secret());
    // Another scope: the cached refresh token is used, still no prompt.
    let arm = access_token(&settings, "https://management.azure.com/.default")
        .await
        .unwrap();
    assert_eq!(
        f.emulator.verify_entra_token(arm.secret()).unwrap()["aud"],
        "https://management.azure.com"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(f.count("/oauth2/v2.0/devicecode", 200), 1);
}

#[tokio::test]
async fn declined_device_code_is_explained() {
    let f = start(Duration::from_secs(3600));
    let _env = EnvGuard::set(&[]).await;
    let settings = with_prompt(f.settings(AuthMethod::DeviceCode), Arc::default());
    let (result, ()) = tokio::join!(access_token(&settings, AKS_SCOPE), user_answers(&f, false));
    let err = result.unwrap_err();
    assert_eq!(err.aadsts_code(), Some("AADSTS70000"), "{err}");
    assert!(err.to_string().contains("sign in afresh"), "{err}");
}
