//! The deployable pieces agree with the code: `template.yaml`, `openapi.yaml`, the local
//! router in `Cargo.toml`, the function packages and the route table in `pocketbook::actions`.

use pocketbook::actions::{NOT_FOUND_FUNCTION, ROUTES};
use pocketbook::store::schema;
use pocketbook_tests::local_dynamodb::workspace_root;
use pocketbook_tests::TestApp;
use serde_json::json;
use serde_yaml::Value;
use std::collections::BTreeSet;

fn yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(workspace_root().join(file)).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn template() -> Value {
    yaml("template.yaml")
}

/// The template's functions: (logical id, resource).
fn functions(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .map(|(id, resource)| (text(id).to_owned(), resource.clone()))
        .collect()
}

fn function(template: &Value, binary: &str) -> Value {
    functions(template)
        .into_iter()
        .map(|(_, resource)| resource)
        .find(|resource| resource["Metadata"]["BuildProperties"]["Binary"] == binary)
        .unwrap_or_else(|| panic!("no function {binary} in the template"))
}

/// The DynamoDB actions a function's policies allow, and on what.
fn dynamodb_grants(resource: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut actions, mut targets) = (BTreeSet::new(), BTreeSet::new());
    for policy in resource["Properties"]["Policies"].as_sequence().into_iter().flatten() {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            actions.extend(statement["Action"].as_sequence().unwrap().iter().map(|a| text(a).to_owned()));
            targets.insert(intrinsic(&statement["Resource"]));
        }
    }
    (actions, targets)
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value:?}"))
}

/// A short-form intrinsic function as written: `!Ref LedgerTable`, `!GetAtt Queue.Arn`.
fn intrinsic(value: &Value) -> String {
    match value {
        Value::Tagged(tagged) => format!("{} {}", tagged.tag, text(&tagged.value)),
        other => panic!("not an intrinsic function: {other:?}"),
    }
}

/// The resource a `!GetAtt Resource.Attribute` points at.
fn get_att_resource(value: &Value) -> String {
    let written = intrinsic(value);
    let target = written.strip_prefix("!GetAtt ").unwrap_or_else(|| panic!("not a !GetAtt: {written}"));
    target.split('.').next().unwrap_or_default().to_owned()
}

fn function_packages() -> BTreeSet<String> {
    std::fs::read_dir(workspace_root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// (binary, method, path) of every HttpApi event of every function in the template, but the
/// `$default` route (an event with neither path nor method: see [`default_route`]).
fn template_routes(template: &Value) -> BTreeSet<(String, String, String)> {
    http_events(template)
        .into_iter()
        .filter(|(_, properties)| !properties["Path"].is_null())
        .map(|(binary, properties)| {
            (binary, text(&properties["Method"]).to_owned(), text(&properties["Path"]).to_owned())
        })
        .collect()
}

/// (binary, event properties) of every HttpApi event in the template.
fn http_events(template: &Value) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    for (_, resource) in functions(template) {
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned();
        for (_, event) in resource["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if event["Type"] == "HttpApi" {
                events.push((binary.clone(), event["Properties"].clone()));
            }
        }
    }
    events
}

/// The functions behind API Gateway's `$default` route, with the event's properties.
fn default_route(template: &Value) -> Vec<(String, Value)> {
    http_events(template).into_iter().filter(|(_, properties)| properties["Path"].is_null()).collect()
}

/// (method, path) of every operation in openapi.yaml.
fn openapi_routes() -> BTreeSet<(String, String)> {
    let document = yaml("openapi.yaml");
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let method = text(method);
            if ["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method) {
                routes.insert((method.to_uppercase(), text(path).to_owned()));
            }
        }
    }
    routes
}

fn code_routes() -> BTreeSet<(String, String, String)> {
    ROUTES.iter().map(|r| (r.function.to_owned(), r.method.to_owned(), r.path.to_owned())).collect()
}

/// (method, path) of the routes reached without an API key.
fn public_routes() -> BTreeSet<(String, String)> {
    ROUTES.iter().filter(|r| r.public).map(|r| (r.method.to_owned(), r.path.to_owned())).collect()
}

