//! Many clients, one balance: the lock serialises them, nothing is lost or doubled.

use pocketbook::domain::checksum;
use pocketbook::domain::names::{BalanceId, ProjectId};
use pocketbook_tests::{AppOptions, TestApp};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_decs_of_one_on_twenty_leave_exactly_zero() {
    let app = Arc::new(TestApp::spawn_with(AppOptions::default().instances(16)).await);
    let id = app.new_balance().await;
    assert_eq!(app.operate(&id, json!({"amount": 20, "type": "INC"})).await.status, 200);

    let mut clients = Vec::new();
    for _ in 0..64 {
        let (app, id) = (Arc::clone(&app), id.clone());
        clients.push(tokio::spawn(async move {
            let mut busy = 0;
            loop {
                let answer = app.operate(&id, json!({"amount": 1, "type": "DEC"})).await;
                if answer.status != 429 {
                    return (answer.status, busy);
                }
                // The client's side of BALANCE_BUSY: back off and try again.
                busy += 1;
                assert_eq!(answer.header("retry-after"), Some("1"));
                tokio::time::sleep(Duration::from_millis(20 + rand::random::<u64>() % 50)).await;
            }
        }));
    }
    let mut statuses = Vec::new();
    for client in clients {
        statuses.push(client.await.unwrap());
    }
    let succeeded = statuses.iter().filter(|(status, _)| *status == 200).count();
    let refused = statuses.iter().filter(|(status, _)| *status == 422).count();
    assert_eq!((succeeded, refused), (20, 44), "{statuses:?}");

    let balance = app.send("GET", &format!("/balances/{id}"), None).await.body;
    assert_eq!(balance["balanceAmount"], json!(0));
    assert_eq!(balance["transactionsCount"], 21);
    assert_eq!(balance["transactionInProgress"], false);
    let history = app.all_transactions(&id, "asc", 7).await;
    assert_eq!(history.len(), 21);
    for (i, entry) in history.iter().enumerate().skip(1) {
        assert_eq!(entry["balanceAfter"], json!(20 - i as i64), "each DEC saw the one before it");
    }

    let project = ProjectId::parse(&app.project).unwrap();
    let balance_id = BalanceId::parse(&id).unwrap();
    let head = app.store.read_head(&project, balance_id).await.unwrap().unwrap();
    let stored = app.store.full_history(&project, balance_id).await.unwrap();
    assert_eq!(checksum::verify(balance_id, &stored, &head.balance.checksum), Ok(21), "the chain verifies");
}
