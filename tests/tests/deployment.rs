//! The deployable pieces agree with the code: `template.yaml`, `openapi.yaml`, the local
//! router in `Cargo.toml`, the function packages and the route table in `pocketbook::actions`.

use pocketbook::actions::{NOT_FOUND_FUNCTION, ROUTES};
use pocketbook::store::schema;
use pocketbook_tests::local_dynamodb::workspace_root;
use pocketbook_tests::TestApp;
use serde_json::json;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};

fn yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(workspace_root().join(file)).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn template() -> Value {
    yaml("template.yaml")
}

/// The template's functions: (logical id, resource).
fn functions(template: &Value) -> Vec<(String, Value)> {
    resources_of_type(template, "AWS::Serverless::Function")
}

fn function(template: &Value, binary: &str) -> Value {
    functions(template)
        .into_iter()
        .map(|(_, resource)| resource)
        .find(|resource| resource["Metadata"]["BuildProperties"]["Binary"] == binary)
        .unwrap_or_else(|| panic!("no function {binary} in the template"))
}

/// The statements of a function's inline policies.
fn statements(resource: &Value) -> Vec<Value> {
    let policies = resource["Properties"]["Policies"].as_sequence().cloned().unwrap_or_default();
    policies.iter().flat_map(|policy| policy["Statement"].as_sequence().cloned().unwrap_or_default()).collect()
}

fn actions_of(statement: &Value) -> Vec<String> {
    statement["Action"].as_sequence().unwrap().iter().map(|a| text(a).to_owned()).collect()
}

/// What reading the table's stream takes (the stream consumer's only).
const STREAM_READ: [&str; 4] =
    ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"];

/// The wallet sort indexes (`store::wallet_sort_index`), as a policy names them: a Query on a
/// global secondary index needs a grant on the index, not only on the table.
const SORT_INDEXES_ARN: &str = "!Sub ${LedgerTable.Arn}/index/wallets-by-*";

/// The DynamoDB actions a function's policies allow on the table's items, and on what: every
/// statement but the stream's, the sort indexes' and the other services' (SQS, EventBridge).
fn dynamodb_grants(resource: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut actions, mut targets) = (BTreeSet::new(), BTreeSet::new());
    for statement in statements(resource) {
        let acts = actions_of(&statement);
        if acts.iter().all(|a| STREAM_READ.contains(&a.as_str()) || !a.starts_with("dynamodb:")) {
            continue;
        }
        if intrinsic(&statement["Resource"]) == SORT_INDEXES_ARN {
            continue;
        }
        actions.extend(acts);
        targets.insert(intrinsic(&statement["Resource"]));
    }
    (actions, targets)
}

/// (action, leading key) of every DynamoDB item action a function may take; `*` where the
/// statement has no condition (any key).
fn table_grants(resource: &Value) -> BTreeSet<(String, String)> {
    let mut grants = BTreeSet::new();
    for statement in statements(resource) {
        if intrinsic(&statement["Resource"]) != "!GetAtt LedgerTable.Arn" {
            continue;
        }
        let keys: Vec<String> =
            match statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].as_sequence() {
                Some(keys) => keys.iter().map(|k| text(k).to_owned()).collect(),
                None => {
                    assert!(statement["Condition"].is_null(), "only leading-key conditions: {statement:?}");
                    vec!["*".to_owned()]
                }
            };
        for action in actions_of(&statement) {
            grants.extend(keys.iter().map(|key| (action.clone(), key.clone())));
        }
    }
    grants
}

/// (action, resource) of every statement of a function that is not on the table's items.
fn other_grants(resource: &Value) -> BTreeSet<(String, String)> {
    let mut grants = BTreeSet::new();
    for statement in statements(resource) {
        let target = intrinsic(&statement["Resource"]);
        if target != "!GetAtt LedgerTable.Arn" {
            grants.extend(actions_of(&statement).into_iter().map(|action| (action, target.clone())));
        }
    }
    grants
}

