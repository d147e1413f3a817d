//! The registry: the one list of the APIs the mock serves. Each API is a folder here
//! (`apis/<module>/`) plus its spec folder (`specs/<api-id>/`) and one line in [`REGISTERED`].
//! Nothing outside this file and those folders names an API.

pub mod ces;
pub mod mws;
pub mod vcloud;
pub mod vsphere;

use std::sync::Arc;

use crate::api::{Api, Registration};
use crate::config::MockConfig;
use crate::spec::{self, LoadedSpec, SpecError};
use crate::store::Budget;

/// Every API, by the registration its folder exports.
pub static REGISTERED: &[Registration] = &[
    mws::REGISTRATION,
    ces::REGISTRATION,
    vsphere::REGISTRATION,
    vcloud::REGISTRATION,
];

/// The registration of an API id.
pub fn find(id: &str) -> Option<&'static Registration> {
    REGISTERED.iter().find(|r| r.id == id)
}

/// Ids of every registered API, in registry order.
pub fn ids() -> Vec<&'static str> {
    REGISTERED.iter().map(|r| r.id).collect()
}

/// The loaded spec of a registered API, compiled with the API's own `format` checkers.
pub fn spec(id: &str) -> Result<Arc<LoadedSpec>, SpecError> {
    let registration = find(id).ok_or_else(|| SpecError::UnknownApi(id.to_owned()))?;
    spec::load(id, registration.formats)
}

/// Build every API the configuration serves, their stores drawing on one `budget`.
///
/// The first mock of a process reads the specs too (most of a cold start): then each API is
/// loaded and built on a thread of its own, so the cores share the work. Later mocks find the
/// specs loaded and build in place (a thread would cost more than it saves).
pub fn build(config: &MockConfig, budget: &Arc<Budget>) -> Result<Vec<Arc<dyn Api>>, SpecError> {
    for wanted in &config.apis {
        if find(wanted).is_none() {
            return Err(SpecError::UnknownApi(wanted.clone()));
        }
    }
    let wanted: Vec<&Registration> = REGISTERED.iter().filter(|r| config.serves(r.id)).collect();
    let build_one = |r: &Registration| (r.build)(spec(r.id)?, config, budget);
    if wanted.iter().all(|r| spec::is_loaded(r.id)) {
        return wanted.into_iter().map(build_one).collect();
    }
    std::thread::scope(|scope| {
        let (first, rest) = wanted.split_first().expect("not every spec is loaded");
        let others: Vec<_> = rest
            .iter()
            .map(|r| scope.spawn(move || build_one(r)))
            .collect();
        let mut built = vec![build_one(first)];
        built.extend(others.into_iter().map(|h| match h.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }));
        built.into_iter().collect()
    })
}

/// Every registered API's command-line flags, as one clap `Args` block for the server.
#[derive(Debug, Clone, Default)]
pub struct RegisteredFlags {
    matches: Option<clap::ArgMatches>,
}

impl RegisteredFlags {
    /// Write every API's flags into the configuration.
    pub fn apply(&self, config: &mut MockConfig) -> Result<(), String> {
        let Some(matches) = &self.matches else {
            return Ok(());
        };
        REGISTERED
            .iter()
            .try_for_each(|r| (r.flags.apply)(matches, config))
    }
}

impl clap::FromArgMatches for RegisteredFlags {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self {
            matches: Some(matches.clone()),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.matches = Some(matches.clone());
        Ok(())
    }
}

impl clap::Args for RegisteredFlags {
    fn augment_args(command: clap::Command) -> clap::Command {
        REGISTERED.iter().fold(command, |c, r| (r.flags.augment)(c))
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}
