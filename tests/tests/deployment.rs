//! The deployable pieces agree with the code: `template.yaml`, the local router in
//! `Cargo.toml`, the function packages and the route table in `pocketbook::actions`.

use pocketbook::actions::ROUTES;
use pocketbook::store::schema;
use pocketbook_tests::local_dynamodb::workspace_root;
use pocketbook_tests::TestApp;
use serde_json::json;
use serde_yaml::Value;
use std::collections::BTreeSet;

fn template() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value:?}"))
}

fn function_packages() -> BTreeSet<String> {
    std::fs::read_dir(workspace_root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// (binary, method, path) of every HttpApi event of every function in the template.
fn template_routes(template: &Value) -> BTreeSet<(String, String, String)> {
    let mut routes = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]).to_owned();
        for (_, event) in resource["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if event["Type"] == "HttpApi" {
                let properties = &event["Properties"];
                routes.insert((
                    binary.clone(),
                    text(&properties["Method"]).to_owned(),
                    text(&properties["Path"]).to_owned(),
                ));
            }
        }
    }
    routes
}

fn code_routes() -> BTreeSet<(String, String, String)> {
    ROUTES.iter().map(|r| (r.function.to_owned(), r.method.to_owned(), r.path.to_owned())).collect()
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
}

#[test]
fn the_local_router_serves_the_same_routes() {
    let manifest: toml::Table = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap().parse().unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"].as_table().unwrap();
    let mut routes = BTreeSet::new();
    for (path, targets) in router {
        for target in targets.as_array().unwrap() {
            routes.insert((
                target["function"].as_str().unwrap().to_owned(),
                target["method"].as_str().unwrap().to_owned(),
                path.clone(),
            ));
        }
    }
    assert_eq!(routes, code_routes());
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
