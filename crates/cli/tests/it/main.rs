//! The one integration-test binary (one link step for all tests).

mod harness;

mod browser;
mod check;
mod ci_github;
mod cli;
mod clients;
mod deploy;
mod engines;
mod http_errors;
mod lambda;
mod lifecycle;
mod migrations;
mod mysfits;
mod openapi;
mod pets;
mod restart;
mod site;
mod synth;
mod todo;
mod topics;
mod users;
