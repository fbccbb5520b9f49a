//! What the user's locale changes: the language of interactive menus, and local times.

/// A menu's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    English,
    Chinese,
}

/// The language POSIX would pick for messages: the first of `LC_ALL`, `LC_MESSAGES`,
/// `LANG` that is set and not empty; Chinese when it starts with `zh`, else English.
pub fn messages_lang() -> Lang {
    lang_from(|k| std::env::var(k).ok())
}

/// [`messages_lang`] over any environment (tests pass their own).
pub fn lang_from(get: impl Fn(&str) -> Option<String>) -> Lang {
    let chosen = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .find_map(|k| get(k).filter(|v| !v.is_empty()));
    match chosen {
        Some(v) if v.starts_with("zh") => Lang::Chinese,
        _ => Lang::English,
    }
}

/// Unix seconds as `ls -l` shows them in the local time zone: `May  3 14:05` within
/// six months of `now`, `May  3  2021` otherwise.
pub fn ls_time(secs: i64, now: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = secs as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, which lives on this stack.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return secs.to_string();
        }
        tm
    };
    let month = MONTHS[tm.tm_mon.clamp(0, 11) as usize];
    const HALF_YEAR: i64 = 183 * 24 * 3600;
    if (now - secs).abs() < HALF_YEAR {
        format!(
            "{month} {:>2} {:02}:{:02}",
            tm.tm_mday, tm.tm_hour, tm.tm_min
        )
    } else {
        format!("{month} {:>2}  {}", tm.tm_mday, tm.tm_year + 1900)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_only_under_a_zh_locale_in_posix_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(lang_from(env(&[])), Lang::English);
        assert_eq!(lang_from(env(&[("LANG", "zh_CN.UTF-8")])), Lang::Chinese);
        assert_eq!(
            lang_from(env(&[("LANG", "zh_CN.UTF-8"), ("LC_ALL", "C")])),
            Lang::English
        );
        assert_eq!(
            lang_from(env(&[("LC_ALL", ""), ("LC_MESSAGES", "zh_TW")])),
            Lang::Chinese
        );
    }

    #[test]
    fn times_look_like_ls() {
        let now = 1_700_000_000;
        let recent = ls_time(now - 3600, now);
        assert_eq!(recent.len(), "Nov 14 22:13".len(), "{recent}");
        assert!(recent.contains(':'));
        let old = ls_time(now - 400 * 24 * 3600, now);
        assert!(old.ends_with("2022"), "{old}");
    }
}
