//! Elapsed times in the series' form: Python's `str(timedelta)`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration that prints as `H:MM:SS.ffffff` (`0:00:10.126361`), with the
/// fraction left out when it is zero (`0:00:03`) and days spelled out
/// (`1 day, 0:00:03`), so our programs' lines read like the series'.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Elapsed(pub Duration);

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0.subsec_micros();
        let seconds = self.0.as_secs();
        let days = seconds / 86_400;
        match days {
            0 => {}
            1 => write!(f, "1 day, ")?,
            _ => write!(f, "{days} days, ")?,
        }
        let (h, m, s) = (seconds % 86_400 / 3600, seconds % 3600 / 60, seconds % 60);
        write!(f, "{h}:{m:02}:{s:02}")?;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        Ok(())
    }
}

/// Reads back what [`Elapsed`] prints, for programs that read other
/// programs' output (the showcase). Days are not accepted: nothing here
/// runs that long.
impl FromStr for Elapsed {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{text}' is not an elapsed time like 0:00:10.126361");
        let mut parts = text.split(':');
        let (Some(h), Some(m), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let hours: u64 = h.parse().map_err(|_| bad())?;
        let minutes: u64 = m.parse().map_err(|_| bad())?;
        // Seconds as digits, not as an f64: `10.126361` must come back as
        // exactly 126361 microseconds, which a float cannot promise.
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        let seconds: u64 = whole.parse().map_err(|_| bad())?;
        if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let nanos: u32 = format!("{fraction:0<9}").parse().map_err(|_| bad())?;
        let whole = hours
            .checked_mul(3600)
            .and_then(|h| h.checked_add(minutes.checked_mul(60)?))
            .and_then(|hm| hm.checked_add(seconds))
            .ok_or_else(bad)?;
        let whole = Duration::from_secs(whole);
        let fraction = Duration::from_nanos(u64::from(nanos));
        Ok(Elapsed(whole + fraction))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(secs: u64, micros: u32) -> String {
        Elapsed(Duration::new(secs, micros * 1000)).to_string()
    }

    #[test]
    fn prints_like_python_timedelta() {
        assert_eq!(show(10, 126_361), "0:00:10.126361");
        assert_eq!(show(0, 0), "0:00:00");
        assert_eq!(show(0, 500_000), "0:00:00.500000");
        assert_eq!(show(3723, 1), "1:02:03.000001");
        assert_eq!(show(86_403, 0), "1 day, 0:00:03");
        assert_eq!(show(2 * 86_400, 0), "2 days, 0:00:00");
    }

    #[test]
    fn nanoseconds_below_a_microsecond_are_dropped() {
        assert_eq!(Elapsed(Duration::new(1, 999)).to_string(), "0:00:01");
    }

    #[test]
    fn reads_back_what_it_prints() {
        for text in ["0:00:10.126361", "0:00:00", "1:02:03.000001"] {
            let elapsed: Elapsed = text.parse().unwrap();
            assert_eq!(elapsed.to_string(), text);
        }
        assert!("10 s".parse::<Elapsed>().is_err());
        assert!("0:00:-1".parse::<Elapsed>().is_err());
    }
}
