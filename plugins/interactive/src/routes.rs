//! The plugin's HTTP routes, message keywords and queries: the glue between the host (storage,
//! signed links, events, membership) and the pure modules ([`crate::vote`], [`crate::survey`],
//! [`crate::challenge`], [`crate::favourites`], [`crate::pages`]).
//!
//! Storage keys (this plugin's namespace on the account):
//!
//! | key | value |
//! |---|---|
//! | `seq/{kind}` | counter behind generated ids (`v1`, `s1`, `c1`) |
//! | `votes/{id}` | [`Vote`] |
//! | `ballots/{id}/{openid}` | the follower's ballot: option indexes (JSON) |
//! | `tally/{id}/{option}` | counter: ballots naming the option |
//! | `voters/{id}` | counter: ballots |
//! | `surveys/{id}` | [`Survey`] |
//! | `responses/{id}/{openid}` | [`Response`] |
//! | `answered/{id}` | counter: responses |
//! | `challenges/{id}` | [`Challenge`] |
//! | `checkins/{id}/{openid}` | [`Participant`] |
//! | `favourites/{openid}/{article}` | [`Favourite`] |
//!
//! A ballot and a response are written with their counters in one `storage::batch` guarded by
//! `Check::absent` of the follower's key: a second ballot (or two at once) from one follower
//! can never count twice. A check-in is a compare-and-swap of the participant record
//! (`storage::update_json`), so a day is counted once however often the button is pressed.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use plaza_sdk::prelude::*;
use plaza_sdk::router::{Access, Request, Router, error_response};
use plaza_sdk::storage::{self, BatchOutcome, Check, Write};
use plaza_sdk::{Header, events, links, log, plugins};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::challenge::{Challenge, NewChallenge, Participant};
use crate::config::{Config, Section};
use crate::favourites::{self, Favourite};
use crate::pages::{self, ChallengeView, ListItem, Notice, SurveyView, VoteView};
use crate::shortcode::{self, Piece};
use crate::survey::{self, NewSurvey, Response, Survey};
use crate::text::{check_id, local_date, local_time, mask_openid, now_ms, timezone};
use crate::vote::{NewVote, Vote, VotePatch, VoteStatus};

/// What every handler needs: the configuration and the account's timezone.
pub struct Env {
    pub config: Config,
    pub tz: Tz,
}

impl Env {
    pub fn new(ctx: &CallContext) -> Result<Env> {
        Ok(Env {
            config: plaza_sdk::config::parse()?,
            tz: timezone(&ctx.account.timezone),
        })
    }

    /// A signed link for `openid` to one of this plugin's pages.
    fn signed(&self, openid: &str, path: &str) -> Result<String> {
        links::follower_url(openid, path, self.config.link_ttl_seconds())
    }
}

/// The openid a public URL is derived for (see [`public_url`]); never a real follower's.
const PUBLIC_OPENID: &str = "interactive-public-url";

/// The absolute URL of one of this plugin's pages, without a follower token. The host offers no
/// "base URL" call, so this asks for a one-second follower link and drops its token: the URL
/// then opens the page's public view.
pub fn public_url(path: &str) -> Result<String> {
    Ok(strip_token(&links::follower_url(PUBLIC_OPENID, path, 1)?))
}

/// `url` without its `plaza_token` query parameter.
fn strip_token(url: &str) -> String {
    let Some(at) = url
        .find("?plaza_token=")
        .or_else(|| url.find("&plaza_token="))
    else {
        return url.to_string();
    };
    let after = &url[at + 1..];
    match after.find(['&', '#']) {
        None => url[..at].to_string(),
        Some(end) => {
            let tail = &after[end..];
            if url[at..].starts_with('?') && tail.starts_with('&') {
                format!("{}?{}", &url[..at], &tail[1..])
            } else {
                format!("{}{}", &url[..at], tail)
            }
        }
    }
}