#[test]
fn the_template_declares_the_table_the_code_creates() {
    let template = template();
    let table = &template["Resources"]["LedgerTable"]["Properties"];
    let keys: Vec<(String, String)> = table["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| (text(&k["AttributeName"]).to_owned(), text(&k["KeyType"]).to_owned()))
        .collect();
    let expected: Vec<(String, String)> =
        schema::KEY_SCHEMA.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    assert_eq!(keys, expected);
    for definition in table["AttributeDefinitions"].as_sequence().unwrap() {
        assert_eq!(text(&definition["AttributeType"]), schema::ATTRIBUTE_TYPE);
    }
    assert_eq!(text(&table["BillingMode"]), schema::BILLING_MODE);
    assert_eq!(text(&table["TimeToLiveSpecification"]["AttributeName"]), schema::TTL_ATTRIBUTE);
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], Value::Bool(true));
    assert_eq!(text(&table["StreamSpecification"]["StreamViewType"]), "NEW_AND_OLD_IMAGES");
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], Value::Bool(true));
    assert_eq!(table["DeletionProtectionEnabled"], Value::Bool(true));
}

#[test]
fn every_function_package_is_deployed_and_every_route_is_in_the_code() {
    let template = template();
    let mut binaries = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] == "AWS::Serverless::Function" {
            assert_eq!(text(&resource["Metadata"]["BuildMethod"]), "rust-cargolambda");
            binaries.insert(text(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned());
        }
    }
    assert_eq!(binaries, function_packages(), "one template function per package under functions/");
    assert_eq!(template_routes(&template), code_routes(), "template routes = the actions' routes");
    let default: Vec<String> = default_route(&template).into_iter().map(|(binary, _)| binary).collect();
    assert_eq!(default, [NOT_FOUND_FUNCTION], "one $default route, to the function for unknown routes");
}

#[test]
fn every_route_of_the_template_is_in_the_openapi_document_and_the_reverse() {
    let template: BTreeSet<(String, String)> =
        template_routes(&template()).into_iter().map(|(_, method, path)| (method, path)).collect();
    assert_eq!(template, openapi_routes());
}

#[test]
fn the_functions_run_on_graviton_under_the_api_gateway_timeout_with_the_table_in_their_environment() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(text(&globals["Runtime"]), "provided.al2023");
    assert_eq!(globals["Architectures"], serde_yaml::from_str::<Value>("[arm64]").unwrap());
    assert_eq!(text(&globals["Handler"]), "bootstrap");
    assert!(globals["Timeout"].as_u64().unwrap() < 30, "API Gateway gives up after 30 s");
    assert_eq!(text(&globals["Tracing"]), "Active");
    assert_eq!(intrinsic(&globals["Environment"]["Variables"]["TABLE_NAME"]), "!Ref LedgerTable");
    for (id, resource) in functions(&template) {
        if let Some(timeout) = resource["Properties"]["Timeout"].as_u64() {
            assert!(timeout < 30, "{id}: API Gateway gives up after 30 s");
        }
        let (actions, targets) = dynamodb_grants(&resource);
        if resource["Metadata"]["BuildProperties"]["Binary"] == NOT_FOUND_FUNCTION {
            assert!(resource["Properties"]["Policies"].is_null(), "{id}: answers from the path alone, touches nothing");
            continue;
        }
        assert!(actions.iter().all(|a| a.starts_with("dynamodb:")), "{id}: only DynamoDB actions: {actions:?}");
        assert!(!actions.iter().any(|a| a.contains('*') || a == "dynamodb:Scan"), "{id}: {actions:?}");
        assert_eq!(targets, BTreeSet::from(["!GetAtt LedgerTable.Arn".to_owned()]), "{id}: this table only");
    }
    // The authorizer only reads keys.
    let (actions, _) = dynamodb_grants(&function(&template, "authorizer"));
    assert_eq!(actions, BTreeSet::from(["dynamodb:GetItem".to_owned()]));
}

#[test]
fn every_route_is_behind_the_authorizer_that_caches_on_the_authorization_header() {
    let template = template();
    let auth = &template["Resources"]["HttpApi"]["Properties"]["Auth"];
    let name = text(&auth["DefaultAuthorizer"]);
    let authorizer = &auth["Authorizers"][name];
    assert_eq!(intrinsic(&authorizer["FunctionArn"]), "!GetAtt AuthorizerFunction.Arn");
    assert_eq!(text(&authorizer["AuthorizerPayloadFormatVersion"]), "2.0");
    assert_eq!(authorizer["EnableSimpleResponses"], Value::Bool(true));
    assert_eq!(authorizer["Identity"]["Headers"], serde_yaml::from_str::<Value>("[Authorization]").unwrap());
    assert_eq!(
        authorizer["Identity"]["ReauthorizeEvery"].as_u64(),
        Some(pocketbook_tests::app::AUTHORIZER_CACHE_TTL.as_secs()),
        "the local gateway caches verdicts as long as API Gateway does"
    );
    let public = public_routes();
    assert!(!public.is_empty());
    let mut opted_out = BTreeSet::new();
    // Exactly this opt-out, nothing else about authorization.
    let none: Value = serde_yaml::from_str("{Authorizer: NONE}").unwrap();
    for (id, properties) in http_events(&template) {
        assert_eq!(intrinsic(&properties["ApiId"]), "!Ref HttpApi", "{id}");
        if properties["Path"].is_null() {
            // The `$default` route answers 404 whatever the key, as API Gateway would.
            assert_eq!(properties["Auth"], none, "{id}: the $default route has no authorizer");
            continue;
        }
        let route = (text(&properties["Method"]).to_owned(), text(&properties["Path"]).to_owned());
        if public.contains(&route) {
            assert_eq!(properties["Auth"], none, "{id}: a public route has no authorizer");
            opted_out.insert(route);
        } else {
            assert!(properties["Auth"].is_null(), "{id}: only the public routes opt out of the authorizer");
        }
    }
    assert_eq!(opted_out, public, "every public action's route opts out of the authorizer");
}

