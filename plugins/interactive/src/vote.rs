//! Votes and polls (投票): the definition an operator creates, and the rules a ballot must meet.
//!
//! Pure logic only; storage (one ballot per follower, counters) lives in [`crate::routes`].

use plaza_sdk::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::text::{check_id, check_text};

/// Most options a vote may offer.
pub const MAX_OPTIONS: usize = 30;

/// A vote as stored under `votes/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Option labels; a ballot names options by their 0-based index.
    pub options: Vec<String>,
    /// Multiple choice (多选) when true, single choice (单选) otherwise.
    #[serde(default)]
    pub multiple: bool,
    /// Multiple choice: most options one ballot may name (none = all).
    #[serde(default)]
    pub max_choices: Option<u32>,
    /// Ms since the epoch after which ballots are refused; none = open until closed.
    #[serde(default)]
    pub deadline: Option<u64>,
    #[serde(default)]
    pub closed: bool,
    pub created_at: u64,
}

/// The body of `POST /admin/votes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewVote {
    #[serde(default)]
    pub id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub options: Vec<String>,
    #[serde(default)]
    pub multiple: bool,
    #[serde(default)]
    pub max_choices: Option<u32>,
    #[serde(default)]
    pub deadline: Option<u64>,
}

/// The body of `PATCH /admin/votes/{id}`: what an operator may change after creation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VotePatch {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `null` removes the deadline; absent leaves it.
    #[serde(default, with = "double_option")]
    pub deadline: Option<Option<u64>>,
}

/// Where a vote stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteStatus {
    Open,
    /// The deadline has passed.
    Ended,
    /// An operator closed it.
    Closed,
}

impl NewVote {
    /// The vote this body describes, checked; `id` is used when the body names none.
    pub fn into_vote(self, id: String, now: u64) -> Result<Vote> {
        let id = match self.id {
            Some(given) => {
                check_id("id", &given)?;
                given
            }
            None => id,
        };
        check_text("title", &self.title, 1, 200)?;
        check_text("description", &self.description, 0, 2000)?;
        if !(2..=MAX_OPTIONS).contains(&self.options.len()) {
            return Err(Error::invalid(format!(
                "a vote needs 2 to {MAX_OPTIONS} options, not {}",
                self.options.len()
            )));
        }
        for (i, label) in self.options.iter().enumerate() {
            check_text(&format!("options[{i}]"), label, 1, 200)?;
            if self.options[..i].iter().any(|o| o.trim() == label.trim()) {
                return Err(Error::invalid(format!(
                    "options[{i}] {label:?} appears twice"
                )));
            }
        }
        if let Some(max) = self.max_choices {
            if !self.multiple {
                return Err(Error::invalid(
                    "max_choices only applies to a multiple-choice vote (multiple: true)",
                ));
            }
            if max == 0 || max as usize > self.options.len() {
                return Err(Error::invalid(format!(
                    "max_choices must be 1 to {} (the number of options), not {max}",
                    self.options.len()
                )));
            }
        }
        if let Some(deadline) = self.deadline
            && deadline <= now
        {
            return Err(Error::invalid(format!(
                "deadline {deadline} is not in the future (now is {now}, ms since the epoch)"
            )));
        }
        Ok(Vote {
            id,
            title: self.title.trim().to_string(),
            description: self.description.trim().to_string(),
            options: self.options.iter().map(|o| o.trim().to_string()).collect(),
            multiple: self.multiple,
            max_choices: self.max_choices,
            deadline: self.deadline,
            closed: false,
            created_at: now,
        })
    }
}

impl VotePatch {
    /// `vote` with this patch applied, checked.
    pub fn apply(&self, mut vote: Vote) -> Result<Vote> {
        if let Some(title) = &self.title {
            check_text("title", title, 1, 200)?;
            vote.title = title.trim().to_string();
        }
        if let Some(description) = &self.description {
            check_text("description", description, 0, 2000)?;
            vote.description = description.trim().to_string();
        }
        if let Some(deadline) = self.deadline {
            vote.deadline = deadline;
        }
        Ok(vote)
    }
}

impl Vote {
    /// Open, ended (deadline passed) or closed at `now`.
    pub fn status(&self, now: u64) -> VoteStatus {
        if self.closed {
            VoteStatus::Closed
        } else if self.deadline.is_some_and(|d| now >= d) {
            VoteStatus::Ended
        } else {
            VoteStatus::Open
        }
    }

