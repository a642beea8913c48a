//! `make dev`'s local stand-ins for what AWS runs around the functions. The binaries are
//! `pocketbook-front` (the HTTP API in front of `cargo lambda watch`, src/main.rs) and
//! `pocketbook-local-events` (Lambda's event source mappings for the table's stream and the
//! webhook delivery queue, src/bin/local_events.rs, over [`events`]); the tests drive
//! [`events`] directly.

pub mod events;
