//! What clients see from the evaluation service.

mod evaluate;
mod limits;
mod ofrep;
mod security;
mod smoke;
