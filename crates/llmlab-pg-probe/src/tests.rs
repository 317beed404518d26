//! Tests named `…_on_postgres` need the local PostgreSQL (trust auth, as
//! `.ci/run` starts it); `cargo dev test` leaves them out when it cannot use it.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const SHORT: Duration = Duration::from_secs(5);

async fn probed(url: &str, timeout: Duration) -> Unusable {
    probe(Service::Postgres, url, timeout).await.expect_err("the probe fails")
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    listener.local_addr().expect("an address").port()
}

/// A server that accepts the connection, skips an SSL request, reads the
/// startup message and answers with one `ErrorResponse`, as PostgreSQL does
/// when it refuses a login (`code`: the SQLSTATE).
async fn refusing_server(code: &'static str, message: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a client");
        loop {
            let length = socket.read_u32().await.expect("a message length");
            let mut body = vec![0; length as usize - 4];
            socket.read_exact(&mut body).await.expect("the message");
            // 80877103: the SSL request code; `N`: no TLS here.
            if body[..4] == 80_877_103_u32.to_be_bytes() {
                socket.write_all(b"N").await.expect("a reply");
                continue;
            }
            break;
        }
        let mut fields = Vec::new();
        for (tag, value) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', code), (b'M', message)] {
            fields.push(tag);
            fields.extend_from_slice(value.as_bytes());
            fields.push(0);
        }
        fields.push(0);
        let mut reply = vec![b'E'];
        reply.extend_from_slice(&(u32::try_from(fields.len()).expect("a short message") + 4).to_be_bytes());
        reply.extend_from_slice(&fields);
        socket.write_all(&reply).await.expect("the error");
        let _ = socket.read(&mut [0; 64]).await;
    });
    port
}

#[tokio::test]
async fn a_closed_port_is_refused() {
    let port = closed_port().await;
    let unusable = probed(&format!("postgres://postgres@127.0.0.1:{port}/postgres"), SHORT).await;
    assert_eq!(unusable.failure(), &Failure::Refused);
    assert_eq!(
        unusable.to_string(),
        format!(
            "PostgreSQL at 127.0.0.1:{port} refused the connection (nothing listens there): start PostgreSQL, \
             or set LLMLAB_TEST_PG_URL=postgres://USER:PASSWORD@HOST:PORT/DB"
        )
    );
}

#[tokio::test]
async fn an_unknown_host_is_named() {
    let unusable = probed("postgres://postgres@llmlab-no-such-host.invalid:5432/postgres", SHORT).await;
    assert_eq!(unusable.failure(), &Failure::UnknownHost);
    assert!(unusable.to_string().starts_with("PostgreSQL host `llmlab-no-such-host.invalid` is unknown"), "{unusable}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let port = listener.local_addr().expect("an address").port();
    let _held = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("a client");
        tokio::time::sleep(Duration::from_mins(1)).await;
        drop(socket);
    });
    let unusable = probed(&format!("postgres://postgres@127.0.0.1:{port}/postgres"), Duration::from_millis(300)).await;
    assert_eq!(unusable.failure(), &Failure::Timeout(Duration::from_millis(300)));
    assert!(unusable.to_string().contains(&format!("127.0.0.1:{port} did not answer within 0.3 s")), "{unusable}");
}

#[tokio::test]
async fn a_refused_passwordless_user_is_told_how_to_give_one() {
    let port = refusing_server("28P01", "password authentication failed for user \"postgres\"").await;
    let unusable = probed(&format!("postgres://postgres@127.0.0.1:{port}/postgres"), SHORT).await;
    assert!(matches!(unusable.failure(), Failure::Authentication(_)), "{unusable:?}");
    assert_eq!(
        unusable.to_string(),
        format!(
            "PostgreSQL at 127.0.0.1:{port} refused the passwordless user `postgres` (password authentication failed \
             for user \"postgres\"): set LLMLAB_TEST_PG_URL=postgres://USER:PASSWORD@HOST:PORT/DB, or run \
             `cargo dev test` with PostgreSQL's trust auth for `postgres`"
        )
    );
}

