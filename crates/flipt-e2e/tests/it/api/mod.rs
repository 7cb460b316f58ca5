//! What clients see from the evaluation service.

mod grpc;
mod limits;
mod ofrep;
mod reload;
mod rest;
mod security;
mod smoke;