/// A function that knows one gateway's HTTP provider gets the variables the configuration
/// requires together (URL, API key, callback secret), for every gateway, under the names the
/// code reads, and never as plain parameters: the secrets are dynamic references.
#[test]
fn provider_settings_reach_functions_whole_and_secrets_come_from_secrets_manager() {
    use pocketbook::domain::wallet_accounts::Gateway;
    use pocketbook::providers::http::{gateway_var, API_KEY_SUFFIX, CALLBACK_SECRET_SUFFIX, URL_SUFFIX};
    let template = template();
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    for name in [
        pocketbook::providers::http::TIMEOUT_MS,
        pocketbook::providers::http::ATTEMPTS,
        pocketbook::config::REFRESH_TIMEOUT_MS,
    ] {
        assert!(!globals[name].is_null(), "{name} is set for every function");
    }
    let mut with_providers = BTreeSet::new();
    for (id, resource) in functions(&template) {
        let variables = &resource["Properties"]["Environment"]["Variables"];
        let names: BTreeSet<String> =
            variables.as_mapping().into_iter().flatten().map(|(name, _)| text(name).to_owned()).collect();
        if !names.iter().any(|name| name.starts_with(pocketbook::providers::http::VAR_PREFIX)) {
            continue;
        }
        with_providers.insert(text(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned());
        for gateway in Gateway::ALL {
            for suffix in [URL_SUFFIX, API_KEY_SUFFIX, CALLBACK_SECRET_SUFFIX] {
                let name = gateway_var(gateway, suffix);
                assert!(names.contains(&name), "{id}: {name}");
                let written = serde_yaml::to_string(&variables[name.as_str()]).unwrap();
                if suffix != URL_SUFFIX {
                    assert!(
                        written.contains("{{resolve:secretsmanager:"),
                        "{id}: {name} is a dynamic reference: {written}"
                    );
                }
            }
        }
    }
    // The functions that ask providers, or need to know which gateways are not the sandbox's.
    let expected = [
        "create-wallet-account",
        "wallet-account-command",
        "refresh-wallet-accounts",
        "direct-debit",
        "sandbox-top-up",
        "provider-callback",
        "refund-order",
        "list-payment-methods",
        "get-wallet-account",
    ];
    assert_eq!(with_providers, expected.iter().map(|f| f.to_string()).collect());
}

#[test]
fn execute_operation_is_fed_by_a_queue_with_a_dead_letter_queue_and_by_an_eventbridge_rule() {
    let template = template();
    let events = &function(&template, "execute-operation")["Properties"]["Events"];
    let sqs: Vec<&Value> = events.as_mapping().unwrap().values().filter(|e| e["Type"] == "SQS").collect();
    assert_eq!(sqs.len(), 1);
    let sqs = &sqs[0]["Properties"];
    assert_eq!(sqs["FunctionResponseTypes"], serde_yaml::from_str::<Value>("[ReportBatchItemFailures]").unwrap());
    let queue = &template["Resources"][get_att_resource(&sqs["Queue"])]["Properties"];
    let dead_letters = get_att_resource(&queue["RedrivePolicy"]["deadLetterTargetArn"]);
    assert_eq!(template["Resources"][dead_letters.as_str()]["Type"], "AWS::SQS::Queue");
    let timeout = template["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout, "Lambda's advice for SQS sources");

    let rules: Vec<&Value> = events.as_mapping().unwrap().values().filter(|e| e["Type"] == "EventBridgeRule").collect();
    assert_eq!(rules.len(), 1);
    let detail_type = text(&rules[0]["Properties"]["Pattern"]["detail-type"][0]);
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    assert!(readme.contains(detail_type), "the README documents the detail-type {detail_type:?}");
    let outputs = template["Outputs"].as_mapping().unwrap();
    for output in ["ApiUrl", "TableName", "QueueUrl"] {
        assert!(outputs.contains_key(output), "output {output}");
    }
}

#[test]
fn the_local_router_serves_the_same_routes() {
    let manifest: toml::Table = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap().parse().unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"].as_table().unwrap();
    let (mut routes, mut unserved) = (BTreeSet::new(), BTreeSet::new());
    let mut catch_all = Vec::new();
    for (path, targets) in router {
        let Some(targets) = targets.as_array() else {
            catch_all.push((path.as_str(), targets.as_str().unwrap()));
            continue;
        };
        for target in targets {
            let (function, method) = (target["function"].as_str().unwrap(), target["method"].as_str().unwrap());
            let route = (function.to_owned(), method.to_owned(), path.clone());
            if function == NOT_FOUND_FUNCTION {
                unserved.insert((method.to_owned(), path.clone()));
            } else {
                routes.insert(route);
            }
        }
    }
    assert_eq!(routes, code_routes());
    // Every other method of a served path, and every other path, reaches `not-found`.
    let paths: BTreeSet<&str> = ROUTES.iter().map(|r| r.path).collect();
    let mut expected = BTreeSet::new();
    for path in paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if !ROUTES.iter().any(|r| r.path == path && r.method == method) {
                expected.insert((method.to_owned(), path.to_owned()));
            }
        }
    }
    assert_eq!(unserved, expected, "the other methods of each path go to {NOT_FOUND_FUNCTION}");
    assert_eq!(
        catch_all,
        [("/", NOT_FOUND_FUNCTION), ("/{*path}", NOT_FOUND_FUNCTION)],
        "every other path goes to {NOT_FOUND_FUNCTION}"
    );
}

