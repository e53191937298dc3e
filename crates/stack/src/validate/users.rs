//! `[users]` (the user pool) and who may call a route or publish to a topic.

use super::Validator;
use crate::model::{Auth, PasswordPolicy, Users};
use crate::raw::{RawStack, RawUsers, S};

impl Validator<'_> {
    /// `[users]`, and a user pool asked for by `auth = "user"` without one.
    pub(super) fn user_pool(&mut self, raw: &RawStack) -> Option<Users> {
        let users = raw.users.as_ref().map(|u| self.users(u));
        if users.is_some() {
            return users;
        }
        let needs = raw
            .routes
            .iter()
            .map(|r| r.get_ref().auth.as_ref())
            .chain(raw.topics.values().map(|t| t.get_ref().auth.as_ref()))
            .chain(raw.services.values().map(|s| s.get_ref().auth.as_ref()))
            .flatten()
            .find(|a| a.get_ref() == "user");
        if let Some(auth) = needs {
            self.error(
                auth.span(),
                "`auth = \"user\"` needs a user pool: add a [users] section",
            )
            .hint = Some(
                "[users] alone is enough: password_min_length = 8 and the rest have defaults"
                    .into(),
            );
        }
        None
    }

    fn users(&mut self, raw: &S<RawUsers>) -> Users {
        let r = raw.get_ref();
        let mut number = |value: &Option<S<i64>>, range, default: u32, what| {
            self.in_range(value.as_ref(), range, what)
                .map_or(default, |n| n as u32)
        };
        let min_length = number(&r.password_min_length, 6..=128, 8, "password_min_length");
        let token_minutes = number(&r.token_minutes, 5..=1440, 60, "token_minutes");
        let refresh_days = number(&r.refresh_days, 1..=3650, 30, "refresh_days");
        let mut policy = PasswordPolicy {
            min_length,
            lower: true,
            upper: true,
            digit: true,
            symbol: false,
        };
        if let Some(list) = &r.password_require {
            policy.lower = false;
            policy.upper = false;
            policy.digit = false;
            for item in list.get_ref() {
                match item.get_ref().as_str() {
                    "lower" => policy.lower = true,
                    "upper" => policy.upper = true,
                    "digit" => policy.digit = true,
                    "symbol" => policy.symbol = true,
                    other => {
                        let names = ["lower", "upper", "digit", "symbol"];
                        self.unknown(item.span(), "password requirement", other, names);
                    }
                }
            }
        }
        Users {
            password: policy,
            token_minutes,
            refresh_days,
        }
    }

    /// `auth` of a route or service (`none`, `user`), or of a topic, which
    /// may also be `internal`: a route or service that nobody may call
    /// would serve nothing.
    pub(super) fn auth(&mut self, raw: Option<&S<String>>, of_topic: bool) -> Auth {
        match raw.map(|a| a.get_ref().as_str()) {
            None | Some("none") => Auth::None,
            Some("user") => Auth::User,
            Some("internal") if of_topic => Auth::Internal,
            Some(other) => {
                let span = raw.expect("set").span();
                self.error(span, format!("unknown auth `{other}`")).hint = Some(if of_topic {
                    "expected `none`, `user` (a signed-in user) or `internal` (no HTTP publishing)"
                        .into()
                } else {
                    "expected `none` or `user` (a signed-in user)".into()
                });
                Auth::None
            }
        }
    }
}
