//! tenauth's API tests: one binary (one link step) that starts the real server on port 0
//! against a fresh database per test. Tests that touch storage run on SQLite and, when
//! `TEST_POSTGRES_URL` is set, on PostgreSQL too (see `helpers::both_backends!`).

#[macro_use]
mod helpers;

mod admin_clients;
mod admin_tenants;
mod admin_users;
mod architecture;
mod authorization_code;
mod browser;
mod cache;
mod cli;
mod cors;
mod crash;
mod event_push;
mod event_reliability;
mod events;
mod health;
mod hostile;
mod input;
mod introspection;
mod keys;
mod lifecycle;
mod limits;
mod migrations;
mod observability;
mod openapi;
mod outage;
mod personal_tokens;
mod purge;
mod refresh;
mod reliability;
mod resource_server;
mod revocation;
mod revocation_agreement;
mod secrets_at_rest;
mod standing;
mod storage;
mod timing;
mod token;
mod token_exchange;
mod well_known;
