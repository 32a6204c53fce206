//! The `application/x-www-form-urlencoded` request body of the OAuth endpoints.

use std::collections::HashMap;

use super::error::OAuthError;

/// The parameters of an OAuth request, each present at most once.
#[derive(Debug, Default)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// Parses the body. Refuses another media type and any repeated parameter
    /// (RFC 6749 §3.2: "parameters MUST NOT be included more than once").
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, OAuthError> {
        let essence = content_type
            .and_then(|value| value.split(';').next())
            .map(|essence| essence.trim().to_ascii_lowercase());
        if essence.as_deref() != Some("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let mut parameters = HashMap::new();
        for (name, value) in form_urlencoded::parse(body) {
            if parameters
                .insert(name.into_owned(), value.into_owned())
                .is_some()
            {
                return Err(OAuthError::invalid_request("a parameter is repeated"));
            }
        }
        Ok(Self(parameters))
    }

    /// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// Takes a parameter's value out of the form (for secrets, to avoid a copy lingering).
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name).filter(|value| !value.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded; charset=UTF-8");

    #[test]
    fn parses_percent_and_plus_encoding() {
        let form = Form::parse(FORM, b"a=x%26y+z&empty=&b=%2B").unwrap();
        assert_eq!(form.get("a"), Some("x&y z"));
        assert_eq!(form.get("b"), Some("+"));
        assert_eq!(form.get("empty"), None);
    }

    #[test]
    fn refuses_repeats_and_other_media_types() {
        assert!(Form::parse(FORM, b"a=1&a=2").is_err());
        assert!(Form::parse(Some("application/json"), b"{}").is_err());
        assert!(Form::parse(None, b"a=1").is_err());
    }

    proptest::proptest! {
        /// Whatever the bytes, parsing answers (no panic); a parameter sent twice is
        /// refused, whatever the values.
        #[test]
        fn any_body_parses_or_is_refused_and_repeats_are_refused(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            name in "[a-z_]{1,12}",
            first in ".*",
            second in ".*",
        ) {
            let _ = Form::parse(FORM, &body);
            let encode = |value: &str| form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
            let repeated = format!("{name}={}&x=1&{name}={}", encode(&first), encode(&second));
            let refused = Form::parse(FORM, repeated.as_bytes()).unwrap_err();
            proptest::prop_assert_eq!(refused.description, "a parameter is repeated");
        }

        /// Any value survives the encoding: what a client sends is what the server reads.
        #[test]
        fn values_round_trip(value in "\\PC*") {
            let body = format!("v={}", form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>());
            let form = Form::parse(FORM, body.as_bytes()).unwrap();
            proptest::prop_assert_eq!(form.get("v"), Some(value.as_str()).filter(|v| !v.is_empty()));
        }
    }
}
