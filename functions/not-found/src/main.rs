//! Lambda function `not-found`: every request that matches no route (API Gateway's `$default`
//! route, the local router's catch-all), answered 404 in the error body of the path's facade.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    pocketbook::edge::not_found::run(pocketbook::actions::error_shape_of).await
}