fn pairs(grants: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    grants.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// Whether a function is invoked by API Gateway (it has a route).
fn behind_a_route(resource: &Value) -> bool {
    resource["Properties"]["Events"].as_mapping().into_iter().flatten().any(|(_, event)| event["Type"] == "HttpApi")
}

fn parameter_default<'a>(template: &'a Value, name: &str) -> &'a Value {
    let parameter = &template["Parameters"][name];
    assert!(!parameter.is_null(), "no parameter {name}");
    &parameter["Default"]
}

/// The README's section `## <title>`, up to the next one.
fn readme_section(title: &str) -> String {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let start = readme.find(&format!("\n## {title}\n")).unwrap_or_else(|| panic!("no README section {title}"));
    let section = &readme[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |end| end + 3);
    section[..end].to_owned()
}

/// The template's resources of one type: (logical id, resource).
fn resources_of_type(template: &Value, kind: &str) -> Vec<(String, Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .map(|(id, resource)| (text(id).to_owned(), resource.clone()))
        .collect()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value:?}"))
}

/// (AttributeName, `second`) of each element of a list of attributes (a key schema, the
/// attribute definitions).
fn attribute_pairs(list: &Value, second: &str) -> Vec<(String, String)> {
    let list = list.as_sequence().unwrap_or_else(|| panic!("not a list: {list:?}"));
    list.iter().map(|item| (text(&item["AttributeName"]).to_owned(), text(&item[second]).to_owned())).collect()
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
    let keys = attribute_pairs(&table["KeySchema"], "KeyType");
    let expected: Vec<(String, String)> =
        schema::KEY_SCHEMA.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    assert_eq!(keys, expected);
    let definitions = attribute_pairs(&table["AttributeDefinitions"], "AttributeType");
    let expected: Vec<(String, String)> =
        schema::attribute_definitions().iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    assert_eq!(definitions, expected, "every key attribute of the table and its indexes, with its type");
    // The wallet sort indexes: names, key schemas (in order: multi-attribute sort keys), keys only.
    let indexes: Vec<(String, Vec<(String, String)>)> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|index| {
            assert_eq!(text(&index["Projection"]["ProjectionType"]), schema::INDEX_PROJECTION, "{index:?}");
            (text(&index["IndexName"]).to_owned(), attribute_pairs(&index["KeySchema"], "KeyType"))
        })
        .collect();
    let expected: Vec<(String, Vec<(String, String)>)> = schema::global_secondary_indexes()
        .into_iter()
        .map(|(name, keys)| (name.to_owned(), keys.iter().map(|(a, t)| (a.to_string(), t.to_string())).collect()))
        .collect();
    assert_eq!(indexes, expected);
    assert!(indexes.len() <= 20, "DynamoDB allows 20 global secondary indexes per table");
    // The grant on them names them by their common prefix; only list-wallets reads them.
    let prefix = SORT_INDEXES_ARN.rsplit_once('/').map(|(_, name)| name.trim_end_matches('*')).unwrap_or_default();
    assert!(indexes.iter().all(|(name, _)| name.starts_with(prefix)), "every index is under {SORT_INDEXES_ARN}");
    let readers: Vec<String> = functions(&template)
        .into_iter()
        .filter(|(_, resource)| {
            statements(resource).iter().any(|statement| intrinsic(&statement["Resource"]) == SORT_INDEXES_ARN)
        })
        .map(|(_, resource)| text(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned())
        .collect();
    assert_eq!(readers, ["list-wallets"], "the sort indexes are read by the wallet listing alone");
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
            if behind_a_route(&resource) {
                assert!(timeout < 30, "{id}: API Gateway gives up after 30 s");
            }
        }
        let (actions, targets) = dynamodb_grants(&resource);
        if resource["Metadata"]["BuildProperties"]["Binary"] == NOT_FOUND_FUNCTION {
            assert!(resource["Properties"]["Policies"].is_null(), "{id}: answers from the path alone, touches nothing");
            continue;
        }
        assert!(actions.iter().all(|a| a.starts_with("dynamodb:")), "{id}: only DynamoDB actions: {actions:?}");
        assert!(!actions.iter().any(|a| a.contains('*') || a == "dynamodb:Scan"), "{id}: {actions:?}");
        assert_eq!(targets, BTreeSet::from(["!GetAtt LedgerTable.Arn".to_owned()]), "{id}: this table only");
        // Beside the table's items: its stream, the stack's own queues and bus, by name.
        for (action, target) in other_grants(&resource) {
            let resource_id = target.strip_prefix("!GetAtt ").and_then(|t| t.split('.').next()).unwrap_or_default();
            let kind = template["Resources"][resource_id]["Type"].as_str().unwrap_or_default();
            let allowed = match action.split(':').next() {
                Some("dynamodb") => {
                    (target == "!GetAtt LedgerTable.StreamArn" && STREAM_READ.contains(&action.as_str()))
                        || (target == SORT_INDEXES_ARN && action == "dynamodb:Query")
                }
                Some("sqs") => kind == "AWS::SQS::Queue" && !action.contains('*'),
                Some("events") => kind == "AWS::Events::EventBus" && action == "events:PutEvents",
                _ => false,
            };
            assert!(allowed, "{id}: {action} on {target}");
        }
    }
    // The authorizer reads keys, and notes their last use on their own records only.
    let (actions, _) = dynamodb_grants(&function(&template, "authorizer"));
    assert_eq!(actions, BTreeSet::from(["dynamodb:GetItem".to_owned(), "dynamodb:UpdateItem".to_owned()]));
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
    assert_eq!(intrinsic(&authorizer["Identity"]["ReauthorizeEvery"]), "!Ref AuthorizerCacheSeconds");
    assert_eq!(
        parameter_default(&template, "AuthorizerCacheSeconds").as_u64(),
        Some(pocketbook_tests::app::AUTHORIZER_CACHE_TTL.as_secs()),
        "the local gateway caches verdicts as long as API Gateway does by default"
    );
    // A revoked key keeps working for the cache's time and the functions' own key cache's; only
    // `Authorization` reaches the authorizer. The README's deploy section says both.
    let deploy = readme_section("Deploy to AWS");
    for needed in ["AuthorizerCacheSeconds", pocketbook::config::API_KEY_CACHE_SECONDS, "x-api-key"] {
        assert!(deploy.contains(needed), "the README's deploy section mentions {needed}");
    }
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

