//! `show ssl cert`: the certificate files loaded in memory, and the details of one.
//!
//! The list is `# filename` then one path per line, preceded by `# transaction` and the
//! `*`-prefixed path of a file with an uncommitted `set ssl cert`. The details are `Key: Value`
//! lines, some keys repeated (`Chain Subject`, `Chain Issuer` per certificate of the chain).

use serde::Serialize;

use super::ParseError;
use super::text::{self, excerpt};

/// One certificate file of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertFile {
    pub filename: String,
    /// Listed under `# transaction`: the new contents of a `set ssl cert` not yet committed.
    pub transaction: bool,
}

/// The details of one certificate file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cert {
    pub filename: String,
    /// The uncommitted contents of a transaction (`show ssl cert *NAME`).
    pub transaction: bool,
    /// `Used`, `Unused`, `Uncommitted`, `Empty`…
    pub status: Option<String>,
    pub serial: Option<String>,
    /// As OpenSSL prints them (`Jan  1 13:42:26 2027 GMT`), and as seconds since the epoch
    /// when they read as such.
    pub not_before: Option<String>,
    pub not_before_unix: Option<i64>,
    pub not_after: Option<String>,
    pub not_after_unix: Option<i64>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    /// The subject alternative names (`DNS:www.example.com`), in order.
    pub sans: Vec<String>,
    pub algorithm: Option<String>,
    pub sha1_fingerprint: Option<String>,
    /// The rest of the chain, one certificate each.
    pub chain: Vec<ChainCert>,
    /// Every line as sent, in order.
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainCert {
    pub subject: Option<String>,
    pub issuer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: String,
    pub value: String,
}

/// Reads the reply of `show ssl cert` without a name.
pub fn parse_list(reply: &[u8]) -> Result<Vec<CertFile>, ParseError> {
    let first = text::first_line(reply)?;
    if first != b"# filename" && first != b"# transaction" {
        return Err(ParseError::NotThisOutput {
            expected: "show ssl cert",
            found: excerpt(first),
        });
    }
    let mut files = Vec::new();
    let mut transaction = false;
    for line in text::body_lines(reply)? {
        match line.text {
            b"# transaction" => transaction = true,
            b"# filename" => transaction = false,
            path => {
                let path = if transaction {
                    path.strip_prefix(b"*")
                } else {
                    Some(path)
                };
                let path = path.filter(|p| !p.is_empty() && !p.starts_with(b"#"));
                let path = path.ok_or_else(|| ParseError::BadLine {
                    line: line.number,
                    found: excerpt(line.text),
                })?;
                files.push(CertFile {
                    filename: String::from_utf8_lossy(path).into_owned(),
                    transaction,
                });
            }
        }
    }
    Ok(files)
}

