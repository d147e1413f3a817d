//! Mount the mock's behaviour on a `wiremock::MockServer` (feature `wiremock`).
//!
//! wiremock's responders are synchronous, which suits the sans-IO core: each request is handed
//! to [`Mock::handle`](crate::dispatch::Mock::handle). A `tweak` can rewrite the request before and
//! the response after, which is how the harness builds deliberately broken fakes.

use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;

use crate::dispatch::Mock;
use crate::wire::{Request, Response};

type RequestTweak = dyn Fn(Request) -> Request + Send + Sync;
type ResponseTweak = dyn Fn(&Request, Response) -> Response + Send + Sync;

/// A `wiremock::Respond` backed by the mock core.
///
/// ```no_run
/// # async fn demo() {
/// use std::sync::Arc;
/// let server = wiremock::MockServer::start().await;
/// let core = Arc::new(event_mock::Mock::new(event_mock::MockConfig::default()).unwrap());
/// wiremock::Mock::given(wiremock::matchers::any())
///     .respond_with(event_mock::wiremock_adapter::CoreResponder::new(core))
///     .mount(&server)
///     .await;
/// // Every registered API is now served under {server.uri()}, at its base path
/// # }
/// ```
#[derive(Clone)]
pub struct CoreResponder {
    mock: Arc<Mock>,
    before: Option<Arc<RequestTweak>>,
    after: Option<Arc<ResponseTweak>>,
}

impl CoreResponder {
    pub fn new(mock: Arc<Mock>) -> Self {
        Self {
            mock,
            before: None,
            after: None,
        }
    }

    /// Rewrite each request before the core sees it.
    pub fn with_request_tweak(
        mut self,
        f: impl Fn(Request) -> Request + Send + Sync + 'static,
    ) -> Self {
        self.before = Some(Arc::new(f));
        self
    }

    /// Rewrite each response after the core answered (the request is the one the core saw).
    pub fn with_response_tweak(
        mut self,
        f: impl Fn(&Request, Response) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.after = Some(Arc::new(f));
        self
    }
}

impl wiremock::Respond for CoreResponder {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let mut builder = http::Request::builder().method(request.method.clone());
        let path_and_query = match request.url.query() {
            Some(q) => format!("{}?{q}", request.url.path()),
            None => request.url.path().to_owned(),
        };
        builder = builder.uri(path_and_query);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let Ok(mut core_request) = builder.body(Bytes::from(request.body.clone())) else {
            return wiremock::ResponseTemplate::new(400);
        };
        if let Some(before) = &self.before {
            core_request = before(core_request);
        }
        let seen = clone_request(&core_request);
        let mut response = self.mock.handle(core_request);
        if let Some(after) = &self.after {
            response = after(&seen, response);
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let mut template = wiremock::ResponseTemplate::new(response.status().as_u16());
        for (name, value) in response.headers() {
            if name != CONTENT_TYPE {
                template = template.insert_header(name.as_str(), value.clone());
            }
        }
        template.set_body_raw(response.body().to_vec(), &content_type)
    }
}

fn clone_request(req: &Request) -> Request {
    let mut copy = http::Request::new(req.body().clone());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.headers_mut() = req.headers().clone();
    copy
}
