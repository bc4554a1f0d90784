//! N-day check-in challenges (打卡挑战), e.g. 21 days: a start date in the account's timezone,
//! check-in once per local day, streaks, missed days, a leaderboard, completion.
//!
//! Pure logic only (dates in, progress out); storage and the membership reward live in
//! [`crate::routes`].

use chrono::{Days, NaiveDate};
use plaza_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::text::{check_id, check_text, parse_date};

/// Longest challenge, in days.
pub const MAX_DAYS: u32 = 366;

/// A challenge as stored under `challenges/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Check-ins needed to complete it.
    pub days: u32,
    /// First day (`YYYY-MM-DD`, account timezone).
    pub start: NaiveDate,
    /// Days check-ins are accepted from `start` on (at least `days`; more allows missed days).
    pub window_days: u32,
    /// Membership points awarded on completion (0: none).
    #[serde(default)]
    pub reward_points: i64,
    #[serde(default)]
    pub closed: bool,
    pub created_at: u64,
}

/// The body of `POST /admin/challenges`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewChallenge {
    #[serde(default)]
    pub id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub days: u32,
    /// Default: today in the account's timezone.
    #[serde(default)]
    pub start: Option<String>,
    /// Default: `days` (every day must be checked in).
    #[serde(default)]
    pub window_days: Option<u32>,
    /// Default: the configuration's `default_reward_points`.
    #[serde(default)]
    pub reward_points: Option<i64>,
}

/// One follower's check-ins, stored under `checkins/{challenge}/{openid}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    pub openid: String,
    /// Local days checked in, ascending, no repeats.
    pub days: Vec<NaiveDate>,
    /// When the check-in that completed the challenge happened (ms).
    #[serde(default)]
    pub completed_at: Option<u64>,
    /// What became of the completion reward: `awarded`, `already-awarded`, `no-membership`,
    /// `failed: …` (retried on the next visit) or none (not due).
    #[serde(default)]
    pub reward: Option<String>,
}

/// A follower's standing in a challenge on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub checked_in: u32,
    pub days: u32,
    /// Consecutive days checked in up to today (or up to yesterday while today is still open).
    pub current_streak: u32,
    pub best_streak: u32,
    /// Days of the window before today (and within it) without a check-in.
    pub missed: u32,
    pub checked_in_today: bool,
    pub completed: bool,
    /// 1-based day of the window today is, when it is within the window.
    pub day_of_window: Option<u32>,
}

/// One leaderboard row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Standing {
    pub rank: u32,
    pub openid: String,
    pub checked_in: u32,
    pub current_streak: u32,
    pub completed: bool,
}

impl NewChallenge {
    /// The challenge this body describes, checked.
    pub fn into_challenge(
        self,
        id: String,
        today: NaiveDate,
        default_reward: i64,
        now: u64,
    ) -> Result<Challenge> {
        let id = match self.id {
            Some(given) => {
                check_id("id", &given)?;
                given
            }
            None => id,
        };
        check_text("title", &self.title, 1, 200)?;
        check_text("description", &self.description, 0, 2000)?;
        if !(1..=MAX_DAYS).contains(&self.days) {
            return Err(Error::invalid(format!(
                "days must be 1 to {MAX_DAYS}, not {}",
                self.days
            )));
        }
        let window_days = self.window_days.unwrap_or(self.days);
        if window_days < self.days || window_days > 2 * MAX_DAYS {
            return Err(Error::invalid(format!(
                "window_days must be {} (days) to {}, not {window_days}",
                self.days,
                2 * MAX_DAYS
            )));
        }
        let start = match &self.start {
            Some(s) => parse_date("start", s)?,
            None => today,
        };
        let reward_points = self.reward_points.unwrap_or(default_reward);
        if !(0..=1_000_000).contains(&reward_points) {
            return Err(Error::invalid(format!(
                "reward_points must be 0 to 1000000, not {reward_points}"
            )));
        }
        Ok(Challenge {
            id,
            title: self.title.trim().to_string(),
            description: self.description.trim().to_string(),
            days: self.days,
            start,
            window_days,
            reward_points,
            closed: false,
            created_at: now,
        })
    }
}

impl Challenge {
    /// The last day check-ins are accepted.
    pub fn end(&self) -> NaiveDate {
        self.start
            .checked_add_days(Days::new(u64::from(self.window_days) - 1))
            .unwrap_or(NaiveDate::MAX)
    }