#[tokio::test]
async fn a_refused_password_is_never_printed() {
    let port = refusing_server("28P01", "password authentication failed for user \"alice\"").await;
    let unusable = probed(&format!("postgres://alice:s3cret-pw@127.0.0.1:{port}/app"), SHORT).await;
    let line = unusable.to_string();
    assert!(line.contains("refused user `alice` with the password given"), "{line}");
    assert!(!line.contains("s3cret-pw"), "{line}");
}

#[tokio::test]
async fn a_pgbouncer_failure_names_its_own_variable() {
    let port = closed_port().await;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres?pgbouncer=true");
    let unusable = probe(Service::PgBouncer, &url, SHORT).await.expect_err("nothing listens");
    assert_eq!(
        unusable.to_string(),
        format!(
            "PgBouncer at 127.0.0.1:{port} refused the connection (nothing listens there): start PgBouncer, \
             or set LLMLAB_TEST_PGBOUNCER_URL=postgres://USER:PASSWORD@HOST:PORT/DB?pgbouncer=true"
        )
    );
}

#[tokio::test]
async fn a_url_that_does_not_parse_is_not_echoed() {
    let unusable = probed("postgres://alice:s3cret@host:notaport/db", SHORT).await;
    assert!(matches!(unusable.failure(), Failure::InvalidUrl(_)), "{unusable:?}");
    let line = unusable.to_string();
    assert!(line.starts_with("LLMLAB_TEST_PG_URL is not a PostgreSQL URL ("), "{line}");
    assert!(!line.contains("s3cret"), "{line}");
}

#[test]
fn a_password_is_seen_only_in_the_user_part() {
    assert!(password_in_url("postgres://u:p@h:5432/db"));
    assert!(!password_in_url("postgres://u@h:5432/db"));
    assert!(!password_in_url("postgres://h:5432/db?user=u"));
    assert!(!password_in_url("postgres://u@h/db?x=a:b@c"));
}

#[test]
fn the_pooler_flag_is_removed_wherever_it_stands() {
    assert_eq!(without_pooler_flag("postgres://h/db?pgbouncer=true"), "postgres://h/db");
    assert_eq!(without_pooler_flag("postgres://h/db?pgbouncer=true&a=1"), "postgres://h/db?a=1");
    assert_eq!(without_pooler_flag("postgres://h/db?a=1&pgbouncer=true"), "postgres://h/db?a=1");
}

fn local_postgres() -> String {
    Service::Postgres.url()
}

/// `url` with its user replaced (everything before `@` after the scheme).
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{host}")
}

#[tokio::test]
async fn the_local_server_is_usable_on_postgres() {
    probe(Service::Postgres, &local_postgres(), SHORT).await.expect("the tests' PostgreSQL is usable");
}

#[tokio::test]
async fn an_unknown_user_is_not_let_in_on_postgres() {
    let unusable = probed(&with_user(&local_postgres(), "llmlab_no_such_role"), SHORT).await;
    let Failure::NotAllowed(why) = unusable.failure() else { panic!("not a refusal: {unusable:?}") };
    assert!(why.contains("llmlab_no_such_role"), "{why}");
    assert!(unusable.to_string().contains("does not let user `llmlab_no_such_role` in"), "{unusable}");
}

#[tokio::test]
async fn a_missing_database_is_named_on_postgres() {
    let url = local_postgres();
    let base = url.split('?').next().unwrap_or(&url);
    let prefix = base.rsplit_once('/').map_or(base, |(prefix, _)| prefix);
    let unusable = probed(&format!("{prefix}/llmlab_no_such_database"), SHORT).await;
    assert_eq!(unusable.failure(), &Failure::NoDatabase);
    assert!(unusable.to_string().contains("has no database `llmlab_no_such_database`: create it"), "{unusable}");
}