/// The route table.
pub fn handle(ctx: &CallContext, req: &HttpRequest) -> Result<HttpResponse> {
    let env = Env::new(ctx)?;
    let env = &env;
    Router::new()
        // Operators (JSON).
        .post("/admin/votes", Access::Operator, |r| create_vote(env, r))
        .get("/admin/votes", Access::Operator, |_| list_votes_json())
        .get("/admin/votes/{id}", Access::Operator, |r| {
            let vote = load_vote(r.param("id"))?;
            Ok(HttpResponse::json(200, &vote_results(env, &vote)?))
        })
        .patch("/admin/votes/{id}", Access::Operator, |r| {
            let patch: VotePatch = r.json()?;
            let vote = update_existing(&format!("votes/{}", r.param("id")), "vote", |v| {
                patch.apply(v)
            })?;
            Ok(HttpResponse::json(200, &vote))
        })
        .post("/admin/votes/{id}/close", Access::Operator, |r| {
            let vote = update_existing(&format!("votes/{}", r.param("id")), "vote", |mut v: Vote| {
                v.closed = true;
                Ok(v)
            })?;
            Ok(HttpResponse::json(200, &vote))
        })
        .post("/admin/surveys", Access::Operator, create_survey)
        .get("/admin/surveys", Access::Operator, |_| list_surveys_json())
        .get("/admin/surveys/{id}", Access::Operator, |r| {
            let survey = load_survey(r.param("id"))?;
            let answered = counter(&format!("answered/{}", survey.id))?;
            Ok(HttpResponse::json(
                200,
                &json!({"survey": survey, "answered": answered}),
            ))
        })
        .post("/admin/surveys/{id}/close", Access::Operator, |r| {
            let survey = update_existing(
                &format!("surveys/{}", r.param("id")),
                "questionnaire",
                |mut s: Survey| {
                    s.closed = true;
                    Ok(s)
                },
            )?;
            Ok(HttpResponse::json(200, &survey))
        })
        .get("/admin/surveys/{id}/responses", Access::Operator, |r| {
            let survey = load_survey(r.param("id"))?;
            let responses = load_responses(&survey.id)?;
            Ok(HttpResponse::json(200, &json!({"responses": responses})))
        })
        .get("/admin/surveys/{id}/responses.csv", Access::Operator, |r| {
            export_csv(env, r.param("id"))
        })
        .post("/admin/challenges", Access::Operator, |r| create_challenge(env, r))
        .get("/admin/challenges", Access::Operator, |_| list_challenges_json())
        .get("/admin/challenges/{id}", Access::Operator, |r| {
            let ch = load_challenge(r.param("id"))?;
            let participants = load_participants(&ch.id)?;
            let today = local_date(now_ms(), env.tz);
            let board = ch.leaderboard(&participants, today, participants.len());
            Ok(HttpResponse::json(
                200,
                &json!({"challenge": ch, "end": ch.end(), "participants": participants.len(), "leaderboard": board}),
            ))
        })
        .post("/admin/challenges/{id}/close", Access::Operator, |r| {
            let ch = update_existing(
                &format!("challenges/{}", r.param("id")),
                "challenge",
                |mut c: Challenge| {
                    c.closed = true;
                    Ok(c)
                },
            )?;
            Ok(HttpResponse::json(200, &ch))
        })
        .post("/admin/render", Access::Operator, |r| {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Body {
                text: String,
            }
            let body: Body = r.json()?;
            Ok(HttpResponse::json(
                200,
                &json!({"html": render_text(env, &body.text, None)?}),
            ))
        })
        // Followers (HTML pages, JSON when asked) and public views.
        .get("/votes", Access::Follower, |r| {
            html_errors(|| votes_list_page(env, r.follower()?))
        })
        .get("/votes/{id}", Access::Public, |r| {
            html_errors(|| {
                let vote = load_vote(r.param("id"))?;
                vote_page(env, &vote, r.ctx.follower.as_deref(), None, 200)
            })
        })
        .post("/votes/{id}", Access::Follower, |r| cast_vote(env, r))
        .get("/votes/{id}/results", Access::Public, |r| {
            let vote = load_vote(r.param("id"))?;
            Ok(HttpResponse::json(200, &vote_results(env, &vote)?))
        })
        .get("/surveys", Access::Follower, |r| {
            html_errors(|| surveys_list_page(env, r.follower()?))
        })
        .get("/surveys/{id}", Access::Public, |r| {
            html_errors(|| {
                let survey = load_survey(r.param("id"))?;
                survey_page(env, &survey, r.ctx.follower.as_deref(), &BTreeMap::new(), &[], None, 200)
            })
        })
        .post("/surveys/{id}", Access::Follower, |r| submit_survey(env, r))
        .get("/challenges", Access::Follower, |r| {
            html_errors(|| challenges_list_page(env, r.follower()?))
        })
        .get("/challenges/{id}", Access::Public, |r| {
            html_errors(|| {
                let ch = load_challenge(r.param("id"))?;
                challenge_page(env, &ch, r.ctx.follower.as_deref(), None, 200)
            })
        })
        .post("/challenges/{id}", Access::Follower, |r| checkin_route(env, r))
        .get("/challenges/{id}/leaderboard", Access::Public, |r| {
            let ch = load_challenge(r.param("id"))?;
            let participants = load_participants(&ch.id)?;
            let today = local_date(now_ms(), env.tz);
            let board = ch.leaderboard(&participants, today, env.config.leaderboard_size as usize);
            let rows: Vec<Value> = board
                .iter()
                .map(|s| {
                    // Operators see openids; everyone else a masked form.
                    let who = if r.ctx.operator {
                        s.openid.clone()
                    } else {
                        mask_openid(&s.openid)
                    };
                    json!({"rank": s.rank, "follower": who, "checked_in": s.checked_in,
                           "current_streak": s.current_streak, "completed": s.completed})
                })
                .collect();
            Ok(HttpResponse::json(
                200,
                &json!({"challenge": ch.id, "today": today, "participants": participants.len(), "leaderboard": rows}),
            ))
        })
        .get("/favourites", Access::Follower, |r| {
            let openid = r.follower()?;
            if wants_json(r) {
                return Ok(HttpResponse::json(
                    200,
                    &json!({"favourites": load_favourites(openid)?}),
                ));
            }
            html_errors(|| favourites_page(env, openid, None, 200))
        })
        .get("/favourites/add", Access::Follower, |r| {
            html_errors(|| {
                let openid = r.follower()?;
                let fav = Favourite::from_pairs(&r.query_pairs(), 0);
                fav.check()?;
                let action = env.signed(openid, "/favourites")?;
                Ok(pages::respond(
                    200,
                    "收藏文章 / Save article",
                    &pages::favourite_confirm_body(&fav, &action),
                ))
            })
        })
        .post("/favourites", Access::Follower, |r| add_favourite_route(env, r))
        .post("/favourites/{article}/delete", Access::Follower, |r| {
            let openid = r.follower()?;
            html_errors(|| {
                let removed = remove_favourite(openid, r.param("article"))?;
                let notice = if removed {
                    Notice::Ok("已取消收藏 / Removed".into())
                } else {
                    Notice::Error("不在收藏中 / Not in your favourites".into())
                };
                favourites_page(env, openid, Some(notice), 200)
            })
        })
        .delete("/favourites/{article}", Access::Follower, |r| {
            let openid = r.follower()?;
            if remove_favourite(openid, r.param("article"))? {
                Ok(HttpResponse::json(200, &json!({"removed": true})))
            } else {
                Err(Error::not_found(format!(
                    "article {:?} is not in your favourites",
                    r.param("article")
                )))
            }
        })
        .handle(ctx, req)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// Whether the caller wants JSON rather than a page: a JSON body, `Accept: application/json`,
/// or `?format=json`.
fn wants_json(r: &Request<'_>) -> bool {
    let has = |name: &str| {
        r.http
            .header(name)
            .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"))
    };
    has("content-type") || has("accept") || r.query("format").as_deref() == Some("json")
}

/// An error as a page (for followers' browsers) with the status that matches its code.
fn error_page(e: &Error) -> HttpResponse {
    let status = error_response(e).status;
    pages::respond(
        status,
        "出错了 / Something went wrong",
        &format!(
            "<h1>出错了 / Something went wrong</h1><p class=\"notice error\" role=\"alert\">{}</p>",
            plaza_sdk::html::escape(e.message())
        ),
    )
}

fn html_errors(f: impl FnOnce() -> Result<HttpResponse>) -> Result<HttpResponse> {
    Ok(f().unwrap_or_else(|e| error_page(&e)))
}

/// The JSON value under `key`, or `not-found` naming the `what` and id.
fn load<T: DeserializeOwned>(key: &str, what: &str, id: &str) -> Result<T> {
    storage::get_json(key)?.ok_or_else(|| Error::not_found(format!("no {what} {id:?}")))
}

fn load_vote(id: &str) -> Result<Vote> {
    load(&format!("votes/{id}"), "vote", id)
}

fn load_survey(id: &str) -> Result<Survey> {
    load(&format!("surveys/{id}"), "questionnaire", id)
}

fn load_challenge(id: &str) -> Result<Challenge> {
    load(&format!("challenges/{id}"), "challenge", id)
}

/// The counter under `key` (absent: 0).
fn counter(key: &str) -> Result<i64> {
    Ok(storage::get_string(key)?
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0))
}

