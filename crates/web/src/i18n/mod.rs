//! Chinese first, English too: the message catalogue of the pages and the language a request is
//! answered in. The catalogue is one table in this file, so a message cannot exist in one
//! language only; a test checks that every key the templates use is in it.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::cookies;

mod alarms;
mod audit;
mod common;
mod devices;
mod enterprises;
mod overview;
mod quality;
mod registry;
mod workflows;

/// The name of the cookie the language switch sets.
pub const LANG_COOKIE: &str = "lang";

/// A language of the pages. Simplified Chinese unless the person chose English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// From the short code of the switch, the cookie and `?lang=` (`zh`, `en`); anything else is
    /// not a language we have.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The value of `<html lang>` (ECharts and screen readers read it).
    pub fn html_code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn is_english(self) -> bool {
        self == Lang::En
    }

    /// The message `key` in this language when the catalogue has it (for keys made from data,
    /// such as an industry's code, where the data itself is the fallback).
    pub fn try_t(self, key: &str) -> Option<&'static str> {
        catalogue().get(key).map(|(zh, en)| if self == Lang::Zh { *zh } else { *en })
    }

    /// The message `key` in this language; an unknown key shows as itself, so a slip is visible
    /// on the page rather than an empty space (the templates' keys are checked by a test).
    pub fn t(self, key: &str) -> &'static str {
        match catalogue().get(key) {
            Some((zh, en)) => match self {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => {
                tracing::warn!(key, "no such message");
                "??"
            }
        }
    }
}

/// `?lang=en` wins (a link can name its language), then the `lang` cookie, then Chinese.
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let from_query = parts
            .uri
            .query()
            .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("lang=")).and_then(Lang::from_code));
        let from_cookie = || cookies::get(&parts.headers, LANG_COOKIE).and_then(|v| Lang::from_code(&v));
        Ok(from_query.or_else(from_cookie).unwrap_or_default())
    }
}

fn catalogue() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static MAP: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    MAP.get_or_init(|| messages().map(|&(k, zh, en)| (k, (zh, en))).collect())
}

/// Every area's messages. An area of pages keeps its own table in a module of its own
/// (`i18n/<area>.rs`) and adds it here.
const AREAS: &[&[(&str, &str, &str)]] = &[
    common::MESSAGES,
    enterprises::MESSAGES,
    devices::MESSAGES,
    registry::MESSAGES,
    audit::MESSAGES,
    alarms::MESSAGES,
    quality::MESSAGES,
    overview::MESSAGES,
    workflows::MESSAGES,
];

/// Every message: key, Chinese, English.
fn messages() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    AREAS.iter().flat_map(|area| area.iter())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_key_is_unique_and_has_both_languages() {
        let mut seen = HashSet::new();
        for (key, zh, en) in messages() {
            assert!(seen.insert(key), "{key} twice");
            assert!(!zh.trim().is_empty() && !en.trim().is_empty(), "{key} lacks a language");
            // A Chinese text written in English by mistake (or the reverse) shows here.
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{key}: {zh}");
            assert!(!en.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{key}: {en}");
        }
    }

    /// Every `.t("…")` in the templates names a key of the catalogue.
    #[test]
    fn the_templates_use_only_known_keys() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for piece in text.split(".t(\"").skip(1) {
                let key = &piece[..piece.find('"').unwrap()];
                assert!(catalogue().contains_key(key), "unknown message key {key}");
                checked += 1;
            }
        }
        assert!(checked > 20, "the templates were not read ({checked} keys)");
    }

    #[test]
    fn lookups_follow_the_language() {
        assert_eq!(Lang::Zh.t("nav.overview"), "总览");
        assert_eq!(Lang::En.t("nav.overview"), "Overview");
        assert_eq!(Lang::En.t("no.such.key"), "??");
        assert_eq!(Lang::from_code("fr"), None);
        assert_eq!(Lang::default().html_code(), "zh-CN");
    }
}