/// Reads the reply of `show ssl cert NAME`.
pub fn parse(reply: &[u8]) -> Result<Cert, ParseError> {
    let first = text::first_line(reply)?;
    if !first.starts_with(b"Filename: ") {
        return Err(ParseError::NotThisOutput {
            expected: "show ssl cert NAME",
            found: excerpt(first),
        });
    }
    let mut fields = Vec::new();
    for line in text::body_lines(reply)? {
        let text = String::from_utf8_lossy(line.text);
        let (name, value) = text.split_once(": ").ok_or_else(|| ParseError::BadLine {
            line: line.number,
            found: excerpt(line.text),
        })?;
        fields.push(Field {
            name: name.to_string(),
            value: value.to_string(),
        });
    }
    let first = |name: &str| {
        fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    };
    let filename = first("Filename").unwrap_or_default();
    let (filename, transaction) = match filename.strip_prefix('*') {
        Some(name) => (name.to_string(), true),
        None => (filename, false),
    };
    let mut chain: Vec<ChainCert> = Vec::new();
    for field in &fields {
        match field.name.as_str() {
            "Chain Subject" => chain.push(ChainCert {
                subject: Some(field.value.clone()),
                issuer: None,
            }),
            "Chain Issuer" => match chain.last_mut() {
                Some(last) if last.issuer.is_none() => last.issuer = Some(field.value.clone()),
                _ => chain.push(ChainCert {
                    subject: None,
                    issuer: Some(field.value.clone()),
                }),
            },
            _ => {}
        }
    }
    let sans = first("Subject Alternative Name")
        .map(|v| {
            v.split(", ")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let not_before = first("notBefore");
    let not_after = first("notAfter");
    Ok(Cert {
        filename,
        transaction,
        status: first("Status"),
        serial: first("Serial"),
        not_before_unix: not_before.as_deref().and_then(openssl_time),
        not_before,
        not_after_unix: not_after.as_deref().and_then(openssl_time),
        not_after,
        subject: first("Subject"),
        issuer: first("Issuer"),
        sans,
        algorithm: first("Algorithm"),
        sha1_fingerprint: first("SHA1 FingerPrint"),
        chain,
        fields,
    })
}

/// `Jan  1 13:42:26 2027 GMT` (OpenSSL's `ASN1_TIME_print`) as seconds since the epoch.
fn openssl_time(text: &str) -> Option<i64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [month, day, time, year, "GMT"] = words[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let number = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (day, year) = (number(day)?, number(year)?);
    let parts: Vec<&str> = time.split(':').collect();
    let [h, m, s] = parts[..] else { return None };
    let (h, m, s) = (number(h)?, number(m)?, number(s)?);
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The command for the list, or for one file's details (`NAME` one word; `*NAME` for an
/// uncommitted transaction).
pub fn command(name: Option<&str>) -> Result<String, super::BadName> {
    Ok(match name {
        None => "show ssl cert".into(),
        Some(name) => format!("show ssl cert {}", super::check_name(name)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        for reply in [
            reply!("2.6", "stats_show_ssl_cert"),
            reply!("2.8", "stats_show_ssl_cert"),
            reply!("3.4", "stats_show_ssl_cert"),
        ] {
            assert_eq!(
                parse_list(reply).unwrap(),
                [CertFile {
                    filename: "/etc/haproxy/site.pem".into(),
                    transaction: false
                }]
            );
        }
        let files = parse_list(b"# transaction\n*/a.pem\n# filename\n/a.pem\n/b.pem\n\n").unwrap();
        let got: Vec<(&str, bool)> = files
            .iter()
            .map(|f| (f.filename.as_str(), f.transaction))
            .collect();
        assert_eq!(
            got,
            [("/a.pem", true), ("/a.pem", false), ("/b.pem", false)]
        );
        assert_eq!(parse_list(b"# filename\n\n"), Ok(vec![]));
        assert!(parse_list(b"# transaction\n/a.pem\n\n").is_err());
    }

    #[test]
    fn details_of_every_version() {
        for reply in [
            reply!("2.6", "stats_show_ssl_cert_site"),
            reply!("2.8", "stats_show_ssl_cert_site"),
            reply!("3.4", "stats_show_ssl_cert_site"),
        ] {
            let cert = parse(reply).unwrap();
            assert_eq!(cert.filename, "/etc/haproxy/site.pem");
            assert!(!cert.transaction);
            assert_eq!(cert.status.as_deref(), Some("Used"));
            assert_eq!(cert.serial.as_deref().map(str::len), Some(40));
            assert_eq!(
                cert.sans,
                ["DNS:sandbox.example", "DNS:www.sandbox.example"]
            );
            assert_eq!(
                cert.subject.as_deref(),
                Some("/CN=sandbox.example/O=sockctl test")
            );
            assert_eq!(cert.issuer, cert.subject);
            assert_eq!(cert.algorithm.as_deref(), Some("RSA2048"));
            assert!(cert.chain.is_empty());
            let (before, after) = (cert.not_before_unix.unwrap(), cert.not_after_unix.unwrap());
            assert_eq!(after - before, 30 * 86_400);
            assert_eq!(cert.fields[0].name, "Filename");
        }
        let cert = parse(reply!("2.6", "stats_show_ssl_cert_site")).unwrap();
        // notBefore: Dec  2 13:42:26 2026 GMT
        assert_eq!(cert.not_before_unix, Some(1_796_218_946));
    }

    #[test]
    fn chains_and_transactions() {
        let reply = b"Filename: */a.pem\nStatus: Uncommitted\nChain Subject: /CN=ca1\n\
                      Chain Issuer: /CN=root\nChain Subject: /CN=ca2\nChain Issuer: /CN=root\n\
                      Subject Alternative Name: \n\n";
        let cert = parse(reply).unwrap();
        assert!(cert.transaction);
        assert_eq!(cert.filename, "/a.pem");
        assert_eq!(cert.chain.len(), 2);
        assert_eq!(cert.chain[1].subject.as_deref(), Some("/CN=ca2"));
        assert_eq!(cert.chain[1].issuer.as_deref(), Some("/CN=root"));
        assert!(cert.sans.is_empty());
        assert_eq!(cert.not_after_unix, None);
    }

    #[test]
    fn times() {
        assert_eq!(openssl_time("Jan  1 00:00:00 1970 GMT"), Some(0));
        assert_eq!(
            openssl_time("Feb 29 12:00:00 2024 GMT"),
            Some(1_709_208_000)
        );
        assert_eq!(openssl_time("Dec 31 23:59:59 1969 GMT"), Some(-1));
        for bad in [
            "Foo  1 00:00:00 1970 GMT",
            "Jan  1 00:00 1970 GMT",
            "Jan 32 00:00:00 1970 GMT",
            "Jan  1 00:00:00 1970",
            "Jan +1 00:00:00 1970 GMT",
        ] {
            assert_eq!(openssl_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn other_replies_are_rejected() {
        for reply in [
            reply!("2.6", "stats_show_ssl_cert_nosuch"),
            reply!("2.6", "stats_show_info"),
            reply!("2.6", "stats_show_map"),
        ] {
            assert!(matches!(
                parse(reply),
                Err(ParseError::NotThisOutput { .. })
            ));
            assert!(matches!(
                parse_list(reply),
                Err(ParseError::NotThisOutput { .. })
            ));
        }
        let reply = reply!("2.8", "stats_show_ssl_cert_site");
        for end in 0..reply.len() {
            assert!(parse(&reply[..end]).is_err(), "cut at {end}");
        }
        assert!(matches!(
            parse(b"Filename: /a\nno separator\n\n"),
            Err(ParseError::BadLine { line: 2, .. })
        ));
        assert_eq!(command(None).unwrap(), "show ssl cert");
        assert_eq!(command(Some("*/a.pem")).unwrap(), "show ssl cert */a.pem");
        assert!(command(Some("a;b")).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_list(&bytes);
            let _ = parse(&bytes);
        }

        #[test]
        fn times_never_panic(text in "\\PC{0,40}") {
            let _ = openssl_time(&text);
        }
    }
}
