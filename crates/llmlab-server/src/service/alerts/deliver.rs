//! Sending one alert to one channel: an HTTP POST (signed per Standard
//! Webhooks for the generic webhook) or an email through the configured
//! SMTP server. The caller records the outcome and schedules retries.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use llmlab_api::ChannelKind;
use sha2::Sha256;

use super::payload::{self, Outgoing};
use super::target::{check_url, resolver};
use crate::state::{AlertSettings, SmtpSettings, SmtpTls};

/// How long one delivery attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most of an error response's body kept in the log.
const ERROR_BODY_MAX: usize = 300;

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt {
    Delivered {
        status: Option<u16>,
    },
    /// Worth trying again (down, 5xx, 429, a timeout…).
    Failed {
        status: Option<u16>,
        error: String,
    },
    /// Never going to work (no SMTP server configured, an address the
    /// server refuses for good): give up now.
    Permanent {
        status: Option<u16>,
        error: String,
    },
}

/// A generic webhook's signing secret: `whsec_` and 32 random bytes in base64.
#[must_use]
pub fn new_signing_secret() -> String {
    use rand::TryRngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("the operating system's random source works");
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The Standard Webhooks signature of `body`: `v1,` and the base64
/// HMAC-SHA256 of `{id}.{timestamp}.{body}`, keyed with the secret's bytes.
#[must_use]
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap_or_else(|_| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Sends alerts: one HTTP client (guarded resolver, no redirects) and the SMTP settings.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    settings: AlertSettings,
}

impl Sender {
    #[must_use]
    pub fn new(settings: &AlertSettings) -> Sender {
        let http = reqwest::Client::builder()
            .dns_resolver(resolver(settings.allow_private))
            // A redirect could point anywhere, past the checks.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ATTEMPT_TIMEOUT)
            .user_agent(concat!("LLMLab-Alerts/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the alert HTTP client builds");
        Sender { http, settings: settings.clone() }
    }

    /// Sends `alert` to a channel of `kind` at `target` (opened), signing
    /// with `secret` for generic webhooks.
    pub async fn send(&self, kind: ChannelKind, target: &str, secret: Option<&str>, alert: &Outgoing<'_>) -> Attempt {
        match kind {
            ChannelKind::Email => self.email(target, alert).await,
            ChannelKind::Webhook => {
                let body = payload::webhook(alert);
                self.post(target, &body, alert.id, secret).await
            }
            ChannelKind::Slack => self.post(target, &payload::slack(alert), alert.id, None).await,
            ChannelKind::Discord => self.post(target, &payload::discord(alert), alert.id, None).await,
        }
    }

    async fn post(&self, target: &str, body: &serde_json::Value, id: &str, secret: Option<&str>) -> Attempt {
        // Checked again: the setting may have changed since the channel was added.
        if let Err(error) = check_url(target, self.settings.allow_private) {
            return Attempt::Permanent { status: None, error: error.to_string() };
        }
        let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
        let mut request = self.http.post(target).header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = secret {
            let timestamp = jiff::Timestamp::now().as_second();
            request = request
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", sign(secret, id, timestamp, &bytes));
        }
        match request.body(bytes).send().await {
            Ok(response) if response.status().is_success() => {
                Attempt::Delivered { status: Some(response.status().as_u16()) }
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let text: String = text.chars().take(ERROR_BODY_MAX).collect();
                Attempt::Failed { status: Some(status.as_u16()), error: format!("HTTP {status}: {}", text.trim()) }
            }
            Err(error) => Attempt::Failed { status: None, error: describe_http_error(error) },
        }
    }

    async fn email(&self, to: &str, alert: &Outgoing<'_>) -> Attempt {
        let Some(smtp) = &self.settings.smtp else {
            return Attempt::Failed {
                status: None,
                error: "no SMTP server is configured: set LLMLAB_SMTP_HOST and LLMLAB_SMTP_FROM (see `llmlab serve --help`)".to_owned(),
            };
        };
        let (subject, text) = payload::email(alert);
        let message = match build_email(smtp, to, &subject, &text, alert.id) {
            Ok(message) => message,
            Err(error) => return Attempt::Permanent { status: None, error },
        };
        let transport = match transport(smtp) {
            Ok(transport) => transport,
            Err(error) => return Attempt::Failed { status: None, error: format!("SMTP {}: {error}", smtp.host) },
        };
        match transport.send(message).await {
            Ok(response) => Attempt::Delivered { status: response.code().to_string().parse().ok() },
            Err(error) => {
                let status = error.status().and_then(|code| code.to_string().parse().ok());
                let error_text = format!("SMTP {}: {error}", smtp.host);
                if error.is_permanent() {
                    Attempt::Permanent { status, error: error_text }
                } else {
                    Attempt::Failed { status, error: error_text }
                }
            }
        }
    }
}

/// Checks a `From` address (`alerts@example.com` or `LLMLab <alerts@example.com>`).
pub fn check_from(from: &str) -> Result<(), String> {
    from.parse::<lettre::message::Mailbox>().map(|_| ()).map_err(|_| format!("{from:?} is not an email address"))
}

/// An email with a `Message-ID` made from the alert's id, so a mail client
/// sees a retry of the same alert as the same message.
fn build_email(smtp: &SmtpSettings, to: &str, subject: &str, text: &str, id: &str) -> Result<lettre::Message, String> {
    let from: lettre::message::Mailbox =
        smtp.from.parse().map_err(|e| format!("LLMLAB_SMTP_FROM {:?}: {e}", smtp.from))?;
    let to: lettre::message::Mailbox = to.parse().map_err(|e| format!("{to:?} is not an email address: {e}"))?;
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{id}@llmlab>")))
        .header(ContentType::TEXT_PLAIN)
        .body(text.to_owned())
        .map_err(|e| e.to_string())
}

fn transport(smtp: &SmtpSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    let builder = match smtp.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
    };
    let mut builder = builder.port(smtp.port).timeout(Some(ATTEMPT_TIMEOUT));
    if let (Some(user), Some(password)) = (&smtp.user, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// A one-line reason for a failed request, without the URL (it is a secret).
fn describe_http_error(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.len() > ERROR_BODY_MAX {
        text.truncate(
            text.char_indices().take_while(|(i, _)| *i < ERROR_BODY_MAX).last().map_or(0, |(i, c)| i + c.len_utf8()),
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        // The example in the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_whsec_and_32_bytes() {
        let secret = new_signing_secret();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&secret[6..]).unwrap().len(), 32);
        assert_ne!(secret, new_signing_secret());
    }
}
