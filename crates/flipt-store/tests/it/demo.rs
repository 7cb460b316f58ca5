//! The demo flag set in deploy/flags.
