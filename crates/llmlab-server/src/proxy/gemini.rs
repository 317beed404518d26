//! Gemini specifics (reference G15): the model is in the URL path, not the
//! body (`/v1beta/models/{model}:generateContent`, `/v1/…` too, and Vertex's
//! `…/publishers/google/models/{model}:…`); the API key may be in the
//! `?key=` query, which is forwarded untouched and never logged.

/// True for `:generateContent` and `:streamGenerateContent` calls.
pub(crate) fn is_generate_call(path: &str) -> bool {
    path.ends_with(":generateContent") || path.ends_with(":streamGenerateContent")
}

/// The model named in a Gemini path: what follows the last `models/`, up to
/// the `:method`.
pub(crate) fn model_from_path(path: &str) -> Option<&str> {
    let start = path.rfind("models/")? + "models/".len();
    let rest = &path[start..];
    let model = &rest[..rest.find([':', '/']).unwrap_or(rest.len())];
    (!model.is_empty()).then_some(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_comes_from_the_path_in_every_api_version() {
        assert_eq!(model_from_path("/v1beta/models/gemini-2.5-flash:generateContent"), Some("gemini-2.5-flash"));
        assert_eq!(model_from_path("/v1/models/gemini-2.5-pro:streamGenerateContent"), Some("gemini-2.5-pro"));
        assert_eq!(
            model_from_path("/v1/projects/p/locations/l/publishers/google/models/gemini-2.0-flash:generateContent"),
            Some("gemini-2.0-flash")
        );
        assert_eq!(model_from_path("/v1beta/models"), None);
        assert!(is_generate_call("/v1beta/models/gemini-2.5-flash:streamGenerateContent"));
        assert!(!is_generate_call("/v1beta/models/gemini-2.5-flash:countTokens"));
    }
}
