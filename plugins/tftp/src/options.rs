//! Option negotiation (RFC 2347) for `blksize` (2348), `timeout` and `tsize` (2349) and
//! `windowsize` (7440).
//!
//! The rules: names are case-insensitive; unknown options are ignored; a value out of
//! its RFC range makes the option ignored (not the request refused); a value above our
//! configured maximum is clamped; the first occurrence of a repeated option wins; and
//! the OACK lists exactly the options granted, in the client's order. Whether `tsize`
//! of an upload fits is the caller's decision ([`Negotiated::tsize`]).

use crate::packet::{Opt, RequestKind};

/// RFC 1350's block size, used when `blksize` is not granted.
pub const DEFAULT_BLKSIZE: u16 = 512;
/// RFC 2348's largest block size.
pub const MAX_BLKSIZE: u16 = 65464;

/// What the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_blksize: u16,
    pub max_windowsize: u16,
    /// Socket-buffer bytes a client is assumed to have (0: no assumption): a window
    /// is granted only as large as fits in it ([`window_fit`]).
    pub client_buffer: u64,
}

/// What one datagram of `blksize` payload bytes takes of a Linux receiver's socket
/// buffer (its "truesize"): the datagram with TFTP, UDP and IPv6 headers, in a
/// buffer rounded up to a power of two while it is small (below 16 KiB the kernel
/// allocates it whole), or to 4 KiB pages above, plus ~768 bytes of bookkeeping.
/// Why it matters: atftp's default 208 KiB holds 12 datagrams of 8 KiB blocks,
/// not 25, and 3 of 64 KiB (docs/decisions/tftp-windows.md).
pub fn datagram_cost(blksize: u16) -> u64 {
    let wire = u64::from(blksize) + 4 + 8 + 40;
    let data = if wire <= 16 * 1024 - 512 {
        wire.next_power_of_two()
    } else {
        wire.div_ceil(4096) * 4096
    };
    data + 768
}

/// The largest window of `blksize` blocks that fits `buffer` bytes of a receiver's
/// socket buffer; at least 1 (lock-step always fits). `buffer` 0: no bound.
pub fn window_fit(blksize: u16, buffer: u64) -> u16 {
    if buffer == 0 {
        return u16::MAX;
    }
    (buffer / datagram_cost(blksize)).clamp(1, u64::from(u16::MAX)) as u16
}

/// The result of a negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub blksize: u16,
    pub windowsize: u16,
    /// Retransmission timeout asked by the client, in ms.
    pub timeout_ms: Option<u64>,
    /// RRQ: the size we announce. WRQ: the size the client announces.
    pub tsize: Option<u64>,
    /// The OACK's pairs (lowercase names); empty means no OACK is sent.
    pub granted: Vec<(String, String)>,
}

impl Negotiated {
    /// No options: plain RFC 1350.
    pub fn plain() -> Negotiated {
        Negotiated {
            blksize: DEFAULT_BLKSIZE,
            windowsize: 1,
            timeout_ms: None,
            tsize: None,
            granted: Vec::new(),
        }
    }

    /// The granted options as `name=value,...` for the transfer log.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .granted
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(",")
        }
    }
}