/// Every JSON value under `prefix`.
fn scan_values<T: DeserializeOwned>(prefix: &str) -> Result<Vec<T>> {
    storage::scan_prefix_json::<T>(prefix)
        .map(|entry| entry.map(|(_, v)| v))
        .collect()
}

/// Stores `value` under `key` only if the key is new; `conflict` otherwise.
fn insert_new<T: Serialize>(key: &str, what: &str, id: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Error::internal(format!("cannot encode the {what}: {e}")))?;
    match storage::batch(&[Check::absent(key)], &[Write::set(key, bytes)])? {
        BatchOutcome::Applied => Ok(()),
        BatchOutcome::CheckFailed(_) => Err(Error::conflict(format!(
            "a {what} with id {id:?} already exists"
        ))),
    }
}

/// Read-modify-write of an existing record; `not-found` if there is none.
fn update_existing<T: Serialize + DeserializeOwned>(
    key: &str,
    what: &str,
    mut f: impl FnMut(T) -> Result<T>,
) -> Result<T> {
    let id = key.rsplit('/').next().unwrap_or(key).to_string();
    storage::update_json(key, |current: Option<T>| match current {
        None => Err(Error::not_found(format!("no {what} {id:?}"))),
        Some(v) => f(v).map(Some),
    })?
    .ok_or_else(|| Error::internal(format!("the {what} vanished while being updated")))
}

/// A fresh generated id `{letter}{n}` whose record key is free.
fn fresh_id(letter: char, kind: &str) -> Result<String> {
    for _ in 0..20 {
        let n = storage::increment(&format!("seq/{kind}"), 1)?;
        let id = format!("{letter}{n}");
        if storage::get(&format!("{kind}/{id}"))?.is_none() {
            return Ok(id);
        }
    }
    Err(Error::conflict(format!(
        "could not find a free id for a new {kind} entry; give one with \"id\""
    )))
}

/// Records a plugin event for analytics; a missing `events.emit` grant only loses the event.
fn emit(kind: &str, openid: &str, properties: &[(&str, &str)]) {
    if let Err(e) = events::emit(kind, Some(openid), properties) {
        log::warn(format!("event {kind} not recorded: {}", e.display()));
    }
}

// ---------------------------------------------------------------------------------------------
// Votes

fn create_vote(env: &Env, r: &Request<'_>) -> Result<HttpResponse> {
    let new: NewVote = r.json()?;
    let fallback = match new.id {
        None => fresh_id('v', "votes")?,
        Some(_) => String::new(),
    };
    let vote = new.into_vote(fallback, now_ms())?;
    insert_new(&format!("votes/{}", vote.id), "vote", &vote.id, &vote)?;
    let url = public_url(&format!("/votes/{}", vote.id))?;
    let _ = env;
    Ok(HttpResponse::json(201, &json!({"vote": vote, "url": url})))
}

fn list_votes_json() -> Result<HttpResponse> {
    let now = now_ms();
    let mut out = Vec::new();
    for vote in scan_values::<Vote>("votes/")? {
        let voters = counter(&format!("voters/{}", vote.id))?;
        out.push(json!({"vote": vote, "status": vote.status(now), "voters": voters}));
    }
    Ok(HttpResponse::json(200, &json!({"votes": out})))
}

/// Per-option ballot counts and the number of ballots.
fn tallies(vote: &Vote) -> Result<(Vec<i64>, i64)> {
    let mut counts = vec![0; vote.options.len()];
    for entry in storage::scan_prefix(&format!("tally/{}/", vote.id)) {
        let entry = entry?;
        let index = entry
            .key
            .rsplit('/')
            .next()
            .and_then(|i| i.parse::<usize>().ok());
        let value = std::str::from_utf8(&entry.value)
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok());
        if let (Some(i), Some(v)) = (index, value)
            && i < counts.len()
        {
            counts[i] = v;
        }
    }
    Ok((counts, counter(&format!("voters/{}", vote.id))?))
}

/// The live results as JSON (public route, operator route, cast answer).
fn vote_results(env: &Env, vote: &Vote) -> Result<Value> {
    let (counts, voters) = tallies(vote)?;
    let options: Vec<Value> = vote
        .options
        .iter()
        .enumerate()
        .map(|(i, label)| json!({"index": i, "label": label, "votes": counts[i]}))
        .collect();
    Ok(json!({
        "id": vote.id,
        "title": vote.title,
        "multiple": vote.multiple,
        "status": vote.status(now_ms()),
        "deadline": vote.deadline,
        "deadline_local": vote.deadline.map(|d| local_time(d, env.tz)),
        "voters": voters,
        "options": options,
    }))
}

