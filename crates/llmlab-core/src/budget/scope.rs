//! What a budget counts: every call of the account, or only the calls of one
//! project, one API key or one tag value. The one place that decides whether
//! a call falls under a budget, used alike when an event is stored, when a
//! budget is counted from stored events, and when the proxy reserves.

use std::collections::BTreeMap;
use std::fmt;

use super::BudgetError;

/// A budget's scope, with its target.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Every call of the account.
    Account,
    /// Calls recorded in this project.
    Project(String),
    /// Calls made with this API key (its public id, `llm_…`).
    Key(String),
    /// Calls whose tag `key` has exactly this `value`.
    Tag { key: String, value: String },
}

/// What a call says about itself that a scope can match.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallLabels<'a> {
    pub project: &'a str,
    /// The public id of the API key it was recorded with, if known.
    pub api_key: Option<&'a str>,
    pub tags: Option<&'a BTreeMap<String, String>>,
}

impl Scope {
    /// Reads a scope from its stored form: the kind (`account`, `project`,
    /// `key`, `tag`) and its target (`""` for the account, `key=value` for a tag).
    ///
    /// # Errors
    /// [`BudgetError::InvalidScope`] for an unknown kind, a missing target,
    /// a target on the account scope, or a tag without `=`.
    pub fn parse(kind: &str, target: &str) -> Result<Scope, BudgetError> {
        let needs_target = |what: &str| -> Result<String, BudgetError> {
            let target = target.trim();
            if target.is_empty() {
                return Err(BudgetError::InvalidScope(format!("a `{kind}` budget needs {what}")));
            }
            Ok(target.to_owned())
        };
        match kind {
            "account" if target.trim().is_empty() => Ok(Scope::Account),
            "account" => Err(BudgetError::InvalidScope("an `account` budget has no target".to_owned())),
            "project" => Ok(Scope::Project(needs_target("a project name")?)),
            "key" => Ok(Scope::Key(needs_target("an API key")?)),
            "tag" => {
                let pair = needs_target("a tag as `key=value`")?;
                match pair.split_once('=') {
                    Some((key, value)) if !key.trim().is_empty() => {
                        Ok(Scope::Tag { key: key.trim().to_owned(), value: value.trim().to_owned() })
                    }
                    _ => Err(BudgetError::InvalidScope(format!(
                        "`{pair}` is not a tag; write it as `key=value`, e.g. `customer=acme`"
                    ))),
                }
            }
            other => Err(BudgetError::InvalidScope(format!(
                "`{other}` is not a budget scope; use `account`, `project`, `key` or `tag`"
            ))),
        }
    }

    /// The kind's wire name: `account`, `project`, `key` or `tag`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::Project(_) => "project",
            Scope::Key(_) => "key",
            Scope::Tag { .. } => "tag",
        }
    }

    /// The stored target: `""` for the account, `key=value` for a tag.
    #[must_use]
    pub fn target(&self) -> String {
        match self {
            Scope::Account => String::new(),
            Scope::Project(name) => name.clone(),
            Scope::Key(key) => key.clone(),
            Scope::Tag { key, value } => format!("{key}={value}"),
        }
    }

    /// Whether a call with these labels counts against the budget.
    #[must_use]
    pub fn covers(&self, call: &CallLabels<'_>) -> bool {
        match self {
            Scope::Account => true,
            Scope::Project(name) => call.project == name,
            Scope::Key(key) => call.api_key == Some(key.as_str()),
            Scope::Tag { key, value } => call.tags.and_then(|tags| tags.get(key)).is_some_and(|v| v == value),
        }
    }

    /// True when deciding needs the call's tags (so callers parse them only then).
    #[must_use]
    pub fn needs_tags(&self) -> bool {
        matches!(self, Scope::Tag { .. })
    }
}

impl fmt::Display for Scope {
    /// `the account`, `project search`, `key llm_ab12cd34`, `tag customer=acme`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Account => f.write_str("the account"),
            other => write!(f, "{} {}", other.kind(), other.target()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn scopes_round_trip_through_their_stored_form() {
        for (kind, target) in
            [("account", ""), ("project", "search"), ("key", "llm_ab12cd34"), ("tag", "customer=acme")]
        {
            let scope = Scope::parse(kind, target).unwrap();
            assert_eq!((scope.kind(), scope.target().as_str()), (kind, target));
        }
        assert_eq!(Scope::parse("tag", "team = search").unwrap().target(), "team=search");
        assert_eq!(Scope::parse("tag", "empty=").unwrap(), Scope::Tag { key: "empty".into(), value: String::new() });
    }

    #[test]
    fn bad_scopes_name_the_problem() {
        let message = |kind: &str, target: &str| Scope::parse(kind, target).unwrap_err().to_string();
        assert!(message("team", "x").contains("`team` is not a budget scope"));
        assert!(message("project", " ").contains("needs a project name"));
        assert!(message("tag", "acme").contains("`acme` is not a tag"));
        assert!(message("tag", "=acme").contains("is not a tag"));
        assert!(message("account", "x").contains("has no target"));
    }

    #[test]
    fn each_scope_covers_only_its_calls() {
        let acme = tags(&[("customer", "acme"), ("team", "search")]);
        let other = tags(&[("customer", "acme-2")]);
        let call = CallLabels { project: "search", api_key: Some("llm_aaaa1111"), tags: Some(&acme) };
        let untagged = CallLabels { project: "default", api_key: None, tags: None };
        let other_tagged = CallLabels { project: "search", api_key: Some("llm_bbbb2222"), tags: Some(&other) };
        let tag = Scope::parse("tag", "customer=acme").unwrap();
        let key = Scope::Key("llm_aaaa1111".into());
        let project = Scope::Project("search".into());
        assert!(Scope::Account.covers(&call) && Scope::Account.covers(&untagged));
        assert!(tag.covers(&call) && !tag.covers(&untagged) && !tag.covers(&other_tagged));
        assert!(key.covers(&call) && !key.covers(&untagged) && !key.covers(&other_tagged));
        assert!(project.covers(&call) && !project.covers(&untagged) && project.covers(&other_tagged));
        assert_eq!(tag.to_string(), "tag customer=acme");
        assert_eq!(Scope::Account.to_string(), "the account");
    }
}
