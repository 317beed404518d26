//! The page shell (head, header with navigation, footer) and the small
//! pieces every page shares: panels, code blocks, buttons.

use maud::{DOCTYPE, Markup, html};

use super::assets;

/// Which navigation entry is the current page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Nav {
    Home,
    Dashboard,
    Settings,
}

/// Classes of a primary button.
pub(super) const BUTTON: &str = "inline-flex items-center justify-center gap-2 rounded-md bg-indigo-700 px-4 py-2 text-sm \
    font-semibold text-white shadow-sm hover:bg-indigo-800 focus-visible:outline-2 focus-visible:outline-offset-2 \
    focus-visible:outline-indigo-700 disabled:opacity-60";
/// Classes of a secondary button.
pub(super) const BUTTON_SECONDARY: &str = "inline-flex items-center justify-center gap-2 rounded-md bg-white px-4 py-2 \
    text-sm font-semibold text-slate-800 shadow-sm ring-1 ring-slate-300 ring-inset hover:bg-slate-50 \
    focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-700";
/// Classes of a destructive (small) button.
pub(super) const BUTTON_DANGER: &str = "inline-flex items-center justify-center rounded-md bg-white px-3 py-1.5 text-sm \
    font-semibold text-red-700 ring-1 ring-red-300 ring-inset hover:bg-red-50 focus-visible:outline-2 \
    focus-visible:outline-offset-2 focus-visible:outline-red-700";
/// Classes of a text input.
pub(super) const INPUT: &str = "block w-full rounded-md border-0 bg-white px-3 py-2 text-slate-900 shadow-sm ring-1 \
    ring-slate-300 ring-inset placeholder:text-slate-500 focus:ring-2 focus:ring-indigo-700 focus:outline-none \
    aria-invalid:ring-red-600 sm:text-sm";
/// Classes of a form label.
pub(super) const LABEL: &str = "block text-sm font-medium text-slate-800";
/// Classes of a link in running text.
pub(super) const LINK: &str = "font-medium text-indigo-700 underline decoration-indigo-300 underline-offset-2 \
    hover:decoration-indigo-700 focus-visible:outline-2 focus-visible:outline-indigo-700";

/// Classes of a table's header cell and data cell (settings tables).
pub(super) const TH: &str = "px-2 py-2 font-medium first:pl-0";
pub(super) const TD: &str = "px-2 py-2 first:pl-0";

/// A settings section's heading and its introduction.
pub(super) fn heading(id: &str, title: &str, intro: &Markup) -> Markup {
    html! {
        h2 id=(id) class="text-lg font-semibold" { (title) }
        p class="mt-1 text-sm text-slate-600" { (intro) }
    }
}

/// The error line of a form, filled by the script.
pub(super) fn form_error(id: &str) -> Markup {
    html! { p id=(id) data-error class="text-sm font-medium text-red-700" role="alert" hidden {} }
}