/// The longest stack name the README promises: every function is named `<stack>-<binary>`, and
/// Lambda allows 64 characters.
const STACK_NAME_MAX: usize = 38;

/// Every function writes to a log group of its own that the stack creates, names as Lambda
/// would (`/aws/lambda/<function name>`) and gives the retention parameter: no log group is
/// left for Lambda to create, without a retention, so no log is kept forever.
#[test]
fn every_function_logs_to_its_own_log_group_that_keeps_logs_as_long_as_the_parameter_says() {
    let template = template();
    assert_eq!(parameter_default(&template, "LogRetentionDays").as_u64(), Some(30));
    let mut groups = BTreeSet::new();
    for (id, resource) in functions(&template) {
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        let properties = &resource["Properties"];
        let name = format!("${{AWS::StackName}}-{binary}");
        assert_eq!(intrinsic(&properties["FunctionName"]), format!("!Sub {name}"), "{id}");
        assert!(STACK_NAME_MAX + 1 + binary.len() <= 64, "{id}: {name} may be longer than Lambda allows");
        let group = intrinsic(&properties["LoggingConfig"]["LogGroup"]);
        let group = group.strip_prefix("!Ref ").unwrap_or_else(|| panic!("{id}: its LoggingConfig names {group}"));
        let log_group = &template["Resources"][group];
        assert_eq!(log_group["Type"], "AWS::Logs::LogGroup", "{id}: {group}");
        assert_eq!(intrinsic(&log_group["Properties"]["LogGroupName"]), format!("!Sub /aws/lambda/{name}"), "{id}");
        assert_eq!(intrinsic(&log_group["Properties"]["RetentionInDays"]), "!Ref LogRetentionDays", "{id}");
        assert!(groups.insert(group.to_owned()), "{id}: {group} is another function's too");
    }
    let deploy = readme_section("Deploy to AWS");
    assert!(deploy.contains(&format!("{STACK_NAME_MAX} characters")), "the README gives the longest stack name");
}