fn number(value: &str) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Negotiate a request's options.
///
/// `file_size` is the size announced as `tsize` on a read; `None` leaves `tsize`
/// unanswered (netascii, whose wire size differs from the file's, as in tftpd-hpa).
pub fn negotiate(
    kind: RequestKind,
    options: &[Opt<'_>],
    limits: Limits,
    file_size: Option<u64>,
) -> Negotiated {
    let mut out = Negotiated::plain();
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in options {
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        let Some(n) = number(value) else { continue };
        let grant = match name.as_str() {
            "blksize" if n >= 8 => {
                let size = n.min(u64::from(limits.max_blksize.min(MAX_BLKSIZE))) as u16;
                out.blksize = size;
                Some(size.to_string())
            }
            "windowsize" if (1..=65535).contains(&n) => {
                let size = n.min(u64::from(limits.max_windowsize)) as u16;
                out.windowsize = size;
                Some(size.to_string())
            }
            "timeout" if (1..=255).contains(&n) => {
                out.timeout_ms = Some(n * 1000);
                Some(n.to_string())
            }
            "tsize" => match kind {
                RequestKind::Read => file_size.map(|size| {
                    out.tsize = Some(size);
                    size.to_string()
                }),
                RequestKind::Write => {
                    out.tsize = Some(n);
                    Some(n.to_string())
                }
            },
            _ => None,
        };
        if let Some(value) = grant {
            out.granted.push((name, value));
        }
    }
    // Whatever the order of the options, the window must fit the granted block size.
    let fit = window_fit(out.blksize, limits.client_buffer);
    if out.windowsize > fit {
        out.windowsize = fit;
        for (name, value) in &mut out.granted {
            if name == "windowsize" {
                *value = fit.to_string();
            }
        }
    }
    out
}

/// What a client takes from the server's OACK: only options it asked for, within range.
/// `Err` names the first option the server must not have sent (the client answers
/// ERROR 8).
pub fn accept_oack(asked: &[(String, String)], oack: &[Opt<'_>]) -> Result<Negotiated, String> {
    let mut out = Negotiated::plain();
    for (name, value) in oack {
        let name = name.to_ascii_lowercase();
        let Some((_, wanted)) = asked.iter().find(|(n, _)| *n == name) else {
            return Err(format!("option {name} was not requested"));
        };
        let n = number(value).ok_or_else(|| format!("option {name}: bad value"))?;
        let wanted = number(wanted).unwrap_or(0);
        match name.as_str() {
            "blksize" if (8..=u64::from(MAX_BLKSIZE)).contains(&n) && n <= wanted => {
                out.blksize = n as u16
            }
            "windowsize" if (1..=65535).contains(&n) && n <= wanted => out.windowsize = n as u16,
            "timeout" if (1..=255).contains(&n) => out.timeout_ms = Some(n * 1000),
            "tsize" => out.tsize = Some(n),
            _ => return Err(format!("option {name}: value {value} out of range")),
        }
        out.granted.push((name, value.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits {
        max_blksize: 65464,
        max_windowsize: 64,
        client_buffer: 0,
    };

    #[test]
    fn windows_are_granted_only_as_large_as_a_client_buffer_holds() {
        let lim = Limits {
            client_buffer: 160 * 1024,
            ..LIM
        };
        let grant = |blksize: &str, windowsize: &str| {
            let n = negotiate(
                RequestKind::Read,
                &[("windowsize", windowsize), ("blksize", blksize)],
                lim,
                None,
            );
            (n.windowsize, n.summary())
        };
        // 64 KiB blocks: two fit (three take 199 KiB of 208, and a fourth is lost).
        assert_eq!(
            grant("65464", "16"),
            (2, "windowsize=2,blksize=65464".into())
        );
        assert_eq!(
            grant("65464", "1"),
            (1, "windowsize=1,blksize=65464".into())
        );
        // 8 KiB blocks cost 16.75 KiB each: 9, not 20.
        assert_eq!(grant("8192", "16").0, 9);
        assert_eq!(grant("1468", "16").0, 16, "small windows as asked");
        assert_eq!(grant("512", "64").0, 64);
        assert_eq!(window_fit(65464, 1), 1, "lock-step always fits");
        assert_eq!(window_fit(65464, 0), u16::MAX, "0: no bound");
    }

    fn read(opts: &[Opt<'_>]) -> Negotiated {
        negotiate(RequestKind::Read, opts, LIM, Some(1234))
    }

    #[test]
    fn no_options_is_plain() {
        let n = read(&[]);
        assert_eq!(n, Negotiated::plain());
        assert_eq!(n.summary(), "none");
    }

    #[test]
    fn all_options_granted_in_order() {
        let n = read(&[
            ("TSIZE", "0"),
            ("BlkSize", "1468"),
            ("timeout", "3"),
            ("windowsize", "8"),
        ]);
        assert_eq!(n.blksize, 1468);
        assert_eq!(n.windowsize, 8);
        assert_eq!(n.timeout_ms, Some(3000));
        assert_eq!(n.tsize, Some(1234));
        assert_eq!(
            n.granted,
            vec![
                ("tsize".into(), "1234".into()),
                ("blksize".into(), "1468".into()),
                ("timeout".into(), "3".into()),
                ("windowsize".into(), "8".into()),
            ]
        );
        assert_eq!(
            n.summary(),
            "tsize=1234,blksize=1468,timeout=3,windowsize=8"
        );
    }

    #[test]
    fn out_of_range_values_are_ignored_or_clamped() {
        // Below the RFC range, or garbage: not granted at all.
        for bad in [
            ("blksize", "7"),
            ("blksize", "0"),
            ("blksize", "-1"),
            ("blksize", "+512"),
            ("blksize", "512x"),
            ("blksize", ""),
            ("blksize", "99999999999999999999999"),
            ("windowsize", "0"),
            ("windowsize", "65536"),
            ("timeout", "0"),
            ("timeout", "256"),
            ("tsize", "abc"),
        ] {
            let n = read(&[bad]);
            assert!(n.granted.is_empty(), "{bad:?} -> {n:?}");
            assert_eq!((n.blksize, n.windowsize), (512, 1));
        }
        // Above our maximum: clamped, and the OACK says the clamped value.
        let n = read(&[("blksize", "65465"), ("windowsize", "65535")]);
        assert_eq!((n.blksize, n.windowsize), (65464, 64));
        let lim = Limits {
            max_blksize: 1024,
            max_windowsize: 4,
            client_buffer: 0,
        };
        let n = negotiate(RequestKind::Read, &[("blksize", "8192")], lim, None);
        assert_eq!(n.granted, vec![("blksize".into(), "1024".into())]);
        assert_eq!(
            negotiate(RequestKind::Read, &[("blksize", "8")], lim, None).blksize,
            8
        );
    }

    #[test]
    fn unknown_and_repeated_options() {
        let n = read(&[("multicast", "1"), ("blksize", "1024"), ("BLKSIZE", "2048")]);
        assert_eq!(n.blksize, 1024);
        assert_eq!(n.granted, vec![("blksize".into(), "1024".into())]);
    }

    /// The values of issue 7's checklist, each on its own: too big for 16 bits, past
    /// `u64`, and the largest `u64` announced for an upload.
    #[test]
    fn blksize_70000_and_huge_tsize() {
        let n = read(&[("blksize", "70000")]);
        assert_eq!(
            n.blksize, 65464,
            "clamped to the maximum, not wrapped: {n:?}"
        );
        let n = negotiate(
            RequestKind::Write,
            &[("tsize", "99999999999999999999999")],
            LIM,
            None,
        );
        assert_eq!((n.tsize, n.granted.len()), (None, 0), "past u64: ignored");
        let n = negotiate(
            RequestKind::Write,
            &[("tsize", "18446744073709551615")],
            LIM,
            None,
        );
        // Granted as announced: the plugin then refuses it against `max_upload_bytes`
        // before creating anything (ERROR 3, `oversized_upload_is_error_3_...`).
        assert_eq!(n.tsize, Some(u64::MAX));
    }

    #[test]
    fn tsize_on_read_without_size_and_on_write() {
        let n = negotiate(RequestKind::Read, &[("tsize", "0")], LIM, None);
        assert!(n.granted.is_empty());
        let n = negotiate(RequestKind::Write, &[("tsize", "5000")], LIM, None);
        assert_eq!(n.tsize, Some(5000));
        assert_eq!(n.granted, vec![("tsize".into(), "5000".into())]);
    }

    #[test]
    fn client_accepts_only_what_it_asked() {
        let asked = vec![
            ("blksize".to_string(), "1468".to_string()),
            ("tsize".to_string(), "0".to_string()),
        ];
        let n = accept_oack(&asked, &[("blksize", "1024"), ("tsize", "77")]).unwrap();
        assert_eq!((n.blksize, n.tsize), (1024, Some(77)));
        assert!(accept_oack(&asked, &[("windowsize", "4")]).is_err());
        assert!(accept_oack(&asked, &[("blksize", "2000")]).is_err());
        assert!(accept_oack(&asked, &[("blksize", "4")]).is_err());
    }
}
