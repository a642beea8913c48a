//! The local DynamoDB the tests run against: `AWS_ENDPOINT_URL_DYNAMODB` when it is set (for
//! example DynamoDB Local, or `make dev`'s server), else one serialised moto server per test
//! process, started on first use and gone when the process exits (it watches our pipe).

use pocketbook::store::CallCounter;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

struct Server {
    endpoint: String,
    // Held open for the life of the process: moto exits when this pipe closes.
    _child: Mutex<Child>,
}

static SERVER: OnceLock<Server> = OnceLock::new();

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The endpoint of the local DynamoDB, starting it if needed.
pub fn endpoint() -> String {
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        if !endpoint.is_empty() {
            return endpoint;
        }
    }
    SERVER.get_or_init(start).endpoint.clone()
}

fn start() -> Server {
    let root = workspace_root();
    let python =
        std::env::var("POCKETBOOK_PYTHON").map(PathBuf::from).unwrap_or_else(|_| root.join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} not found: run `make test` (it creates the project's virtualenv with moto), \
         or set AWS_ENDPOINT_URL_DYNAMODB",
        python.display()
    );
    let port_file = std::env::temp_dir().join(format!("pocketbook-ddb-{}.port", uuid::Uuid::new_v4()));
    let mut child = Command::new(python)
        .arg(root.join("scripts/local_dynamodb.py"))
        .args(["--port", "0", "--exit-with-stdin", "--port-file"])
        .arg(&port_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the local DynamoDB");
    // The server prints one line once it listens; the port file is written just before.
    let stdout = child.stdout.take().expect("moto stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("local DynamoDB starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let port = loop {
        if let Ok(port) = std::fs::read_to_string(&port_file) {
            break port.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "local DynamoDB did not write its port file: {line}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = std::fs::remove_file(&port_file);
    Server { endpoint: format!("http://127.0.0.1:{port}"), _child: Mutex::new(child) }
}

/// A client for the local DynamoDB, for test setup.
pub async fn client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    client_counting(endpoint, CallCounter::default())
}

/// A client that counts its round trips, as the functions' clients do.
pub fn client_counting(endpoint: &str, calls: CallCounter) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .interceptor(calls)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}
