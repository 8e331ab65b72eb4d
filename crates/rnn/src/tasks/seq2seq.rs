//! Generated sequence-to-sequence tasks: string pairs (source, target) for [`crate::models::seq2seq`].
//!
//! - [`reversal`]: `"abcd"` → `"dcba"`, strings over a small alphabet;
//! - [`addition`]: `"123+45"` → `"168"`, numbers written as digit strings;
//! - [`dates`]: `"tuesday 10 july 2007"`, `"10/07/2007"`, `"jul 10, 2007"`, ... → `"2007-07-10"`, dates
//!   between 1950 and 2049 in one of several formats ([`DateFormat`]), the weekday always right.
//!
//! Every generator draws from a [`Rng`], so the same seed gives the same pairs on every platform.
//!
//! ```
//! use rnn::tasks::seq2seq::{addition, dates, reversal};
//! let mut rng = rnn::init::rng(0);
//! for (src, tgt) in reversal(3, 3, 6, "abcde", &mut rng) {
//!     assert_eq!(src.chars().rev().collect::<String>(), tgt);
//! }
//! let (src, tgt) = &addition(1, 3, &mut rng)[0];
//! let (a, b) = src.split_once('+').unwrap();
//! assert_eq!(a.parse::<u64>().unwrap() + b.parse::<u64>().unwrap(), tgt.parse::<u64>().unwrap());
//! let (_, iso) = &dates(1, &mut rng)[0];
//! assert_eq!(iso.len(), 10); // yyyy-mm-dd
//! ```

use rand::Rng as _;

use crate::init::Rng;

/// `n` pairs (s, reversed s), s of `min_len..=max_len` characters drawn uniformly from `alphabet`.
///
/// # Panics
/// If the alphabet is empty or `min_len > max_len`.
pub fn reversal(
    n: usize,
    min_len: usize,
    max_len: usize,
    alphabet: &str,
    rng: &mut Rng,
) -> Vec<(String, String)> {
    let letters: Vec<char> = alphabet.chars().collect();
    assert!(!letters.is_empty(), "reversal: an empty alphabet");
    assert!(
        min_len <= max_len,
        "reversal: min_len {min_len} > max_len {max_len}"
    );
    (0..n)
        .map(|_| {
            let len = rng.random_range(min_len..=max_len);
            let s: String = (0..len)
                .map(|_| letters[rng.random_range(0..letters.len())])
                .collect();
            let r = s.chars().rev().collect();
            (s, r)
        })
        .collect()
}

/// `n` pairs ("a+b", "a+b's value"), a and b with 1 to `max_digits` digits (the number of digits drawn
/// uniformly first, then the number, so short numbers are as common as long ones), no leading zeros.
///
/// # Panics
/// If `max_digits` is 0 or above 18.
pub fn addition(n: usize, max_digits: u32, rng: &mut Rng) -> Vec<(String, String)> {
    assert!(
        (1..=18).contains(&max_digits),
        "addition: max_digits must be 1 to 18, got {max_digits}"
    );
    let number = |rng: &mut Rng| {
        let digits = rng.random_range(1..=max_digits);
        let lo = if digits == 1 {
            0
        } else {
            10u64.pow(digits - 1)
        };
        rng.random_range(lo..10u64.pow(digits))
    };
    (0..n)
        .map(|_| {
            let (a, b) = (number(rng), number(rng));
            (format!("{a}+{b}"), (a + b).to_string())
        })
        .collect()
}

/// English month names, January first.
pub const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// English weekday names, Monday first.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A calendar date (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    /// The year, e.g. 2007.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month, from 1.
    pub day: u32,
}

/// Whether `year` is a leap year.
pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days in a month (1 to 12) of a year.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// The day of the week, 0 = Monday ... 6 = Sunday (1 January 1900 was a Monday).
    ///
    /// ```
    /// use rnn::tasks::seq2seq::Date;
    /// assert_eq!(Date { year: 2007, month: 7, day: 10 }.weekday(), 1); // a Tuesday
    /// ```
    pub fn weekday(&self) -> usize {
        let mut days: i64 = 0;
        let (lo, hi) = (self.year.min(1900), self.year.max(1900));
        let year_days: i64 = (lo..hi).map(|y| if is_leap(y) { 366 } else { 365 }).sum();
        days += if self.year >= 1900 {
            year_days
        } else {
            -year_days
        };
        days += (1..self.month)
            .map(|m| days_in_month(self.year, m) as i64)
            .sum::<i64>();
        days += self.day as i64 - 1;
        days.rem_euclid(7) as usize
    }

    /// `yyyy-mm-dd` (ISO 8601).
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// The date written in `format`.
    pub fn write(&self, format: DateFormat) -> String {
        let month = MONTHS[self.month as usize - 1];
        let short = &month[..3];
        let weekday = WEEKDAYS[self.weekday()];
        let (y, m, d) = (self.year, self.month, self.day);
        match format {
            DateFormat::WeekdayDayMonthYear => format!("{weekday} {d} {month} {y}"),
            DateFormat::DayMonthYear => format!("{d} {month} {y}"),
            DateFormat::MonthDayCommaYear => format!("{month} {d}, {y}"),
            DateFormat::DayShortMonthYear => format!("{d} {short} {y}"),
            DateFormat::ShortWeekdayShortMonth => {
                format!("{}, {short} {d}, {y}", &weekday[..3])
            }
            DateFormat::DayMonthYearSlashes => format!("{d:02}/{m:02}/{y}"),
        }
    }
}

