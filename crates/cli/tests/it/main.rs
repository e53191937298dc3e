//! The one integration-test binary (one link step for all tests).

mod cloud_harness;
mod harness;

mod adoptions;
mod browser;
mod check;
mod ci_github;
mod cli;
mod clients;
mod deploy;
mod engines;
mod grants;
mod graph;
mod http_errors;
mod iam;
mod injection;
mod lambda;
mod layout;
mod lifecycle;
mod limits;
mod migrations;
mod mysfits;
mod openapi;
mod pets;
mod replicas;
mod restart;
mod schemathesis;
mod security;
mod services;
mod services_aws;
mod services_package;
mod site;
mod synth;
mod todo;
mod topics;
mod users;