/// What the access log of one request may carry: API Gateway's own variables about the request,
/// never a header (but the user agent), a query string (page tokens), a body, or the
/// authorizer's context (the key's project, id and sealed signing secret) but its error.
const ACCESS_LOG_VARIABLES: [&str; 14] = [
    "$context.requestId",
    "$context.requestTime",
    "$context.httpMethod",
    "$context.routeKey",
    "$context.status",
    "$context.protocol",
    "$context.responseLength",
    "$context.responseLatency",
    "$context.integrationLatency",
    "$context.integrationStatus",
    "$context.integrationErrorMessage",
    "$context.authorizer.error",
    "$context.identity.sourceIp",
    "$context.identity.userAgent",
];

#[test]
fn the_api_stage_writes_access_logs_without_headers_query_strings_or_bodies() {
    let template = template();
    let settings = &template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"];
    let group = &template["Resources"][get_att_resource(&settings["DestinationArn"]).as_str()];
    assert_eq!(group["Type"], "AWS::Logs::LogGroup");
    assert_eq!(intrinsic(&group["Properties"]["RetentionInDays"]), "!Ref LogRetentionDays");

    let format = text(&settings["Format"]);
    assert!(!format.contains('\n'), "one line per request: {format:?}");
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(format).unwrap_or_else(|e| panic!("the format is a JSON object ({e}): {format}"));
    let mut variables = BTreeSet::new();
    for (field, value) in &fields {
        // Quoted, so that a missing value (`-`) still makes JSON.
        let variable = value.as_str().unwrap_or_else(|| panic!("{field}: not a quoted variable: {value}"));
        assert!(ACCESS_LOG_VARIABLES.contains(&variable), "{field}: {variable} may not be logged");
        assert!(variables.insert(variable), "{field}: {variable} twice");
    }
    assert_eq!(format.matches('$').count(), fields.len(), "nothing but one variable per field: {format}");
    for needed in [
        "$context.requestId",
        "$context.requestTime",
        "$context.routeKey",
        "$context.status",
        "$context.protocol",
        "$context.responseLength",
        "$context.integrationLatency",
        "$context.identity.sourceIp",
        "$context.identity.userAgent",
        "$context.authorizer.error",
    ] {
        assert!(variables.contains(needed), "the access log has {needed}");
    }
    // Whatever the list above comes to say.
    let lower = format.to_ascii_lowercase();
    for forbidden in
        ["$request.", "header", "querystring", "body", "authorization", "api-key", "$input", "$stagevariables"]
    {
        assert!(!lower.contains(forbidden), "the access log format has {forbidden}: {format}");
    }
    for (at, _) in format.match_indices("$context.authorizer.") {
        assert!(format[at..].starts_with("$context.authorizer.error\""), "only the authorizer's error: {format}");
    }
}

/// The properties of the alarms on one metric (not metric math).
fn alarms_on<'a>(alarms: &'a [(String, Value)], namespace: &str, metric: &str) -> Vec<&'a Value> {
    alarms
        .iter()
        .map(|(_, alarm)| &alarm["Properties"])
        .filter(|alarm| alarm["Namespace"] == namespace && alarm["MetricName"] == metric)
        .collect()
}