/// The ways [`dates`] writes its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateFormat {
    /// `tuesday 10 july 2007`
    WeekdayDayMonthYear,
    /// `10 july 2007`
    DayMonthYear,
    /// `july 10, 2007`
    MonthDayCommaYear,
    /// `10 jul 2007`
    DayShortMonthYear,
    /// `tue, jul 10, 2007`
    ShortWeekdayShortMonth,
    /// `10/07/2007` (day first)
    DayMonthYearSlashes,
}

impl DateFormat {
    /// Every format.
    pub const ALL: [DateFormat; 6] = [
        DateFormat::WeekdayDayMonthYear,
        DateFormat::DayMonthYear,
        DateFormat::MonthDayCommaYear,
        DateFormat::DayShortMonthYear,
        DateFormat::ShortWeekdayShortMonth,
        DateFormat::DayMonthYearSlashes,
    ];
}

/// A date drawn uniformly from 1 January 1950 to 31 December 2049 (year, then month, then a day of it).
pub fn random_date(rng: &mut Rng) -> Date {
    let year = rng.random_range(1950..=2049);
    let month = rng.random_range(1..=12);
    let day = rng.random_range(1..=days_in_month(year, month));
    Date { year, month, day }
}

/// `n` pairs (a date in a random [`DateFormat`], the same date as `yyyy-mm-dd`).
pub fn dates(n: usize, rng: &mut Rng) -> Vec<(String, String)> {
    (0..n)
        .map(|_| {
            let date = random_date(rng);
            let format = DateFormat::ALL[rng.random_range(0..DateFormat::ALL.len())];
            (date.write(format), date.iso())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_and_formats() {
        let d = Date {
            year: 2007,
            month: 7,
            day: 10,
        };
        let written: Vec<String> = DateFormat::ALL.iter().map(|&f| d.write(f)).collect();
        assert_eq!(
            written,
            [
                "tuesday 10 july 2007",
                "10 july 2007",
                "july 10, 2007",
                "10 jul 2007",
                "tue, jul 10, 2007",
                "10/07/2007"
            ]
        );
        assert_eq!(d.iso(), "2007-07-10");
        // known weekdays: 1 January 1950 a Sunday, 29 February 2000 a Tuesday, 31 December 2049 a Friday
        let wd = |year, month, day| WEEKDAYS[Date { year, month, day }.weekday()];
        assert_eq!(wd(1950, 1, 1), "sunday");
        assert_eq!(wd(2000, 2, 29), "tuesday");
        assert_eq!(wd(2049, 12, 31), "friday");
        assert_eq!(wd(1899, 12, 31), "sunday");
    }

    #[test]
    fn seeded_and_correct() {
        let a = dates(50, &mut crate::init::rng(7));
        assert_eq!(a, dates(50, &mut crate::init::rng(7)));
        for (src, iso) in &a {
            let (y, rest) = iso.split_once('-').unwrap();
            let (m, d) = rest.split_once('-').unwrap();
            let date = Date {
                year: y.parse().unwrap(),
                month: m.parse().unwrap(),
                day: d.parse().unwrap(),
            };
            assert!(date.day <= days_in_month(date.year, date.month));
            assert!(
                DateFormat::ALL.iter().any(|&f| date.write(f) == *src),
                "{src}"
            );
        }
        let sums = addition(200, 3, &mut crate::init::rng(1));
        assert!(sums.iter().any(|(s, _)| s.len() == 3)); // "1+2"
        for (s, t) in &sums {
            let (a, b) = s.split_once('+').unwrap();
            assert!(!a.starts_with('0') || a == "0");
            assert_eq!(
                a.parse::<u64>().unwrap() + b.parse::<u64>().unwrap(),
                t.parse::<u64>().unwrap()
            );
        }
        let r = reversal(100, 3, 6, "abcde", &mut crate::init::rng(2));
        assert!(r
            .iter()
            .all(|(s, t)| (3..=6).contains(&s.len()) && s.chars().rev().collect::<String>() == *t));
        assert_eq!(r, reversal(100, 3, 6, "abcde", &mut crate::init::rng(2)));
    }
}
