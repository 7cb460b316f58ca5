//! Tests of the telemetry reporter through its seams (transport, clock,
//! retry policy) and through `run`: a local Segment-compatible sink over
//! real sockets, paused-time schedules with a recording transport,
//! opt-outs, the state file, failures and retries, `print`.

mod failures;
mod optout;
mod print;
mod schedule;
mod state;
mod support;
mod wire;