/// A whole page. `signed_in` shows the sign-out button.
#[must_use]
pub(super) fn page(title: &str, nav: Nav, signed_in: bool, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" class="bg-slate-50" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light";
                meta name="description" content="LLMLab: exact cost tracking for OpenAI, Anthropic and Gemini calls, with budgets and savings tips. Self-hosted.";
                title { (title) " · LLMLab" }
                link rel="icon" type="image/svg+xml" href=(assets::url("favicon.svg"));
                link rel="stylesheet" href=(assets::url("app.css"));
                script type="module" src=(assets::url("app.js")) {}
            }
            body class="flex min-h-screen flex-col bg-slate-50 text-slate-900 antialiased" {
                a href="#main" class="sr-only rounded-md bg-white px-3 py-2 font-semibold text-indigo-800 focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-50" {
                    "Skip to content"
                }
                header class="border-b border-slate-200 bg-white" {
                    div class="mx-auto flex max-w-6xl flex-wrap items-center gap-x-6 gap-y-1 px-4 py-2 sm:py-3" {
                        a href="/" class="order-1 flex items-center gap-2 rounded text-lg font-bold tracking-tight text-slate-900 focus-visible:outline-2 focus-visible:outline-indigo-700" {
                            (logo())
                            "LLMLab"
                        }
                        nav aria-label="Main" class="order-3 -ml-3 flex w-full items-center gap-1 text-sm sm:order-2 sm:ml-0 sm:w-auto sm:flex-1" {
                            (nav_link("/dashboard", "Dashboard", nav == Nav::Dashboard))
                            (nav_link("/settings", "Settings", nav == Nav::Settings))
                            (nav_link("/api/openapi.json", "API", false))
                        }
                        @if signed_in {
                            div class="order-2 ml-auto flex items-center gap-3 sm:order-3" {
                                span id="live-status" class="text-xs text-slate-600" role="status" {}
                                button type="button" id="sign-out" class=(BUTTON_SECONDARY) { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" class="mx-auto w-full max-w-6xl flex-1 px-4 py-6 focus:outline-none" {
                    @if signed_in {
                        noscript {
                            p class="mb-4 rounded-md bg-amber-50 p-3 text-sm text-amber-900 ring-1 ring-amber-200" {
                                "JavaScript is off: the figures are as of this page load, and the settings forms need it."
                            }
                        }
                    }
                    (body)
                }
                footer class="border-t border-slate-200 bg-white" {
                    div class="mx-auto max-w-6xl px-4 py-4 text-xs text-slate-600" {
                        "LLMLab " (env!("CARGO_PKG_VERSION")) ": free, open source, self-hosted. Your data stays on this server."
                    }
                }
            }
        }
    }
}

fn nav_link(href: &str, label: &str, current: bool) -> Markup {
    html! {
        a href=(href) aria-current=[current.then_some("page")]
            class={ "rounded-md px-3 py-2 font-medium focus-visible:outline-2 focus-visible:outline-indigo-700 "
                (if current { "bg-indigo-50 text-indigo-800" } else { "text-slate-700 hover:bg-slate-100 hover:text-slate-900" }) } {
            (label)
        }
    }
}

/// The logo mark (decorative).
fn logo() -> Markup {
    html! {
        svg class="h-7 w-7" viewBox="0 0 32 32" aria-hidden="true" focusable="false" {
            rect width="32" height="32" rx="7" class="fill-indigo-700" {}
            path d="M9 22V10M9 22h7M19 22v-6M23 22v-9" class="stroke-white" stroke-width="3" stroke-linecap="round" fill="none" {}
        }
    }
}

/// A titled panel. `id` names the heading, for `aria-labelledby`.
#[must_use]
pub(super) fn panel(id: &str, title: &str, body: &Markup) -> Markup {
    html! {
        div class="rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200 sm:p-5" {
            h2 id=(id) class="text-base font-semibold text-slate-900" { (title) }
            div class="mt-3" { (body) }
        }
    }
}

/// A block of code or shell commands. Its label and Copy button sit in a bar
/// above the code, so the button never covers the end of a line.
#[must_use]
pub(super) fn code(id: &str, label: &str, text: &str) -> Markup {
    code_block(id, label, text, false)
}

/// A block like [`code`] whose long lines wrap instead of scrolling: for a
/// command that holds a key, which has no word to break at.
#[must_use]
pub(super) fn code_wrapping(id: &str, label: &str, text: &str) -> Markup {
    code_block(id, label, text, true)
}

fn code_block(id: &str, label: &str, text: &str, wrap: bool) -> Markup {
    let lines = if wrap { "whitespace-pre-wrap [overflow-wrap:anywhere]" } else { "overflow-x-auto" };
    html! {
        div class="rounded-md bg-slate-900" {
            div class="flex items-center justify-between gap-2 border-b border-slate-700 py-1 pr-1 pl-3" {
                span class="truncate text-xs text-slate-400" aria-hidden="true" { (label) }
                (copy_button(id, label))
            }
            pre class={ "rounded-b-md p-3 text-xs leading-relaxed text-slate-100 focus-visible:outline-2 focus-visible:outline-indigo-500 sm:text-sm " (lines) }
                role="group" aria-label=(label) tabindex="0" {
                code id=(id) { (text) }
            }
        }
    }
}

/// A button copying the text of the element `target`.
fn copy_button(target: &str, label: &str) -> Markup {
    html! {
        button type="button" data-copy=(target) class="shrink-0 rounded bg-slate-700 px-2 py-1 text-xs font-medium text-white hover:bg-slate-600 focus-visible:outline-2 focus-visible:outline-white" {
            "Copy" span class="sr-only" { " " (label) }
        }
    }
}

/// Where the script shows a key just created (it is never in the page as
/// served): the key with its Copy button beside it, then the one command that
/// saves it for the CLI and the SDK. A plain `llmlab init` would sign up a
/// second account instead, so the page spells out `--api-key`.
#[must_use]
pub(super) fn new_key(id: &str, label: &str) -> Markup {
    let command_id = format!("{id}-init");
    html! {
        div class="flex items-start gap-2 rounded-md bg-slate-900 py-1 pr-1 pl-3" {
            code id=(id) data-new-key=(command_id) class="min-w-0 flex-1 py-1 font-mono text-sm text-slate-100 [overflow-wrap:anywhere]" {}
            (copy_button(id, label))
        }
        p class="mt-3 text-sm text-slate-700" {
            "To use it from this machine, save it with " (kbd("--api-key")) " (a plain " (kbd("llmlab init"))
            " would create another account):"
        }
        div class="mt-2" { (code_wrapping(&command_id, "llmlab init command", "")) }
    }
}

/// Inline code. Short code never breaks; a path breaks only after a `/`, and
/// a long command only at its spaces (never inside a word: no `break-all`).
#[must_use]
pub(super) fn kbd(text: &str) -> Markup {
    const CLASS: &str = "rounded bg-slate-100 px-1.5 py-0.5 font-mono text-[0.85em] text-slate-800";
    if text.contains('/') {
        return html! { code class={ (CLASS) " [overflow-wrap:anywhere]" } { (path_with_breaks(text)) } };
    }
    let wrap = if text.contains(' ') && text.chars().count() > SHORT_CODE { "" } else { " whitespace-nowrap" };
    html! { code class={ (CLASS) (wrap) } { (text) } }
}

/// Inline code up to this many characters is kept on one line.
const SHORT_CODE: usize = 24;

/// `text` with a line-break opportunity (`<wbr>`) after each run of slashes.
fn path_with_breaks(text: &str) -> Markup {
    let parts = path_parts(text);
    html! {
        @for (i, part) in parts.iter().enumerate() {
            @if i > 0 { wbr; }
            (part)
        }
    }
}

/// `text` cut after each run of slashes: `~/.config/x` → `~/`, `.config/`, `x`.
fn path_parts(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut previous = None;
    for (i, c) in text.char_indices() {
        if previous == Some('/') && c != '/' {
            parts.push(&text[start..i]);
            start = i;
        }
        previous = Some(c);
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_breaks_only_after_its_slashes() {
        assert_eq!(path_parts("~/.config/llmlab/config.toml"), ["~/", ".config/", "llmlab/", "config.toml"]);
        assert_eq!(path_parts("URL=http://127.0.0.1:8787/"), ["URL=http://", "127.0.0.1:8787/"]);
        assert_eq!(
            kbd("~/.config/llmlab/config.toml").into_string(),
            "<code class=\"rounded bg-slate-100 px-1.5 py-0.5 font-mono text-[0.85em] text-slate-800 \
             [overflow-wrap:anywhere]\">~/<wbr>.config/<wbr>llmlab/<wbr>config.toml</code>"
        );
    }

    #[test]
    fn short_inline_code_never_wraps_and_long_commands_wrap_only_at_spaces() {
        assert!(kbd("llmlab init").into_string().contains("whitespace-nowrap"));
        let long = kbd("llmlab prices set gpt-x --input 1 --output 2").into_string();
        assert!(!long.contains("whitespace-nowrap") && !long.contains("break-all"), "{long}");
    }
}