    /// 1-based day of the window `day` is, if it is within the window.
    pub fn day_of_window(&self, day: NaiveDate) -> Option<u32> {
        (day >= self.start && day <= self.end()).then(|| (day - self.start).num_days() as u32 + 1)
    }

    /// `participant` (none: a first check-in) after checking in on `today`; refused when the
    /// challenge is closed, not started, over, already completed or already checked today.
    pub fn check_in(
        &self,
        participant: Option<Participant>,
        openid: &str,
        today: NaiveDate,
        now: u64,
    ) -> Result<Participant> {
        if self.closed {
            return Err(Error::conflict("this challenge is closed / 挑战已关闭"));
        }
        if today < self.start {
            return Err(Error::conflict(format!(
                "the challenge starts on {} / 挑战 {} 开始",
                self.start, self.start
            )));
        }
        if today > self.end() {
            return Err(Error::conflict(format!(
                "the challenge ended on {} / 挑战已于 {} 结束",
                self.end(),
                self.end()
            )));
        }
        let mut p = participant.unwrap_or_else(|| Participant {
            openid: openid.to_string(),
            days: Vec::new(),
            completed_at: None,
            reward: None,
        });
        if p.days.contains(&today) {
            return Err(Error::conflict(
                "already checked in today / 今天已经打过卡了",
            ));
        }
        if p.completed_at.is_some() {
            return Err(Error::conflict("challenge already completed / 挑战已完成"));
        }
        p.days.push(today);
        p.days.sort_unstable();
        if p.days.len() as u32 >= self.days {
            p.completed_at = Some(now);
        }
        Ok(p)
    }

    /// `participant`'s standing on `today`.
    pub fn progress(&self, participant: Option<&Participant>, today: NaiveDate) -> Progress {
        let days: &[NaiveDate] = participant.map_or(&[], |p| p.days.as_slice());
        let checked_in_today = days.contains(&today);
        // The streak counts back from today if checked, else from yesterday.
        let mut cursor = if checked_in_today {
            Some(today)
        } else {
            today.pred_opt()
        };
        let mut current_streak = 0;
        while let Some(d) = cursor.filter(|d| days.contains(d)) {
            current_streak += 1;
            cursor = d.pred_opt();
        }
        let mut best_streak = 0;
        let mut run = 0;
        let mut previous: Option<NaiveDate> = None;
        for &d in days {
            run = if previous.and_then(|p| p.succ_opt()) == Some(d) {
                run + 1
            } else {
                1
            };
            best_streak = best_streak.max(run);
            previous = Some(d);
        }
        // Days of the window strictly before today (and not past its end) without a check-in.
        let last_past = today.pred_opt().map(|y| y.min(self.end()));
        let missed = match last_past {
            Some(last) if last >= self.start => {
                let span = (last - self.start).num_days() as u32 + 1;
                let checked = days.iter().filter(|&&d| d <= last).count() as u32;
                span.saturating_sub(checked)
            }
            _ => 0,
        };
        Progress {
            checked_in: days.len() as u32,
            days: self.days,
            current_streak,
            best_streak,
            missed,
            checked_in_today,
            completed: participant.is_some_and(|p| p.completed_at.is_some()),
            day_of_window: self.day_of_window(today),
        }
    }