/// One ballot per follower: the ballot and every counter in one batch that only applies while
/// the follower's ballot key is absent.
fn record_ballot(vote: &Vote, openid: &str, choices: &[usize]) -> Result<()> {
    let ballot_key = format!("ballots/{}/{openid}", vote.id);
    let ballot = serde_json::to_vec(choices)
        .map_err(|e| Error::internal(format!("cannot encode the ballot: {e}")))?;
    let mut writes = vec![
        Write::set(ballot_key.clone(), ballot),
        Write::increment(format!("voters/{}", vote.id), 1),
    ];
    for i in choices {
        writes.push(Write::increment(format!("tally/{}/{i}", vote.id), 1));
    }
    match storage::batch(&[Check::absent(ballot_key)], &writes)? {
        BatchOutcome::Applied => {
            let options: Vec<String> = choices.iter().map(usize::to_string).collect();
            emit(
                "interactive.vote.cast",
                openid,
                &[("vote", &vote.id), ("options", &options.join(","))],
            );
            Ok(())
        }
        BatchOutcome::CheckFailed(_) => {
            Err(Error::conflict("you have already voted / 您已经投过票了"))
        }
    }
}

fn cast_vote(env: &Env, r: &Request<'_>) -> Result<HttpResponse> {
    let openid = r.follower()?.clone();
    let json = wants_json(r);
    let vote = match load_vote(r.param("id")) {
        Ok(v) => v,
        Err(e) if !json => return Ok(error_page(&e)),
        Err(e) => return Err(e),
    };
    let chosen: Result<Vec<usize>> = if json {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Ballot {
            options: Vec<usize>,
        }
        r.json::<Ballot>().map(|b| b.options)
    } else {
        r.form()
            .iter()
            .filter(|(name, _)| name == "option")
            .map(|(_, v)| {
                v.parse::<usize>()
                    .map_err(|_| Error::invalid(format!("option {v:?} is not an option number")))
            })
            .collect()
    };
    let outcome = chosen
        .and_then(|c| vote.check_ballot(&c, now_ms()))
        .and_then(|c| record_ballot(&vote, &openid, &c).map(|()| c));
    match (json, outcome) {
        (true, Ok(choices)) => Ok(HttpResponse::json(
            200,
            &json!({"voted": choices, "results": vote_results(env, &vote)?}),
        )),
        (true, Err(e)) => Err(e),
        (false, Ok(_)) => vote_page(
            env,
            &vote,
            Some(&openid),
            Some(Notice::Ok("投票成功，谢谢！/ Thanks for voting!".into())),
            200,
        ),
        (false, Err(e)) => {
            let status = error_response(&e).status;
            vote_page(
                env,
                &vote,
                Some(&openid),
                Some(Notice::Error(e.message().to_string())),
                status,
            )
        }
    }
}

fn vote_page(
    env: &Env,
    vote: &Vote,
    openid: Option<&str>,
    notice: Option<Notice>,
    status: u16,
) -> Result<HttpResponse> {
    let (counts, voters) = tallies(vote)?;
    let vote_status = vote.status(now_ms());
    let mine: Option<Vec<usize>> = match openid {
        Some(o) => storage::get_json(&format!("ballots/{}/{o}", vote.id))?,
        None => None,
    };
    let action = match openid {
        Some(o) if vote_status == VoteStatus::Open && mine.is_none() => {
            Some(env.signed(o, &format!("/votes/{}", vote.id))?)
        }
        _ => None,
    };
    let notice = notice.or_else(|| {
        (openid.is_none() && vote_status == VoteStatus::Open).then(|| {
            Notice::Ok(
                "在公众号消息中打开链接即可投票 / open the link the account sent you to vote"
                    .into(),
            )
        })
    });
    let body = pages::vote_body(
        vote,
        &VoteView {
            tallies: &counts,
            voters,
            status: vote_status,
            mine: mine.as_deref(),
            action: action.as_deref(),
            notice: notice.as_ref(),
            deadline: vote.deadline.map(|d| local_time(d, env.tz)),
        },
    );
    Ok(pages::respond(status, &vote.title, &body))
}

