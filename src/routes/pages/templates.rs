//! The pages' HTML (maud escapes every value it inserts) and their one stylesheet. Plain
//! forms, labelled inputs, no script: usable with a keyboard, on a phone and on a desktop.

use maud::{html, Markup, DOCTYPE};

use crate::oauth::authorize::{AuthorizationParams, ConsentPage, SignInPage};

pub const STYLESHEET: &str = include_str!("tenauth.css");

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/oauth/assets/tenauth.css";
            }
            body {
                main class="card" { (body) }
            }
        }
    }
}

/// The authorization request, carried through the form unchanged.
fn hidden_params(params: &AuthorizationParams) -> Markup {
    html! {
        @for (name, value) in params.fields() {
            input type="hidden" name=(name) value=(value);
        }
    }
}

pub fn sign_in(page: &SignInPage) -> Markup {
    layout(
        &format!("Sign in to {}", page.tenant_name),
        html! {
            h1 { "Sign in to " (page.tenant_name) }
            p class="lead" { "to continue to " strong { (page.client_name) } }
            @if let Some(error) = page.error {
                p class="error" role="alert" { (error) }
            }
            form method="post" action="/oauth/authorize" {
                (hidden_params(&page.params))
                input type="hidden" name="csrf" value=(page.csrf);
                label for="username" { "Username" }
                input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus;
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" name="action" value="sign_in" class="primary" { "Sign in" }
            }
        },
    )
}

pub fn consent(page: &ConsentPage) -> Markup {
    layout(
        &format!("Allow {}?", page.client_name),
        html! {
            h1 { "Allow " (page.client_name) "?" }
            p class="lead" { strong { (page.client_name) } " asks to use your " (page.tenant_name) " account." }
            @if page.scopes.is_empty() {
                p { "It asks for no particular permission." }
            } @else {
                p { "It asks for these permissions:" }
                ul class="scopes" {
                    @for scope in &page.scopes {
                        li { code { (scope) } }
                    }
                }
            }
            form method="post" action="/oauth/authorize" {
                (hidden_params(&page.params))
                input type="hidden" name="csrf" value=(page.csrf);
                div class="actions" {
                    button type="submit" name="decision" value="deny" { "Deny" }
                    button type="submit" name="decision" value="approve" class="primary" { "Approve" }
                }
            }
        },
    )
}

pub fn error_page(message: &str) -> Markup {
    layout(
        "Cannot continue",
        html! {
            h1 { "Cannot continue" }
            p class="error" role="alert" { (message) }
        },
    )
}

pub fn signed_out() -> Markup {
    layout(
        "Signed out",
        html! {
            h1 { "Signed out" }
            p { "You are signed out. You can close this page." }
        },
    )
}