    /// The top `n` participants: most days checked in, then longest current streak, then who
    /// got there first (earliest last check-in), then openid for a stable order.
    pub fn leaderboard(
        &self,
        participants: &[Participant],
        today: NaiveDate,
        n: usize,
    ) -> Vec<Standing> {
        let mut rows: Vec<(Standing, Option<NaiveDate>)> = participants
            .iter()
            .map(|p| {
                let pr = self.progress(Some(p), today);
                (
                    Standing {
                        rank: 0,
                        openid: p.openid.clone(),
                        checked_in: pr.checked_in,
                        current_streak: pr.current_streak,
                        completed: pr.completed,
                    },
                    p.days.last().copied(),
                )
            })
            .collect();
        rows.sort_by(|(a, a_last), (b, b_last)| {
            b.checked_in
                .cmp(&a.checked_in)
                .then(b.current_streak.cmp(&a.current_streak))
                .then(a_last.cmp(b_last))
                .then(a.openid.cmp(&b.openid))
        });
        rows.into_iter()
            .take(n)
            .enumerate()
            .map(|(i, (mut s, _))| {
                s.rank = i as u32 + 1;
                s
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn challenge(days: u32, window: Option<u32>) -> Challenge {
        NewChallenge {
            id: Some("c21".into()),
            title: "21 days".into(),
            description: String::new(),
            days,
            start: Some("2026-03-01".into()),
            window_days: window,
            reward_points: None,
        }
        .into_challenge("x".into(), d("2026-02-01"), 50, 0)
        .unwrap()
    }

    #[test]
    fn once_per_day_within_the_window() {
        let c = challenge(3, None);
        assert_eq!(c.end(), d("2026-03-03"));
        assert!(c.check_in(None, "o", d("2026-02-28"), 0).is_err());
        let p = c.check_in(None, "o", d("2026-03-01"), 0).unwrap();
        assert!(matches!(
            c.check_in(Some(p.clone()), "o", d("2026-03-01"), 0),
            Err(Error::Conflict(_))
        ));
        let p = c.check_in(Some(p), "o", d("2026-03-02"), 0).unwrap();
        assert_eq!(p.completed_at, None);
        let p = c.check_in(Some(p), "o", d("2026-03-03"), 9).unwrap();
        assert_eq!(p.completed_at, Some(9));
        assert!(c.check_in(None, "o2", d("2026-03-04"), 0).is_err());
        let mut closed = c.clone();
        closed.closed = true;
        assert!(closed.check_in(None, "o", d("2026-03-02"), 0).is_err());
        assert_eq!(c.reward_points, 50);
    }

    #[test]
    fn streaks_and_missed_days() {
        let c = challenge(5, Some(10));
        let mut p = None;
        for day in [
            "2026-03-01",
            "2026-03-02",
            "2026-03-04",
            "2026-03-05",
            "2026-03-06",
        ] {
            p = Some(c.check_in(p, "o", d(day), 0).unwrap());
        }
        let p = p.unwrap();
        assert!(p.completed_at.is_some());
        let pr = c.progress(Some(&p), d("2026-03-06"));
        assert_eq!(
            (pr.checked_in, pr.current_streak, pr.best_streak, pr.missed),
            (5, 3, 3, 1)
        );
        assert!(pr.checked_in_today && pr.completed);
        // Next day, not yet checked: the streak still counts up to yesterday.
        let pr = c.progress(Some(&p), d("2026-03-07"));
        assert_eq!(
            (pr.current_streak, pr.missed, pr.day_of_window),
            (3, 1, Some(7))
        );
        // Two days later the streak is broken and another day is missed.
        let pr = c.progress(Some(&p), d("2026-03-08"));
        assert_eq!((pr.current_streak, pr.missed), (0, 2));
        // Long after the end, missed days stop at the window's end.
        let pr = c.progress(Some(&p), d("2026-05-01"));
        assert_eq!((pr.missed, pr.day_of_window), (5, None));
        let nobody = c.progress(None, d("2026-03-03"));
        assert_eq!((nobody.checked_in, nobody.missed), (0, 2));
    }

    #[test]
    fn leaderboard_orders_by_days_then_streak() {
        let c = challenge(5, Some(10));
        let mk = |openid: &str, days: &[&str]| Participant {
            openid: openid.into(),
            days: days.iter().map(|s| d(s)).collect(),
            completed_at: None,
            reward: None,
        };
        let ps = vec![
            mk("a", &["2026-03-01", "2026-03-03"]),
            mk("b", &["2026-03-02", "2026-03-03"]),
            mk("c", &["2026-03-01", "2026-03-02", "2026-03-03"]),
            mk("d", &["2026-03-01"]),
        ];
        let board = c.leaderboard(&ps, d("2026-03-03"), 3);
        let order: Vec<(&str, u32)> = board.iter().map(|s| (s.openid.as_str(), s.rank)).collect();
        assert_eq!(order, [("c", 1), ("b", 2), ("a", 3)]);
    }

    #[test]
    fn bad_definitions_are_refused() {
        let base = || NewChallenge {
            id: None,
            title: "t".into(),
            description: String::new(),
            days: 21,
            start: None,
            window_days: None,
            reward_points: None,
        };
        let today = d("2026-03-01");
        let ok = base().into_challenge("c1".into(), today, 0, 0).unwrap();
        assert_eq!((ok.start, ok.window_days), (today, 21));
        let mut b = base();
        b.days = 0;
        assert!(b.into_challenge("c".into(), today, 0, 0).is_err());
        let mut b = base();
        b.window_days = Some(20);
        assert!(b.into_challenge("c".into(), today, 0, 0).is_err());
        let mut b = base();
        b.start = Some("2026-13-01".into());
        assert!(b.into_challenge("c".into(), today, 0, 0).is_err());
        let mut b = base();
        b.reward_points = Some(-1);
        assert!(b.into_challenge("c".into(), today, 0, 0).is_err());
    }
}
