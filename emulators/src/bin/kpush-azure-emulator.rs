//! Runs the emulators with a demo directory, for trying kpush by hand.
//!
//! `kpush-azure-emulator [--port N] [--cluster-server URL --cluster-ca FILE]`

use anyhow::{Context, bail};
use kpush_azure_emulator::{
    App, Cluster, Config, Emulator, FederatedCredential, KUBELOGIN_CLIENT_ID, Principal, Role,
    RoleAssignment, Tenant,
};

const TENANT: &str = "72f988bf-0000-4000-8000-000000000001";
const SUBSCRIPTION: &str = "00000000-0000-4000-8000-0000000000aa";
const CLIENT_ID: &str = "11111111-0000-4000-8000-000000000001";
const CLIENT_SECRET: &str = "demo-secret";
const SP_OID: &str = "22222222-0000-4000-8000-000000000001";
const USER_OID: &str = "33333333-0000-4000-8000-000000000001";

fn main() -> anyhow::Result<()> {
    let mut port = 0u16;
    let mut server = None;
    let mut ca = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().context("--port needs a value")?.parse()?,
            "--cluster-server" => {
                server = Some(args.next().context("--cluster-server needs a URL")?)
            }
            "--cluster-ca" => ca = Some(args.next().context("--cluster-ca needs a file")?),
            "-h" | "--help" => {
                println!(
                    "usage: kpush-azure-emulator [--port N] [--cluster-server URL --cluster-ca FILE]"
                );
                return Ok(());
            }
            other => bail!("unknown argument {other}; try --help"),
        }
    }
    let ca_pem = match &ca {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => String::new(),
    };
    let mut app = App::with_secret(CLIENT_ID, CLIENT_SECRET);
    app.federated_credentials.push(FederatedCredential::github(
        "repo:contoso/app:ref:refs/heads/main",
    ));
    let config = Config {
        tenants: vec![Tenant {
            id: TENANT.into(),
            apps: vec![app, App::public(KUBELOGIN_CLIENT_ID)],
            principals: vec![
                Principal::service(SP_OID, CLIENT_ID, &["aks-deployers"]),
                Principal::user(USER_OID, "dev@contoso.example", &["aks-deployers"]),
            ],
        }],
        clusters: vec![Cluster {
            subscription: SUBSCRIPTION.into(),
            resource_group: "rg-demo".into(),
            name: "aks-demo".into(),
            server: server.unwrap_or_else(|| "https://127.0.0.1:6443".into()),
            ca_pem,
            entra_enabled: true,
            local_accounts_disabled: true,
            admin_client_cert: None,
            user_client_cert: None,
            tenant: TENANT.into(),
        }],
        role_assignments: vec![RoleAssignment {
            principal_id: "aks-deployers".into(),
            role: Role::ClusterUser,
            scope: format!("/subscriptions/{SUBSCRIPTION}"),
        }],
        ..Config::default()
    };
    let emulator = Emulator::start_on(config, port)?;
    let url = emulator.url();
    println!("kpush Azure emulator listening on {url}");
    println!("CA file:            {}", emulator.ca_file().display());
    println!("authority host:     {url}");
    println!("ARM endpoint:       {url}");
    println!(
        "tenant:             {TENANT} (issuer {})",
        emulator.tenant_issuer(TENANT)
    );
    println!("client id/secret:   {CLIENT_ID} / {CLIENT_SECRET}");
    println!(
        "GitHub OIDC:        ACTIONS_ID_TOKEN_REQUEST_URL={}",
        emulator.github_request_url()
    );
    println!(
        "                    ACTIONS_ID_TOKEN_REQUEST_TOKEN={}",
        emulator.github_request_token()
    );
    println!(
        "Azure DevOps OIDC:  SYSTEM_OIDCREQUESTURI={}",
        emulator.ado_oidc_url()
    );
    println!(
        "cluster:            /subscriptions/{SUBSCRIPTION}/resourceGroups/rg-demo/providers/Microsoft.ContainerService/managedClusters/aks-demo"
    );
    println!("Press Ctrl-C to stop.");
    loop {
        std::thread::park();
    }
}
