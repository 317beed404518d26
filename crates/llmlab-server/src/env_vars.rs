//! Every environment variable `llmlab serve` reads, declared once (as uv's
//! `EnvVars`): the flags take their `env` names from here, `llmlab serve
//! --help` lists them from here, and a test checks that the deployment guide
//! documents each one.

/// One environment variable of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvVar {
    pub name: &'static str,
    /// The flag it stands in for, if any.
    pub flag: Option<&'static str>,
    /// What it sets, for `--help` and the docs.
    pub about: &'static str,
}

/// The server's environment variables.
pub struct ServerEnvVars;

impl ServerEnvVars {
    pub const LLMLAB_HOST: &'static str = "LLMLAB_HOST";
    pub const LLMLAB_PORT: &'static str = "LLMLAB_PORT";
    pub const DATABASE_URL: &'static str = "DATABASE_URL";
    pub const LLMLAB_SECURE_COOKIES: &'static str = "LLMLAB_SECURE_COOKIES";
    pub const LLMLAB_SIGNUP: &'static str = "LLMLAB_SIGNUP";
    pub const LLMLAB_ADMIN_TOKEN: &'static str = "LLMLAB_ADMIN_TOKEN";
    pub const LLMLAB_AUTH_RATE_LIMIT: &'static str = "LLMLAB_AUTH_RATE_LIMIT";
    pub const LLMLAB_TRUST_PROXY_HEADERS: &'static str = "LLMLAB_TRUST_PROXY_HEADERS";
    pub const LLMLAB_UPSTREAM_OPENAI: &'static str = "LLMLAB_UPSTREAM_OPENAI";
    pub const LLMLAB_UPSTREAM_ANTHROPIC: &'static str = "LLMLAB_UPSTREAM_ANTHROPIC";
    pub const LLMLAB_UPSTREAM_GEMINI: &'static str = "LLMLAB_UPSTREAM_GEMINI";
    pub const LLMLAB_UPSTREAM_TIMEOUT: &'static str = "LLMLAB_UPSTREAM_TIMEOUT";
    pub const LLMLAB_PROXY_INCLUDE_USAGE: &'static str = "LLMLAB_PROXY_INCLUDE_USAGE";
    pub const LLMLAB_BUDGET_HOLD_TTL: &'static str = "LLMLAB_BUDGET_HOLD_TTL";
    pub const LLMLAB_ALERTS_ALLOW_PRIVATE: &'static str = "LLMLAB_ALERTS_ALLOW_PRIVATE";
    pub const LLMLAB_ALERTS_RETRY_BASE: &'static str = "LLMLAB_ALERTS_RETRY_BASE";
    pub const LLMLAB_PUBLIC_URL: &'static str = "LLMLAB_PUBLIC_URL";
    pub const LLMLAB_SECRET_KEY: &'static str = "LLMLAB_SECRET_KEY";
    pub const LLMLAB_SECRET_KEY_FILE: &'static str = "LLMLAB_SECRET_KEY_FILE";
    pub const LLMLAB_SECRET_KEY_PREVIOUS: &'static str = "LLMLAB_SECRET_KEY_PREVIOUS";
    pub const LLMLAB_SMTP_HOST: &'static str = "LLMLAB_SMTP_HOST";
    pub const LLMLAB_SMTP_PORT: &'static str = "LLMLAB_SMTP_PORT";
    pub const LLMLAB_SMTP_TLS: &'static str = "LLMLAB_SMTP_TLS";
    pub const LLMLAB_SMTP_USER: &'static str = "LLMLAB_SMTP_USER";
    pub const LLMLAB_SMTP_PASSWORD: &'static str = "LLMLAB_SMTP_PASSWORD";
    pub const LLMLAB_SMTP_FROM: &'static str = "LLMLAB_SMTP_FROM";
    pub const LLMLAB_REPORT_SYNC_INTERVAL: &'static str = "LLMLAB_REPORT_SYNC_INTERVAL";
    pub const LLMLAB_DRIFT_ALERT_PERCENT: &'static str = "LLMLAB_DRIFT_ALERT_PERCENT";
    pub const LLMLAB_DRIFT_ALERT_USD: &'static str = "LLMLAB_DRIFT_ALERT_USD";
    pub const LLMLAB_LOG: &'static str = "LLMLAB_LOG";
    pub const LLMLAB_LOG_FORMAT: &'static str = "LLMLAB_LOG_FORMAT";