/// API Gateway's own limits shield the functions (per-key limits are theirs); the alarms watch
/// the API's 5xx, Lambda's throttles and the errors no 5xx shows, and notify the topic if any.
#[test]
fn the_gateway_throttles_every_route_and_alarms_notify_the_optional_topic() {
    let template = template();
    let settings = &template["Resources"]["HttpApi"]["Properties"]["DefaultRouteSettings"];
    for (property, parameter, default) in [
        ("ThrottlingBurstLimit", "ApiThrottlingBurstLimit", 200),
        ("ThrottlingRateLimit", "ApiThrottlingRateLimit", 100),
    ] {
        assert_eq!(intrinsic(&settings[property]), format!("!Ref {parameter}"));
        assert_eq!(parameter_default(&template, parameter).as_u64(), Some(default), "{parameter}");
    }

    assert_eq!(parameter_default(&template, "AlarmTopicArn"), &Value::String(String::new()), "no topic by default");
    let parse = |text: &str| serde_yaml::from_str::<Value>(text).unwrap();
    assert_eq!(template["Conditions"]["AlarmsNotify"], parse(r#"!Not [!Equals [!Ref AlarmTopicArn, ""]]"#));
    let notify = parse("!If [AlarmsNotify, [!Ref AlarmTopicArn], !Ref AWS::NoValue]");
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    for (id, alarm) in &alarms {
        for actions in ["AlarmActions", "OKActions"] {
            assert_eq!(alarm["Properties"][actions], notify, "{id}: {actions}");
        }
        assert_eq!(alarm["Properties"]["TreatMissingData"], "notBreaching", "{id}: no traffic is no alarm");
    }
    let api_5xx = alarms_on(&alarms, "AWS/ApiGateway", "5xx");
    assert_eq!(api_5xx.len(), 1, "one alarm on the API's 5xx");
    assert_eq!(api_5xx[0]["Dimensions"], parse("[{Name: ApiId, Value: !Ref HttpApi}]"));
    assert_eq!(alarms_on(&alarms, "AWS/Lambda", "Throttles").len(), 1, "one alarm on Lambda's throttles");

    // Errors of every function something else than the API invokes, and of the authorizer.
    let by_id: BTreeMap<String, String> = functions(&template)
        .into_iter()
        .map(|(id, resource)| (id, text(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned()))
        .collect();
    let mut expected = BTreeSet::from(["authorizer".to_owned()]);
    for (_, resource) in functions(&template) {
        let events = resource["Properties"]["Events"].as_mapping().cloned().unwrap_or_default();
        if events.values().any(|event| event["Type"] != "HttpApi") {
            expected.insert(text(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned());
        }
    }
    let mut watched = BTreeSet::new();
    for (id, alarm) in &alarms {
        let Some(metrics) = alarm["Properties"]["Metrics"].as_sequence() else { continue };
        assert!(metrics.len() <= 10, "{id}: a metric math alarm takes 10 metrics at most");
        let expression = metrics.iter().find_map(|m| m["Expression"].as_str()).expect("an expression");
        for metric in metrics.iter().filter(|m| !m["MetricStat"].is_null()) {
            let stat = &metric["MetricStat"]["Metric"];
            assert_eq!((text(&stat["Namespace"]), text(&stat["MetricName"])), ("AWS/Lambda", "Errors"), "{id}");
            assert!(expression.contains(text(&metric["Id"])), "{id}: {expression} sums {}", text(&metric["Id"]));
            let function = intrinsic(&stat["Dimensions"][0]["Value"]);
            let function = function.strip_prefix("!Ref ").expect("a function of the stack");
            watched.insert(by_id[function].clone());
        }
    }
    assert_eq!(watched, expected, "the errors alarm watches the functions no 5xx speaks for");
}

/// Whether one of the function's statements allows `action` on keys starting with `prefix`
/// (a statement without a condition allows it everywhere).
fn allows_on(resource: &Value, action: &str, leading_key: &str) -> bool {
    resource["Properties"]["Policies"].as_sequence().into_iter().flatten().any(|policy| {
        policy["Statement"].as_sequence().into_iter().flatten().any(|statement| {
            let acts = statement["Action"].as_sequence().is_some_and(|a| a.iter().any(|a| text(a) == action));
            let keys = &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            acts && (statement["Condition"].is_null()
                || keys.as_sequence().is_some_and(|k| k.iter().any(|k| text(k) == leading_key)))
        })
    })
}

#[test]
fn every_function_behind_a_key_may_count_a_rate_limited_keys_requests_and_the_authorizer_may_note_a_use() {
    let template = template();
    let keyed: BTreeSet<String> = ROUTES.iter().filter(|r| !r.public).map(|r| r.function.to_owned()).collect();
    for function_name in &keyed {
        let resource = function(&template, function_name);
        assert!(
            allows_on(&resource, "dynamodb:UpdateItem", "P#*#RL#*"),
            "{function_name} cannot count a rate-limited key's requests (UpdateItem on P#*#RL#*)"
        );
    }
    assert!(allows_on(&function(&template, "authorizer"), "dynamodb:UpdateItem", "K#*"), "the authorizer's lastUsedAt");
}

/// The one event source of a function, of the given type.
fn only_event(resource: &Value, kind: &str) -> Value {
    let events: Vec<&Value> = resource["Properties"]["Events"].as_mapping().unwrap().values().collect();
    assert_eq!(events.len(), 1, "one event source");
    assert_eq!(events[0]["Type"], kind);
    events[0]["Properties"].clone()
}

/// Every function that may take `action` on `target` (a `!GetAtt` or `!Ref` as written).
fn granted_to(template: &Value, action: &str, target: &str) -> BTreeSet<String> {
    functions(template)
        .into_iter()
        .filter(|(_, resource)| other_grants(resource).contains(&(action.to_owned(), target.to_owned())))
        .map(|(_, resource)| text(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned())
        .collect()
}

#[test]
fn publish_events_reads_the_table_stream_in_order_and_hands_back_only_what_it_could_not_publish() {
    let template = template();
    let publisher = function(&template, "publish-events");
    let stream = only_event(&publisher, "DynamoDB");
    assert_eq!(intrinsic(&stream["Stream"]), "!GetAtt LedgerTable.StreamArn");
    assert_eq!(stream["StartingPosition"], "TRIM_HORIZON", "what was committed before it ran is published too");
    assert_eq!(stream["FunctionResponseTypes"], serde_yaml::from_str::<Value>("[ReportBatchItemFailures]").unwrap());
    assert_eq!(stream["BisectBatchOnFunctionError"], Value::Bool(true));
    assert_eq!(stream["ParallelizationFactor"].as_u64(), Some(1), "one batch per shard at a time keeps the order");
    let batch = stream["BatchSize"].as_u64().unwrap();
    assert!((1..=1000).contains(&batch), "{batch}");
    assert!(stream["MaximumBatchingWindowInSeconds"].as_u64().unwrap() <= 5, "events are not held back long");
    let retries = stream["MaximumRetryAttempts"].as_i64().unwrap();
    assert!((1..=100).contains(&retries), "a stuck record holds its shard back for a bounded time: {retries}");
    let age = stream["MaximumRecordAgeInSeconds"].as_i64().unwrap();
    assert!((60..=86_400).contains(&age), "within the stream's 24 hours: {age}");

    let failures = get_att_resource(&stream["DestinationConfig"]["OnFailure"]["Destination"]);
    assert_eq!(template["Resources"][failures.as_str()]["Type"], "AWS::SQS::Queue");
    let destination = format!("!GetAtt {failures}.Arn");
    assert_eq!(granted_to(&template, "sqs:SendMessage", &destination), BTreeSet::from(["publish-events".to_owned()]));
    for action in STREAM_READ {
        assert!(other_grants(&publisher).contains(&(action.to_owned(), "!GetAtt LedgerTable.StreamArn".to_owned())));
    }
    assert!(!behind_a_route(&publisher), "nothing on the request path waits for it");
    let outputs = template["Outputs"].as_mapping().unwrap();
    assert!(outputs
        .values()
        .any(|o| o["Value"] == serde_yaml::from_str::<Value>(&format!("!Ref {failures}")).unwrap()));
}

#[test]
fn the_stack_has_its_own_event_bus_and_only_publish_events_may_put_events_and_only_on_it() {
    let template = template();
    let buses = resources_of_type(&template, "AWS::Events::EventBus");
    assert_eq!(buses.len(), 1, "one bus");
    let (bus, _) = &buses[0];
    let publisher = function(&template, "publish-events");
    let variables = &publisher["Properties"]["Environment"]["Variables"];
    assert_eq!(intrinsic(&variables[pocketbook::config::EVENT_BUS_NAME]), format!("!Ref {bus}"));
    assert!(!variables[pocketbook::config::PUBLIC_URL].is_null(), "events' FPay objects carry the API's urls");
    let mut putters = BTreeSet::new();
    for (id, resource) in functions(&template) {
        for (action, target) in other_grants(&resource) {
            if action.starts_with("events:") {
                assert_eq!(
                    (action.as_str(), target.as_str()),
                    ("events:PutEvents", format!("!GetAtt {bus}.Arn").as_str()),
                    "{id}"
                );
                putters.insert(text(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned());
            }
        }
    }
    assert_eq!(putters, BTreeSet::from(["publish-events".to_owned()]));
    let outputs = template["Outputs"].as_mapping().unwrap();
    for output in ["EventBusName", "EventBusArn"] {
        assert!(outputs.contains_key(output), "output {output}");
    }
}

#[test]
fn the_delivery_queue_feeds_deliver_webhooks_with_batch_item_failures_keeps_retries_for_hours_and_has_dead_letters() {
    use pocketbook::domain::webhooks::{retry_delay, JITTER, MAX_ATTEMPTS};
    let template = template();
    let deliverer = function(&template, "deliver-webhooks");
    let source = only_event(&deliverer, "SQS");
    assert_eq!(source["FunctionResponseTypes"], serde_yaml::from_str::<Value>("[ReportBatchItemFailures]").unwrap());
    let queue_id = get_att_resource(&source["Queue"]);
    let queue = &template["Resources"][queue_id.as_str()]["Properties"];
    let dead_letters = get_att_resource(&queue["RedrivePolicy"]["deadLetterTargetArn"]);
    assert_eq!(template["Resources"][dead_letters.as_str()]["Type"], "AWS::SQS::Queue");
    assert!(
        queue["RedrivePolicy"]["maxReceiveCount"].as_u64().unwrap() > u64::from(MAX_ATTEMPTS),
        "every attempt is a receive: the dead letters take only what failed the function itself"
    );

    let timeout = deliverer["Properties"]["Timeout"].as_u64().unwrap();
    let attempt_ms = parameter_default(&template, "WebhookTimeoutMs").as_u64().unwrap();
    assert!(timeout * 1000 >= 10 * attempt_ms, "a batch of ten slow receivers fits in {timeout} s");
    assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout, "Lambda's advice for SQS sources");
    // A failed attempt hides its message for the backoff: under SQS's 12 h ceiling; the whole
    // schedule within the message's retention.
    let longest = (1..MAX_ATTEMPTS).map(|n| retry_delay(n, *JITTER.end())).max().unwrap();
    assert!(longest.as_secs() <= 12 * 3600);
    let schedule: u64 = (1..MAX_ATTEMPTS).map(|n| retry_delay(n, *JITTER.end()).as_secs()).sum();
    assert!(queue["MessageRetentionPeriod"].as_u64().unwrap() >= schedule, "{schedule} s of retries");

    let queue_ref = format!("!Ref {queue_id}");
    let queue_arn = format!("!GetAtt {queue_id}.Arn");
    for binary in ["publish-events", "redeliver-webhook", "deliver-webhooks"] {
        let variables = &function(&template, binary)["Properties"]["Environment"]["Variables"];
        assert_eq!(intrinsic(&variables[pocketbook::config::DELIVERY_QUEUE_URL]), queue_ref, "{binary}");
    }
    assert_eq!(
        granted_to(&template, "sqs:SendMessage", &queue_arn),
        BTreeSet::from(["publish-events".to_owned(), "redeliver-webhook".to_owned()]),
        "deliveries are queued by the publisher and by a redelivery only"
    );
    assert_eq!(
        other_grants(&deliverer),
        pairs(&[
            ("sqs:ReceiveMessage", queue_arn.as_str()),
            ("sqs:DeleteMessage", queue_arn.as_str()),
            ("sqs:GetQueueAttributes", queue_arn.as_str()),
            ("sqs:ChangeMessageVisibility", queue_arn.as_str()),
        ])
    );
    assert_eq!(
        intrinsic(&deliverer["Properties"]["Environment"]["Variables"][pocketbook::config::WEBHOOK_TIMEOUT_MS]),
        "!Ref WebhookTimeoutMs"
    );
}

/// The keyed functions' common grants: the rate-limited key's count, the key's lookup when no
/// authorizer context came along, a signed request's nonce.
const KEYED: [(&str, &str); 3] =
    [("dynamodb:UpdateItem", "P#*#RL#*"), ("dynamodb:GetItem", "*"), ("dynamodb:PutItem", "P#*#N#*")];

#[test]
fn the_events_and_webhook_functions_may_touch_only_the_items_they_use() {
    let template = template();
    let expected: [(&str, Vec<(&str, &str)>); 7] = [
        (
            "publish-events",
            vec![
                ("dynamodb:Query", "P#*#WH"),
                ("dynamodb:Query", "P#*#TL"),
                ("dynamodb:BatchGetItem", "P#*#B#*"),
                ("dynamodb:GetItem", "P#*#B#*"),
                ("dynamodb:PutItem", "P#*#WHD#*"),
            ],
        ),
        (
            "deliver-webhooks",
            vec![
                ("dynamodb:BatchGetItem", "P#*#WH"),
                ("dynamodb:BatchGetItem", "P#*#WHD#*"),
                ("dynamodb:GetItem", "P#*#WH"),
                ("dynamodb:GetItem", "P#*#WHD#*"),
                ("dynamodb:UpdateItem", "P#*#WHD#*"),
            ],
        ),
        (
            "create-webhook",
            [KEYED.as_slice(), &[("dynamodb:Query", "P#*#WH"), ("dynamodb:PutItem", "P#*#WH")]].concat(),
        ),
        ("list-webhooks", [KEYED.as_slice(), &[("dynamodb:Query", "P#*#WH")]].concat()),
        ("delete-webhook", [KEYED.as_slice(), &[("dynamodb:DeleteItem", "P#*#WH")]].concat()),
        ("list-webhook-deliveries", [KEYED.as_slice(), &[("dynamodb:Query", "P#*#WHD#*")]].concat()),
        ("redeliver-webhook", [KEYED.as_slice(), &[("dynamodb:UpdateItem", "P#*#WHD#*")]].concat()),
    ];
    for (binary, grants) in expected {
        assert_eq!(table_grants(&function(&template, binary)), pairs(&grants), "{binary}");
    }
    // The webhook secrets are sealed and opened with the stack's key (every function has it).
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(intrinsic(&globals[pocketbook::config::SECRETS_KEY]), "!Ref SecretsKey");
}

/// What Juspay's webhooks call the order events (`event_name`).
fn juspay_event_name(kind: pocketbook::domain::events::EventKind) -> Option<&'static str> {
    use pocketbook::domain::events::EventKind;
    match kind {
        EventKind::OrderCharged => Some("ORDER_SUCCEEDED"),
        EventKind::OrderFailed => Some("ORDER_FAILED"),
        EventKind::OrderRefunded => Some("ORDER_REFUNDED"),
        _ => None,
    }
}

/// The JSON of the README section's ```json blocks.
fn json_blocks(section: &str) -> Vec<serde_json::Value> {
    section
        .split("```json\n")
        .skip(1)
        .map(|block| {
            let body = &block[..block.find("```").expect("a closed code block")];
            serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
        })
        .collect()
}

#[test]
fn the_readme_lists_every_event_kind_with_its_detail_type_source_and_an_example_body() {
    use pocketbook::domain::events::{EventId, EventKind};
    let section = readme_section("Events and webhooks");
    let examples = json_blocks(&section);
    for kind in EventKind::ALL {
        let row = format!("| `{}` | `{}` | `{}` |", kind.as_str(), kind.detail_type(), kind.source());
        assert!(section.contains(&row), "the README's table has {row}");
        let example = examples
            .iter()
            .find(|body| match juspay_event_name(kind) {
                Some(name) => body["event_name"] == name,
                None => body["kind"] == kind.as_str(),
            })
            .unwrap_or_else(|| panic!("no example body of {}", kind.as_str()));
        let id = example["id"].as_str().unwrap_or_default();
        assert!(EventId::parse(id).is_some(), "{}: the example's id {id:?} is an event id", kind.as_str());
        if juspay_event_name(kind).is_some() {
            for field in ["date_created", "content"] {
                assert!(!example[field].is_null(), "{}: Juspay's body has {field}", kind.as_str());
            }
            assert!(example["content"]["order"]["order_id"].is_string(), "{}: the order's status", kind.as_str());
        } else {
            for field in ["project", "createdAt", "subject", "sequence", "data"] {
                assert!(!example[field].is_null(), "{}: the envelope has {field}", kind.as_str());
            }
        }
    }
    for needed in ["Pocketbook-Signature", "### Verifying a webhook delivery", "sequence", "POST /webhooks"] {
        assert!(section.contains(needed), "the section mentions {needed}");
    }
}