fn votes_list_page(env: &Env, openid: &str) -> Result<HttpResponse> {
    let now = now_ms();
    let mut votes = scan_values::<Vote>("votes/")?;
    votes.retain(|v| !v.closed);
    votes.sort_by_key(|v| std::cmp::Reverse(v.created_at));
    let items = votes
        .iter()
        .map(|v| {
            Ok(ListItem {
                title: v.title.clone(),
                url: env.signed(openid, &format!("/votes/{}", v.id))?,
                status: pages::vote_status_text(v.status(now)).to_string(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(pages::respond(
        200,
        "投票 / Votes",
        &pages::list_body("投票 / Votes", &items, "暂无投票 / no votes yet"),
    ))
}

// ---------------------------------------------------------------------------------------------
// Questionnaires

fn create_survey(r: &Request<'_>) -> Result<HttpResponse> {
    let new: NewSurvey = r.json()?;
    let fallback = match new.id {
        None => fresh_id('s', "surveys")?,
        Some(_) => String::new(),
    };
    let survey = new.into_survey(fallback, now_ms())?;
    insert_new(
        &format!("surveys/{}", survey.id),
        "questionnaire",
        &survey.id,
        &survey,
    )?;
    let url = public_url(&format!("/surveys/{}", survey.id))?;
    Ok(HttpResponse::json(
        201,
        &json!({"survey": survey, "url": url}),
    ))
}

fn list_surveys_json() -> Result<HttpResponse> {
    let mut out = Vec::new();
    for survey in scan_values::<Survey>("surveys/")? {
        let answered = counter(&format!("answered/{}", survey.id))?;
        out.push(json!({"survey": survey, "answered": answered}));
    }
    Ok(HttpResponse::json(200, &json!({"surveys": out})))
}

fn load_responses(survey: &str) -> Result<Vec<Response>> {
    let mut responses = scan_values::<Response>(&format!("responses/{survey}/"))?;
    responses.sort_by(|a, b| {
        a.submitted_at
            .cmp(&b.submitted_at)
            .then(a.openid.cmp(&b.openid))
    });
    Ok(responses)
}

fn export_csv(env: &Env, id: &str) -> Result<HttpResponse> {
    let survey = load_survey(id)?;
    let responses = load_responses(&survey.id)?;
    let tz = env.tz;
    let bytes = survey::to_csv(&survey, &responses, |t| local_time(t, tz))?;
    Ok(HttpResponse {
        status: 200,
        headers: vec![
            Header {
                name: "content-type".into(),
                value: "text/csv; charset=utf-8".into(),
            },
            Header {
                name: "content-disposition".into(),
                value: format!("attachment; filename=\"survey-{}.csv\"", survey.id),
            },
        ],
        body: bytes,
    })
}

fn submit_survey(env: &Env, r: &Request<'_>) -> Result<HttpResponse> {
    let openid = r.follower()?.clone();
    let json = wants_json(r);
    let survey = match load_survey(r.param("id")) {
        Ok(s) => s,
        Err(e) if !json => return Ok(error_page(&e)),
        Err(e) => return Err(e),
    };
    let raw = if json {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            answers: serde_json::Map<String, Value>,
        }
        survey::raw_from_json(&r.json::<Body>()?.answers)?
    } else {
        survey::raw_from_form(&r.form())
    };
    let checked = survey
        .check_open(now_ms())
        .map_err(Err)
        .and_then(|()| survey.validate(&raw).map_err(Ok));
    let answers = match checked {
        Ok(answers) => answers,
        // Field errors: JSON lists them, the page shows each under its field.
        Err(Ok(errors)) => {
            if json {
                return Ok(HttpResponse::json(
                    400,
                    &json!({"error": {"code": "invalid",
                        "message": format!("{} answer(s) are not valid / 部分答案无效", errors.len()),
                        "fields": errors}}),
                ));
            }
            let notice =
                Notice::Error("请检查标出的问题 / please correct the marked answers".into());
            return survey_page(
                env,
                &survey,
                Some(&openid),
                &raw,
                &errors,
                Some(notice),
                400,
            );
        }
        Err(Err(e)) => {
            if json {
                return Err(e);
            }
            let status = error_response(&e).status;
            return survey_page(
                env,
                &survey,
                Some(&openid),
                &raw,
                &[],
                Some(Notice::Error(e.message().to_string())),
                status,
            );
        }
    };
    let key = format!("responses/{}/{openid}", survey.id);
    let response = Response {
        openid: openid.clone(),
        submitted_at: now_ms(),
        answers,
    };
    let bytes = serde_json::to_vec(&response)
        .map_err(|e| Error::internal(format!("cannot encode the response: {e}")))?;
    let outcome = storage::batch(
        &[Check::absent(key.clone())],
        &[
            Write::set(key, bytes),
            Write::increment(format!("answered/{}", survey.id), 1),
        ],
    )?;
    if let BatchOutcome::CheckFailed(_) = outcome {
        let e = Error::conflict("you have already answered / 您已经提交过了");
        if json {
            return Err(e);
        }
        return survey_page(
            env,
            &survey,
            Some(&openid),
            &BTreeMap::new(),
            &[],
            Some(Notice::Error(e.message().to_string())),
            409,
        );
    }
    emit(
        "interactive.survey.submitted",
        &openid,
        &[("survey", &survey.id)],
    );
    if json {
        return Ok(HttpResponse::json(
            200,
            &json!({"submitted": true, "answers": response.answers}),
        ));
    }
    survey_page(
        env,
        &survey,
        Some(&openid),
        &BTreeMap::new(),
        &[],
        Some(Notice::Ok(
            "提交成功，谢谢！/ Thank you for your answers!".into(),
        )),
        200,
    )
}

fn survey_page(
    env: &Env,
    survey: &Survey,
    openid: Option<&str>,
    values: &BTreeMap<String, Vec<String>>,
    errors: &[survey::FieldError],
    notice: Option<Notice>,
    status: u16,
) -> Result<HttpResponse> {
    let open = survey.check_open(now_ms());
    let answered = match openid {
        Some(o) => storage::get(&format!("responses/{}/{o}", survey.id))?.is_some(),
        None => false,
    };
    let action = match openid {
        Some(o) if open.is_ok() && !answered => {
            Some(env.signed(o, &format!("/surveys/{}", survey.id))?)
        }
        _ => None,
    };
    let notice = notice.or_else(|| match (&open, openid, answered) {
        (Err(e), _, _) => Some(Notice::Error(e.message().to_string())),
        (Ok(()), None, _) => Some(Notice::Ok(
            "在公众号消息中打开链接即可填写 / open the link the account sent you to answer".into(),
        )),
        (Ok(()), Some(_), true) => Some(Notice::Ok("您已提交 / you have answered".into())),
        _ => None,
    });
    let body = pages::survey_body(
        survey,
        &SurveyView {
            action: action.as_deref(),
            values,
            errors,
            notice: notice.as_ref(),
        },
    );
    Ok(pages::respond(status, &survey.title, &body))
}

fn surveys_list_page(env: &Env, openid: &str) -> Result<HttpResponse> {
    let now = now_ms();
    let mut surveys = scan_values::<Survey>("surveys/")?;
    surveys.retain(|s| s.check_open(now).is_ok());
    surveys.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    let items = surveys
        .iter()
        .map(|s| {
            Ok(ListItem {
                title: s.title.clone(),
                url: env.signed(openid, &format!("/surveys/{}", s.id))?,
                status: format!("{} 个问题 / questions", s.fields.len()),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(pages::respond(
        200,
        "问卷 / Questionnaires",
        &pages::list_body(
            "问卷 / Questionnaires",
            &items,
            "暂无问卷 / no questionnaires",
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// Challenges

fn create_challenge(env: &Env, r: &Request<'_>) -> Result<HttpResponse> {
    let new: NewChallenge = r.json()?;
    let fallback = match new.id {
        None => fresh_id('c', "challenges")?,
        Some(_) => String::new(),
    };
    let now = now_ms();
    let ch = new.into_challenge(
        fallback,
        local_date(now, env.tz),
        env.config.default_reward_points,
        now,
    )?;
    insert_new(&format!("challenges/{}", ch.id), "challenge", &ch.id, &ch)?;
    let url = public_url(&format!("/challenges/{}", ch.id))?;
    Ok(HttpResponse::json(
        201,
        &json!({"challenge": ch, "end": ch.end(), "url": url}),
    ))
}

fn list_challenges_json() -> Result<HttpResponse> {
    let mut out = Vec::new();
    for ch in scan_values::<Challenge>("challenges/")? {
        let end = ch.end();
        out.push(json!({"challenge": ch, "end": end}));
    }
    Ok(HttpResponse::json(200, &json!({"challenges": out})))
}

fn load_participants(challenge: &str) -> Result<Vec<Participant>> {
    scan_values(&format!("checkins/{challenge}/"))
}

/// The membership answer to `member.award_points`.
#[derive(serde::Deserialize)]
struct Awarded {
    awarded: bool,
}

/// Asks membership to award the completion points (idempotent by a key per challenge and
/// follower); the outcome as recorded on the participant.
fn award(ch: &Challenge, openid: &str) -> String {
    if ch.reward_points <= 0 {
        return "none".into();
    }
    let question = json!({
        "openid": openid,
        "points": ch.reward_points,
        "reason": format!("完成打卡挑战 / completed challenge: {}", ch.title),
        "key": format!("interactive:challenge:{}:{openid}", ch.id),
    });
    match plugins::query_json::<_, Awarded>("membership", "member.award_points", &question) {
        Ok(a) if a.awarded => "awarded".into(),
        Ok(_) => "already-awarded".into(),
        // Not installed (or not answering that question): completion stands without points.
        Err(Error::NotFound(_)) => "no-membership".into(),
        // No `query:membership` grant, or membership refuses this caller: retrying cannot help.
        Err(Error::PermissionDenied(m)) => format!("not-permitted: {m}"),
        Err(e) => format!("failed: {}", e.message()),
    }
}

/// Settles a completed participant's reward if it is not settled yet (or failed before).
fn settle_reward(ch: &Challenge, p: Participant) -> Result<Participant> {
    let due =
        p.completed_at.is_some() && p.reward.as_deref().is_none_or(|r| r.starts_with("failed"));
    if !due {
        return Ok(p);
    }
    let outcome = award(ch, &p.openid);
    emit(
        "interactive.challenge.completed",
        &p.openid,
        &[("challenge", &ch.id), ("reward", &outcome)],
    );
    let key = format!("checkins/{}/{}", ch.id, p.openid);
    update_existing(&key, "participant", |mut current: Participant| {
        current.reward = Some(outcome.clone());
        Ok(current)
    })
}

/// Checks `openid` in on `ch` at `at_ms` (its local day counts); settles the reward on completion.
fn check_in(env: &Env, ch: &Challenge, openid: &str, at_ms: u64) -> Result<Participant> {
    let today = local_date(at_ms, env.tz);
    let key = format!("checkins/{}/{openid}", ch.id);
    let p = storage::update_json(&key, |current: Option<Participant>| {
        ch.check_in(current, openid, today, at_ms).map(Some)
    })?
    .ok_or_else(|| Error::internal("the check-in vanished while being recorded"))?;
    let day = ch.day_of_window(today).unwrap_or(0).to_string();
    let checked = p.days.len().to_string();
    emit(
        "interactive.challenge.checkin",
        openid,
        &[
            ("challenge", &ch.id),
            ("day", &day),
            ("checked_in", &checked),
        ],
    );
    settle_reward(ch, p)
}

fn checkin_route(env: &Env, r: &Request<'_>) -> Result<HttpResponse> {
    let openid = r.follower()?.clone();
    let json = wants_json(r);
    let ch = match load_challenge(r.param("id")) {
        Ok(c) => c,
        Err(e) if !json => return Ok(error_page(&e)),
        Err(e) => return Err(e),
    };
    let now = now_ms();
    match (json, check_in(env, &ch, &openid, now)) {
        (true, Ok(p)) => {
            let progress = ch.progress(Some(&p), local_date(now, env.tz));
            Ok(HttpResponse::json(
                200,
                &json!({"progress": progress, "reward": p.reward}),
            ))
        }
        (true, Err(e)) => Err(e),
        (false, Ok(p)) => {
            let day = ch.day_of_window(local_date(now, env.tz)).unwrap_or(0);
            let notice = Notice::Ok(format!(
                "打卡成功！第 {day} 天 / Checked in: day {day} ({}/{})",
                p.days.len(),
                ch.days
            ));
            challenge_page(env, &ch, Some(&openid), Some(notice), 200)
        }
        (false, Err(e)) => {
            let status = error_response(&e).status;
            challenge_page(
                env,
                &ch,
                Some(&openid),
                Some(Notice::Error(e.message().to_string())),
                status,
            )
        }
    }
}

fn challenge_page(
    env: &Env,
    ch: &Challenge,
    openid: Option<&str>,
    notice: Option<Notice>,
    status: u16,
) -> Result<HttpResponse> {
    let now = now_ms();
    let today = local_date(now, env.tz);
    let mut participants = load_participants(&ch.id)?;
    let mine = match openid {
        Some(o) => match participants.iter().position(|p| p.openid == o) {
            // A reward that failed earlier (membership briefly unavailable) is retried here.
            Some(i) => {
                let settled = settle_reward(ch, participants[i].clone())?;
                participants[i] = settled.clone();
                Some(settled)
            }
            None => None,
        },
        None => None,
    };
    let progress = openid.map(|_| ch.progress(mine.as_ref(), today));
    let can_check_in = progress.as_ref().is_some_and(|p| {
        !ch.closed && ch.day_of_window(today).is_some() && !p.checked_in_today && !p.completed
    });
    let action = match openid {
        Some(o) if can_check_in => Some(env.signed(o, &format!("/challenges/{}", ch.id))?),
        _ => None,
    };
    let board = ch.leaderboard(&participants, today, env.config.leaderboard_size as usize);
    let notice = notice.or_else(|| {
        openid.is_none().then(|| {
            Notice::Ok(
                "在公众号消息中打开链接即可打卡 / open the link the account sent you to check in"
                    .into(),
            )
        })
    });
    let body = pages::challenge_body(
        ch,
        &ChallengeView {
            progress: progress.as_ref(),
            board: &board,
            action: action.as_deref(),
            notice: notice.as_ref(),
            reward: mine.as_ref().and_then(|p| p.reward.as_deref()),
        },
    );
    Ok(pages::respond(status, &ch.title, &body))
}

fn challenges_list_page(env: &Env, openid: &str) -> Result<HttpResponse> {
    let today = local_date(now_ms(), env.tz);
    let mut challenges = scan_values::<Challenge>("challenges/")?;
    challenges.retain(|c| !c.closed && c.end() >= today);
    challenges.sort_by_key(|c| c.start);
    let items = challenges
        .iter()
        .map(|c| {
            Ok(ListItem {
                title: c.title.clone(),
                url: env.signed(openid, &format!("/challenges/{}", c.id))?,
                status: format!("{} 天 / days · {} – {}", c.days, c.start, c.end()),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(pages::respond(
        200,
        "打卡挑战 / Challenges",
        &pages::list_body("打卡挑战 / Challenges", &items, "暂无挑战 / no challenges"),
    ))
}

// ---------------------------------------------------------------------------------------------
// Favourites

fn load_favourites(openid: &str) -> Result<Vec<Favourite>> {
    let mut favs = scan_values::<Favourite>(&format!("favourites/{openid}/"))?;
    favs.sort_by_key(|f| std::cmp::Reverse(f.saved_at));
    Ok(favs)
}

/// Saves `fav` for `openid`; `false` if it was saved already (then nothing changes).
fn add_favourite(openid: &str, fav: &Favourite) -> Result<bool> {
    fav.check()?;
    let key = format!("favourites/{openid}/{}", fav.article);
    if storage::get(&key)?.is_none() {
        let count = storage::list_prefix(
            &format!("favourites/{openid}/"),
            None,
            favourites::MAX_PER_FOLLOWER as u32,
        )?;
        if count.items.len() >= favourites::MAX_PER_FOLLOWER {
            return Err(Error::quota_exceeded(
                format!(
                    "at most {} favourites; remove some first / 收藏已满",
                    favourites::MAX_PER_FOLLOWER
                ),
                None,
            ));
        }
    }
    let bytes = serde_json::to_vec(fav)
        .map_err(|e| Error::internal(format!("cannot encode the favourite: {e}")))?;
    match storage::batch(&[Check::absent(key.clone())], &[Write::set(key, bytes)])? {
        BatchOutcome::Applied => {
            emit(
                "interactive.favourite.added",
                openid,
                &[("article", &fav.article), ("title", &fav.title)],
            );
            Ok(true)
        }
        BatchOutcome::CheckFailed(_) => Ok(false),
    }
}

fn remove_favourite(openid: &str, article: &str) -> Result<bool> {
    check_id("article", article)?;
    storage::delete(&format!("favourites/{openid}/{article}"))
}

fn add_favourite_route(env: &Env, r: &Request<'_>) -> Result<HttpResponse> {
    let openid = r.follower()?.clone();
    let now = now_ms();
    if wants_json(r) {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            article: String,
            title: String,
            url: String,
        }
        let b: Body = r.json()?;
        let fav = Favourite {
            article: b.article,
            title: b.title.trim().to_string(),
            url: b.url.trim().to_string(),
            saved_at: now,
        };
        let added = add_favourite(&openid, &fav)?;
        return Ok(HttpResponse::json(
            if added { 201 } else { 200 },
            &json!({"added": added, "favourite": fav}),
        ));
    }
    let fav = Favourite::from_pairs(&r.form(), now);
    match add_favourite(&openid, &fav) {
        Ok(added) => {
            let notice = if added {
                Notice::Ok(format!("已收藏 / Saved: {}", fav.title))
            } else {
                Notice::Ok(format!("已在收藏中 / Already saved: {}", fav.title))
            };
            favourites_page(env, &openid, Some(notice), 200)
        }
        Err(e) => {
            let status = error_response(&e).status;
            favourites_page(
                env,
                &openid,
                Some(Notice::Error(e.message().to_string())),
                status,
            )
        }
    }
}

fn favourites_page(
    env: &Env,
    openid: &str,
    notice: Option<Notice>,
    status: u16,
) -> Result<HttpResponse> {
    let items = load_favourites(openid)?
        .into_iter()
        .map(|f| {
            let remove = env.signed(openid, &format!("/favourites/{}/delete", f.article))?;
            Ok((f, remove))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(pages::respond(
        status,
        "我的收藏 / My favourites",
        &pages::favourites_body(&items, notice.as_ref()),
    ))
}

// ---------------------------------------------------------------------------------------------
// Short codes and queries

/// The snippet and page URL of one component; `url` is a signed link when `openid` is given.
pub fn render_component(
    env: &Env,
    kind: &str,
    id: &str,
    openid: Option<&str>,
) -> Result<(String, String)> {
    check_id("id", id)?;
    let path = match kind {
        "vote" => format!("/votes/{id}"),
        "survey" => format!("/surveys/{id}"),
        "challenge" => format!("/challenges/{id}"),
        other => {
            return Err(Error::invalid(format!(
                "kind {other:?} is not one of {}",
                shortcode::KINDS.join(", ")
            )));
        }
    };
    // Not-found before a link is minted for it.
    let snippet = |url: &str| -> Result<String> {
        Ok(match kind {
            "vote" => {
                let vote = load_vote(id)?;
                let (counts, voters) = tallies(&vote)?;
                pages::vote_snippet(&vote, &counts, voters, vote.status(now_ms()), url)
            }
            "survey" => {
                let survey = load_survey(id)?;
                pages::survey_snippet(&survey, counter(&format!("answered/{id}"))?, url)
            }
            _ => {
                let ch = load_challenge(id)?;
                let n = storage::scan_prefix(&format!("checkins/{id}/")).count();
                pages::challenge_snippet(&ch, n, url)
            }
        })
    };
    let exists = match kind {
        "vote" => storage::get(&format!("votes/{id}"))?,
        "survey" => storage::get(&format!("surveys/{id}"))?,
        _ => storage::get(&format!("challenges/{id}"))?,
    }
    .is_some();
    if !exists {
        return Err(Error::not_found(format!("no {kind} {id:?}")));
    }
    let url = match openid {
        Some(o) => env.signed(o, &path)?,
        None => public_url(&path)?,
    };
    Ok((snippet(&url)?, url))
}

/// Article text with its short codes replaced by snippets (unknown ids by a visible note).
pub fn render_text(env: &Env, text: &str, openid: Option<&str>) -> Result<String> {
    let mut html = String::new();
    for piece in shortcode::parse(text) {
        match piece {
            Piece::Text(t) => html.push_str(&pages::text_html(t)),
            Piece::Code { kind, id } => match render_component(env, kind, id, openid) {
                Ok((snippet, _)) => html.push_str(&snippet),
                Err(Error::NotFound(_)) => html.push_str(&format!(
                    "<span class=\"muted\">[{} {}: 未找到 / not found]</span>",
                    plaza_sdk::html::escape(kind),
                    plaza_sdk::html::escape(id)
                )),
                Err(e) => return Err(e),
            },
        }
    }
    Ok(html)
}

/// `on-query`: `component.render` (contract with the editor) and `favourite.link`.
pub fn on_query(ctx: &CallContext, name: &str, payload: &[u8]) -> Result<Vec<u8>> {
    let env = Env::new(ctx)?;
    let parse = |what: &str| -> Result<Value> {
        serde_json::from_slice(payload)
            .map_err(|e| Error::invalid(format!("{what} wants a JSON object: {e}")))
    };
    match name {
        "component.render" => {
            let q = parse(name)?;
            let kind = q["kind"].as_str().unwrap_or_default();
            let id = q["id"].as_str().unwrap_or_default();
            let openid = q["openid"].as_str();
            let (html, url) = render_component(&env, kind, id, openid)?;
            plugins::answer_json(&json!({"html": html, "url": url}))
        }
        "favourite.link" => {
            let q = parse(name)?;
            let openid = q["openid"]
                .as_str()
                .ok_or_else(|| Error::invalid("favourite.link needs \"openid\""))?;
            let fav = Favourite {
                article: q["article"].as_str().unwrap_or_default().to_string(),
                title: q["title"].as_str().unwrap_or_default().to_string(),
                url: q["url"].as_str().unwrap_or_default().to_string(),
                saved_at: 0,
            };
            fav.check()?;
            let query: String = form_query(&[
                ("article", &fav.article),
                ("title", &fav.title),
                ("url", &fav.url),
            ]);
            let url = env.signed(openid, &format!("/favourites/add?{query}"))?;
            plugins::answer_json(&json!({"url": url}))
        }
        other => Err(Error::not_found(format!(
            "interactive answers component.render and favourite.link, not {other:?}"
        ))),
    }
}

/// `name=value&…`, percent-encoded.
fn form_query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Messages

/// A keyword's reply: an article link (signed for the sender) to the section or one component;
/// the challenge keyword checks the follower in when it names (or there is only) one running
/// challenge.
pub fn on_message(ctx: &CallContext, msg: &InboundMessage) -> Result<Option<Content>> {
    let Some(text) = msg.text() else {
        return Ok(None);
    };
    let env = Env::new(ctx)?;
    let Some((section, arg)) = env.config.keywords.match_text(text) else {
        return Ok(None);
    };
    let openid = msg.from.as_str();
    let link = |title: String, description: String, path: &str| -> Result<Option<Content>> {
        Ok(Some(Content::ArticleLink(plaza_sdk::Link {
            title,
            description,
            url: env.signed(openid, path)?,
        })))
    };
    let named = arg.filter(|a| check_id("id", a).is_ok());
    match section {
        Section::Votes => match named.map(load_vote).and_then(Result::ok) {
            Some(v) => link(
                v.title.clone(),
                "投票 / Vote".into(),
                &format!("/votes/{}", v.id),
            ),
            None => link(
                "投票 / Votes".into(),
                "参与投票 / take part".into(),
                section.path(),
            ),
        },
        Section::Surveys => match named.map(load_survey).and_then(Result::ok) {
            Some(s) => link(
                s.title.clone(),
                "填写问卷 / Answer".into(),
                &format!("/surveys/{}", s.id),
            ),
            None => link(
                "问卷 / Questionnaires".into(),
                "填写问卷 / answer".into(),
                section.path(),
            ),
        },
        Section::Favourites => link(
            "我的收藏 / My favourites".into(),
            "收藏的文章 / saved articles".into(),
            section.path(),
        ),
        Section::Challenges => {
            let today = local_date(msg.at, env.tz);
            let target = match named {
                Some(id) => load_challenge(id).ok(),
                None => {
                    let mut running = scan_values::<Challenge>("challenges/")?;
                    running.retain(|c| !c.closed && c.day_of_window(today).is_some());
                    if running.len() == 1 {
                        running.pop()
                    } else {
                        None
                    }
                }
            };
            let Some(ch) = target else {
                return link(
                    "打卡挑战 / Check-in challenges".into(),
                    "选择挑战 / choose a challenge".into(),
                    section.path(),
                );
            };
            let title = match check_in(&env, &ch, openid, msg.at) {
                Ok(p) => {
                    let pr = ch.progress(Some(&p), today);
                    format!(
                        "✅ 打卡成功 第{}天 · {}/{} · 连续{}天 / Checked in",
                        ch.day_of_window(today).unwrap_or(0),
                        pr.checked_in,
                        ch.days,
                        pr.current_streak
                    )
                }
                Err(e) => e.message().to_string(),
            };
            link(title, ch.title.clone(), &format!("/challenges/{}", ch.id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stripped_from_urls() {
        assert_eq!(
            strip_token("https://h/p/a/i/votes/v1?plaza_token=abc"),
            "https://h/p/a/i/votes/v1"
        );
        assert_eq!(
            strip_token("https://h/x?a=1&plaza_token=abc#top"),
            "https://h/x?a=1#top"
        );
        assert_eq!(
            strip_token("https://h/x?plaza_token=abc&a=1"),
            "https://h/x?a=1"
        );
        assert_eq!(strip_token("https://h/x"), "https://h/x");
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            form_query(&[("title", "a b&c"), ("url", "https://e.com/?x=1")]),
            "title=a%20b%26c&url=https%3A%2F%2Fe.com%2F%3Fx%3D1"
        );
    }
}