    /// Every variable, in the order `--help` lists them.
    pub const ALL: &'static [EnvVar] = &[
        EnvVar { name: Self::LLMLAB_HOST, flag: Some("--host"), about: "the address to listen on" },
        EnvVar { name: Self::LLMLAB_PORT, flag: Some("--port"), about: "the port to listen on" },
        EnvVar {
            name: Self::DATABASE_URL,
            flag: Some("--database-url"),
            about: "the database (`sqlite://PATH` or `postgres://…`)",
        },
        EnvVar {
            name: Self::LLMLAB_SECURE_COOKIES,
            flag: Some("--secure-cookies"),
            about: "`true` to mark the session cookie `Secure` (behind HTTPS)",
        },
        EnvVar {
            name: Self::LLMLAB_SIGNUP,
            flag: Some("--signup"),
            about: "who may sign up: `open`, `closed` or `invite` (default: open on loopback, closed otherwise)",
        },
        EnvVar {
            name: Self::LLMLAB_ADMIN_TOKEN,
            flag: None,
            about: "the admin token that creates accounts and invites (default: generated at first start, shown once)",
        },
        EnvVar {
            name: Self::LLMLAB_AUTH_RATE_LIMIT,
            flag: Some("--auth-rate-limit"),
            about: "sign-up and sign-in attempts per client address, e.g. `10/min` (the default) or `off`",
        },
        EnvVar {
            name: Self::LLMLAB_TRUST_PROXY_HEADERS,
            flag: Some("--trust-proxy-headers"),
            about: "`true` to take the client address from `X-Forwarded-For` (behind a reverse proxy)",
        },
        EnvVar {
            name: Self::LLMLAB_UPSTREAM_OPENAI,
            flag: Some("--upstream-openai"),
            about: "where the proxy forwards OpenAI calls",
        },
        EnvVar {
            name: Self::LLMLAB_UPSTREAM_ANTHROPIC,
            flag: Some("--upstream-anthropic"),
            about: "where the proxy forwards Anthropic calls",
        },
        EnvVar {
            name: Self::LLMLAB_UPSTREAM_GEMINI,
            flag: Some("--upstream-gemini"),
            about: "where the proxy forwards Gemini calls",
        },
        EnvVar {
            name: Self::LLMLAB_UPSTREAM_TIMEOUT,
            flag: Some("--upstream-timeout"),
            about: "seconds the proxy waits for an upstream's response headers",
        },
        EnvVar {
            name: Self::LLMLAB_PROXY_INCLUDE_USAGE,
            flag: Some("--proxy-include-usage"),
            about: "`true` to ask OpenAI chat streams for their usage",
        },
        EnvVar {
            name: Self::LLMLAB_BUDGET_HOLD_TTL,
            flag: Some("--budget-hold-ttl"),
            about: "seconds a hard budget holds a call's cost when its event never comes",
        },
        EnvVar {
            name: Self::LLMLAB_ALERTS_ALLOW_PRIVATE,
            flag: Some("--alerts-allow-private"),
            about: "`1` to let alert webhooks target private and loopback addresses",
        },
        EnvVar {
            name: Self::LLMLAB_ALERTS_RETRY_BASE,
            flag: Some("--alerts-retry-base"),
            about: "seconds before an alert delivery is first retried (doubling after)",
        },
        EnvVar {
            name: Self::LLMLAB_PUBLIC_URL,
            flag: Some("--public-url"),
            about: "the server's address as users reach it, for links in alerts",
        },
        EnvVar {
            name: Self::LLMLAB_SECRET_KEY,
            flag: None,
            about: "the server key sealing alert channels' secrets (32 bytes, base64); same on every replica",
        },
        EnvVar {
            name: Self::LLMLAB_SECRET_KEY_FILE,
            flag: Some("--secret-key-file"),
            about: "where the server key is kept when LLMLAB_SECRET_KEY is unset (generated on first start)",
        },
        EnvVar {
            name: Self::LLMLAB_SECRET_KEY_PREVIOUS,
            flag: None,
            about: "earlier server keys, comma-separated, while rotating (secrets are sealed again)",
        },
        EnvVar {
            name: Self::LLMLAB_SMTP_HOST,
            flag: Some("--smtp-host"),
            about: "the SMTP server email alerts go through",
        },
        EnvVar {
            name: Self::LLMLAB_SMTP_PORT,
            flag: Some("--smtp-port"),
            about: "its port (default 587; 465 with `tls`)",
        },
        EnvVar {
            name: Self::LLMLAB_SMTP_TLS,
            flag: Some("--smtp-tls"),
            about: "`starttls` (default), `tls` or `none`",
        },
        EnvVar { name: Self::LLMLAB_SMTP_USER, flag: Some("--smtp-user"), about: "the SMTP user name" },
        EnvVar { name: Self::LLMLAB_SMTP_PASSWORD, flag: None, about: "the SMTP password (environment only)" },
        EnvVar { name: Self::LLMLAB_SMTP_FROM, flag: Some("--smtp-from"), about: "the From address of alert emails" },
        EnvVar {
            name: Self::LLMLAB_REPORT_SYNC_INTERVAL,
            flag: Some("--report-sync-interval"),
            about: "seconds between two syncs of every provider report connection (default 3600), or `off`",
        },
        EnvVar {
            name: Self::LLMLAB_DRIFT_ALERT_PERCENT,
            flag: Some("--drift-alert-percent"),
            about: "a day's tracked-vs-billed drift alerts above this share of the bill (default 5)…",
        },
        EnvVar {
            name: Self::LLMLAB_DRIFT_ALERT_USD,
            flag: Some("--drift-alert-usd"),
            about: "…and above this many dollars (default 1)",
        },
        EnvVar {
            name: Self::LLMLAB_LOG,
            flag: None,
            about: "log filter, e.g. `info` (default) or `llmlab_server=debug`",
        },
        EnvVar { name: Self::LLMLAB_LOG_FORMAT, flag: None, about: "`json` for one JSON object per log line" },
    ];

    /// The `Environment:` block of `llmlab serve --help`.
    #[must_use]
    pub fn help() -> String {
        let width = Self::ALL.iter().map(|v| v.name.len()).max().unwrap_or(0);
        let lines: Vec<String> = Self::ALL.iter().map(|v| format!("  {:width$}  {}", v.name, v.about)).collect();
        format!("Environment:\n{}", lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployment_guide_documents_every_variable() {
        let guide = include_str!("../../../docs/deployment.md");
        for var in ServerEnvVars::ALL {
            assert!(guide.contains(&format!("`{}", var.name)), "docs/deployment.md does not mention `{}`", var.name);
            if let Some(flag) = var.flag {
                assert!(guide.contains(&format!("`{flag}`")), "docs/deployment.md does not mention `{flag}`");
            }
        }
    }

    #[test]
    fn help_lists_every_variable() {
        let help = ServerEnvVars::help();
        for var in ServerEnvVars::ALL {
            assert!(help.contains(var.name), "{help}");
        }
    }
}