/// `sam build` runs `cargo lambda build --release --arm64 --bin <function>` at the root, which
/// selects the default members: none of them may turn on the test hooks.
#[test]
fn sam_builds_select_no_package_that_turns_on_the_test_hooks() {
    let root = workspace_root();
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml")).unwrap().parse().unwrap();
    let workspace = manifest["workspace"].as_table().unwrap();
    let members = |key: &str| -> BTreeSet<String> {
        workspace[key].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect()
    };
    let defaults = members("default-members");
    assert!(defaults.contains("functions/*"), "every function is a default member");
    for member in members("members") {
        let dirs: Vec<_> = match member.strip_suffix("/*") {
            Some(parent) => std::fs::read_dir(root.join(parent)).unwrap().map(|e| e.unwrap().path()).collect(),
            None => vec![root.join(&member)],
        };
        for dir in dirs {
            let package: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap().parse().unwrap();
            let dependencies = package.get("dependencies").and_then(|d| d.as_table()).cloned().unwrap_or_default();
            let turns_on_hooks = dependencies.iter().any(|(name, dependency)| {
                name == "pocketbook-tests"
                    || dependency.get("features").and_then(|f| f.as_array()).is_some_and(|features| {
                        features.iter().any(|f| f.as_str().is_some_and(|f| f.contains("test-hooks")))
                    })
            });
            if turns_on_hooks {
                assert!(!defaults.contains(&member), "{} turns on the test hooks", dir.display());
            }
        }
    }
}

#[tokio::test]
async fn each_binary_runs_the_action_it_is_named_after() {
    let app = TestApp::spawn().await;
    for route in ROUTES {
        let pool = app.function(route.function);
        let (request_id, _) = pool.invoke_json(&json!({"projectId": app.project})).await.unwrap();
        assert_eq!(app.request_log(route.function, &request_id)["action"], route.function);
    }
}

#[test]
fn the_expiry_sweeper_runs_every_minute_and_may_move_money() {
    let sweeper = function(&template(), "expire-movements");
    let events: Vec<&Value> = sweeper["Properties"]["Events"].as_mapping().unwrap().values().collect();
    assert_eq!(events.len(), 1, "only its schedule invokes it");
    assert_eq!(events[0]["Type"], "ScheduleV2");
    assert_eq!(events[0]["Properties"]["ScheduleExpression"], "rate(1 minute)");
    let (actions, targets) = dynamodb_grants(&sweeper);
    for needed in
        ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    {
        assert!(actions.contains(needed), "{needed}");
    }
    assert_eq!(targets, BTreeSet::from(["!GetAtt LedgerTable.Arn".to_owned()]));
}