    /// The options a ballot names, checked against this vote at `now`: open, at least one,
    /// each an index of an option, no repeats, one for single choice, at most `max_choices`.
    /// Returned sorted.
    pub fn check_ballot(&self, choices: &[usize], now: u64) -> Result<Vec<usize>> {
        match self.status(now) {
            VoteStatus::Open => {}
            VoteStatus::Ended => {
                return Err(Error::conflict(
                    "voting has ended (the deadline has passed) / 投票已截止",
                ));
            }
            VoteStatus::Closed => {
                return Err(Error::conflict("this vote is closed / 投票已关闭"));
            }
        }
        let mut sorted = choices.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != choices.len() {
            return Err(Error::invalid("an option is chosen twice"));
        }
        if sorted.is_empty() {
            return Err(Error::invalid("choose an option / 请选择一个选项"));
        }
        if let Some(&bad) = sorted.iter().find(|&&i| i >= self.options.len()) {
            return Err(Error::invalid(format!(
                "option {bad} does not exist; options are 0 to {}",
                self.options.len() - 1
            )));
        }
        if !self.multiple && sorted.len() > 1 {
            return Err(Error::invalid(
                "this vote is single choice: choose one option / 单选，请只选一项",
            ));
        }
        let max = self.max_choices.map_or(self.options.len(), |m| m as usize);
        if sorted.len() > max {
            return Err(Error::invalid(format!(
                "choose at most {max} options / 最多选择 {max} 项"
            )));
        }
        Ok(sorted)
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_vote(multiple: bool, max: Option<u32>) -> NewVote {
        NewVote {
            id: None,
            title: "Lunch?".into(),
            description: String::new(),
            options: vec!["noodles".into(), "rice".into(), "dumplings".into()],
            multiple,
            max_choices: max,
            deadline: Some(2_000),
        }
    }

    #[test]
    fn creation_checks_options_and_deadline() {
        let v = new_vote(false, None).into_vote("v1".into(), 1_000).unwrap();
        assert_eq!((v.id.as_str(), v.options.len()), ("v1", 3));
        let mut one = new_vote(false, None);
        one.options.truncate(1);
        assert!(matches!(
            one.into_vote("v".into(), 0),
            Err(Error::Invalid(_))
        ));
        let mut twice = new_vote(false, None);
        twice.options[1] = " noodles ".into();
        assert!(twice.into_vote("v".into(), 0).is_err());
        assert!(new_vote(false, None).into_vote("v".into(), 2_000).is_err());
        assert!(new_vote(false, Some(2)).into_vote("v".into(), 0).is_err());
        assert!(new_vote(true, Some(4)).into_vote("v".into(), 0).is_err());
        let mut bad_id = new_vote(false, None);
        bad_id.id = Some("a/b".into());
        assert!(bad_id.into_vote("v".into(), 0).is_err());
    }

    #[test]
    fn ballots_follow_the_vote_rules() {
        let single = new_vote(false, None).into_vote("v".into(), 0).unwrap();
        assert_eq!(single.check_ballot(&[1], 10).unwrap(), vec![1]);
        assert!(single.check_ballot(&[0, 1], 10).is_err());
        assert!(single.check_ballot(&[], 10).is_err());
        assert!(single.check_ballot(&[3], 10).is_err());
        assert!(matches!(
            single.check_ballot(&[0], 2_000),
            Err(Error::Conflict(_))
        ));
        let multi = new_vote(true, Some(2)).into_vote("v".into(), 0).unwrap();
        assert_eq!(multi.check_ballot(&[2, 0], 10).unwrap(), vec![0, 2]);
        assert!(multi.check_ballot(&[0, 1, 2], 10).is_err());
        assert!(multi.check_ballot(&[1, 1], 10).is_err());
        let mut closed = multi.clone();
        closed.closed = true;
        assert_eq!(closed.status(10), VoteStatus::Closed);
        assert!(closed.check_ballot(&[0], 10).is_err());
    }

    #[test]
    fn patch_moves_or_removes_the_deadline() {
        let v = new_vote(false, None).into_vote("v".into(), 0).unwrap();
        let p: VotePatch = serde_json::from_str(r#"{"deadline": 5}"#).unwrap();
        assert_eq!(p.apply(v.clone()).unwrap().deadline, Some(5));
        let p: VotePatch = serde_json::from_str(r#"{"deadline": null}"#).unwrap();
        assert_eq!(p.apply(v.clone()).unwrap().deadline, None);
        let p: VotePatch = serde_json::from_str(r#"{"title": "x"}"#).unwrap();
        assert_eq!(p.apply(v).unwrap().deadline, Some(2_000));
    }
}
