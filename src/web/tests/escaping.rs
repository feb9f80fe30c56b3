//! A hostile agent controls the statement, application_name and reason: the
//! page shows them as text, never as markup.

use axum::http::StatusCode;

use super::{write_hold, Harness};

#[tokio::test]
async fn malicious_statements_are_escaped_everywhere() {
    let h = Harness::new();
    let mut hold = write_hold(
        "/* reason: </pre><script>alert('reason')</script> */ DELETE FROM \"<img src=x onerror=alert(1)>\" WHERE note = '<script>alert(1)</script>'",
    );
    hold.application_name = "<script>alert('app')</script>".into();
    hold.reason = Some("</p><script>alert('reason')</script>".into());
    hold.params = vec![Some("<b>bold</b>".into())];
    hold.preview = Some("Delete on orders <script>x</script>".into());
    hold.tables = vec!["\"<i>t</i>\"".into()];
    let id = h.hold(hold).await;
    let b = h.sign_in("alice").await;
    for path in [
        format!("/approvals/{id}"),
        "/approvals".to_string(),
        "/approvals/queue".to_string(),
        "/approvals/history".to_string(),
    ] {
        let page = h.get(&path, Some(&b.cookie)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        for raw in ["<script>alert", "<img", "<b>bold", "<i>t"] {
            assert!(!page.body.contains(raw), "{path} contains {raw}");
        }
        assert!(page.body.contains("&lt;script&gt;"), "{path}");
    }
    let page = h.get(&format!("/approvals/{id}"), Some(&b.cookie)).await;
    assert!(page.body.contains("&lt;b&gt;bold&lt;/b&gt;"));
    assert!(page
        .body
        .contains("&lt;script&gt;alert(&#39;app&#39;)&lt;/script&gt;"));
}
